// Router: maps (method, path) to a handler by route pattern.
//
// Patterns are '/'-separated segments; a segment is a literal ("events"), a parameter
// ("{source}", matching one non-empty segment) or, as the last segment only, a rest parameter
// ("{path...}", matching one or more segments, joined with '/'). When several patterns match a
// path, literal segments win over parameters, and parameters over rest parameters, segment by
// segment from the left. Parameter values are percent-decoded.
//
// A HEAD request with no HEAD route of its own is served by the GET route.
//
// Usage, typically in an api_*.cc file's registration function:
//   RETURN_IF_ERROR(router->Add("POST", "/v1/events/{source}", IngestHandler(instance)));
//
// Thread-safety: Add is not thread-safe and must not be called once a server serves this
// router; Match is safe from any number of threads.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "server/http_types.h"

namespace freshet {
namespace internal {
struct RouteNode;  // the pattern tree, defined in router.cc
}  // namespace internal

// Where a route's handler runs. kOnIoThread: on the connection's I/O thread, for handlers
// bound by CPU (reads, predictions). kOffIoThread: on the server's pool for handlers that wait
// (a durable write's fsync, a model load), so the other connections of that I/O thread are
// served meanwhile. kBatchedOnIoThread: on the I/O thread, in batches: the requests for the
// route that one I/O thread read in one turn of its event loop (those that were ready at once)
// go to its BatchHandler together, so the handler can share work between them (one model call
// for many predictions). Nothing waits for a batch to fill: a lone request is a batch of one.
enum class Runs { kOnIoThread, kOffIoThread, kBatchedOnIoThread };

struct Route {
  std::string method;          // upper case: "GET", "POST", ...
  std::string pattern;         // as given to Add; the "route" label of request metrics
  Handler handler;             // set unless runs is kBatchedOnIoThread
  BatchHandler batch_handler;  // set when runs is kBatchedOnIoThread
  Runs runs = Runs::kOnIoThread;
  size_t id = 0;                         // index in Router::routes()
  std::vector<std::string> param_names;  // in segment order
};

struct RouteMatch {
  // The route for this method and path, or null.
  const Route* route = nullptr;
  StringMap path_params;  // set when `route` is
  // When `route` is null: routes whose pattern matches the path under other methods. Empty
  // means no pattern matches (404); otherwise the method is not allowed (405).
  std::vector<const Route*> other_methods;

  // "GET, HEAD, POST": the methods of `other_methods` for an Allow header (HEAD when GET is).
  std::string AllowHeader() const;
};

class Router {
 public:
  Router();
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Registers `handler` for `method` (upper case) and `pattern`. kInvalidArgument for a bad
  // pattern (not starting with '/', empty or malformed segment, duplicate parameter name),
  // kAlreadyExists when the same method has a pattern with the same shape.
  Status Add(std::string_view method, std::string_view pattern, Handler handler,
             Runs runs = Runs::kOnIoThread);
  // Registers a route whose requests are handled in batches (Runs::kBatchedOnIoThread); errors
  // as above.
  Status AddBatched(std::string_view method, std::string_view pattern, BatchHandler handler);

  // Finds the route for `path` (the percent-encoded path of a request target).
  // kInvalidArgument when `path` does not start with '/' or has a bad percent escape.
  Result<RouteMatch> Match(std::string_view method, std::string_view path) const;

  // Every route, by id. Pointers stay valid for the router's lifetime.
  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

 private:
  // Adds `route` (its handler and runs set) under `method` and `pattern`.
  Status Insert(std::string_view method, std::string_view pattern, std::unique_ptr<Route> route);

  std::unique_ptr<internal::RouteNode> root_;
  std::vector<std::unique_ptr<Route>> routes_;
};

}  // namespace freshet
