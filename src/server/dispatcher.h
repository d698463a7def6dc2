// Dispatcher: turns a request read off a connection into a response — target decoding,
// routing, the handler call, 404/405/500 errors — and records request metrics. It holds no
// Boost.Beast types, so all of that is tested without sockets. Internal to server/.
//
// Ownership: router and probe are not owned and must outlive the dispatcher.
// Thread-safety: Dispatch and Reject are safe from any number of threads.
#pragma once

#include <chrono>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "server/http_probe.h"
#include "server/http_types.h"
#include "server/router.h"

namespace freshet {

class Dispatcher {
 public:
  // REQUIRES: no route is added to `router` after this.
  Dispatcher(const Router* router, HttpProbe* probe);

  // A request routed by Prepare: its route, or the error response when it has none.
  struct Routed {
    const Route* route = nullptr;  // null: `response` is the answer
    HttpResponse response;
    HttpProbe::Endpoint* endpoint = nullptr;
    std::chrono::steady_clock::time_point start;
    bool RunsOffIoThread() const { return route != nullptr && route->runs == Runs::kOffIoThread; }
    bool RunsInBatches() const {
      return route != nullptr && route->runs == Runs::kBatchedOnIoThread;
    }
  };

  // A routed request waiting for its batch (Routed::RunsInBatches).
  struct Held {
    Routed routed;
    HttpRequest request;
  };

  // Fills the request's path, query and path_params from its target and finds its route: a
  // bad target is a 400, an unknown path a 404, a known path under another method a 405 with
  // Allow. Then Run, on whichever thread the route asks for (Routed::RunsOffIoThread).
  Routed Prepare(HttpRequest* request);
  // Runs the routed request's handler (an exception from it is a 500) and records the
  // request's metrics. Never throws. A batched route's handler gets a batch of one.
  HttpResponse Run(Routed routed, const HttpRequest& request);
  // Runs the batch handler of one batched route once over `batch` (requests Prepare routed to
  // that route), an exception from it failing every request with a 500, and records each
  // request's metrics. Returns the responses in batch order. Never throws.
  std::vector<HttpResponse> RunBatch(std::span<Held* const> batch);
  // Prepare, then Run on the calling thread.
  HttpResponse Dispatch(HttpRequest* request) { return Run(Prepare(request), *request); }

  // The error response for a request the connection could not read whole (too large,
  // malformed); counted under the route its method and target name when there is one.
  HttpResponse Reject(std::string_view method, std::string_view target, int http_status,
                      const Status& status);

 private:
  // Routes the request; sets routed->route, or routed->response with the error. Returns the
  // metrics endpoint to count it under.
  HttpProbe::Endpoint* Match(HttpRequest* request, Routed* routed);
  // The endpoint of the route `method` and `target` match, or of the unmatched route.
  HttpProbe::Endpoint* EndpointFor(std::string_view method, std::string_view target);
  HttpProbe::Endpoint* Unmatched(std::string_view method);

  const Router* const router_;
  HttpProbe* const probe_;
  std::vector<HttpProbe::Endpoint*> endpoints_;  // by route id; read-only after construction
};

}  // namespace freshet
