#include "server/dispatcher.h"

#include <fmt/format.h>

#include <chrono>
#include <exception>

#include "server/json_error.h"
#include "server/url_codec.h"

namespace freshet {
namespace {

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

// Decodes the target into path and query.
Status SplitTarget(HttpRequest* request) {
  std::string_view target = request->target;
  size_t question = target.find('?');
  request->path = std::string(target.substr(0, question));
  if (question == std::string_view::npos) return Status::Ok();
  ASSIGN_OR_RETURN(request->query, ParseQuery(target.substr(question + 1)));
  return Status::Ok();
}

// Runs `call` (a route's handler over `responses`), turning whatever it throws into a 500 so
// one bad request cannot take the server down, and keeping each status within what HTTP can
// carry.
template <typename Call>
void Guarded(const Route& route, std::span<HttpResponse* const> responses, Call&& call) {
  std::string failure;
  try {
    call();
  } catch (const std::exception& e) {
    failure = fmt::format("{} {} failed: {}", route.method, route.pattern, e.what());
  } catch (...) {
    failure = fmt::format("{} {} failed with an unknown exception", route.method, route.pattern);
  }
  for (HttpResponse* response : responses) {
    std::string why = failure;
    if (why.empty() && (response->status < 100 || response->status > 599)) {
      why = fmt::format("{} {} set HTTP status {}", route.method, route.pattern, response->status);
    }
    if (why.empty()) continue;
    *response = HttpResponse();
    SetError(response, Status::Internal(std::move(why)));
  }
}

void Record(const Dispatcher::Routed& routed, int status) {
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - routed.start;
  routed.endpoint->Record(status, elapsed.count());
}

}  // namespace

Dispatcher::Dispatcher(const Router* router, HttpProbe* probe) : router_(router), probe_(probe) {
  for (const auto& route : router_->routes()) {
    endpoints_.push_back(probe_->ForEndpoint(route->pattern, route->method));
  }
}

Dispatcher::Routed Dispatcher::Prepare(HttpRequest* request) {
  Routed routed;
  routed.start = std::chrono::steady_clock::now();
  routed.endpoint = Match(request, &routed);
  return routed;
}

HttpResponse Dispatcher::Run(Routed routed, const HttpRequest& request) {
  if (routed.route != nullptr) {
    const Route& route = *routed.route;
    HttpResponse* response = &routed.response;
    Guarded(route, std::span(&response, 1), [&] {
      if (route.runs != Runs::kBatchedOnIoThread) return route.handler(request, response);
      const Exchange exchange{&request, response};
      route.batch_handler(std::span(&exchange, 1));
    });
  }
  Record(routed, routed.response.status);
  return std::move(routed.response);
}

std::vector<HttpResponse> Dispatcher::RunBatch(std::span<Held* const> batch) {
  std::vector<HttpResponse> responses(batch.size());
  if (batch.empty()) return responses;
  std::vector<Exchange> exchanges;
  std::vector<HttpResponse*> outs;
  for (size_t i = 0; i < batch.size(); ++i) {
    exchanges.push_back({&batch[i]->request, &responses[i]});
    outs.push_back(&responses[i]);
  }
  const Route& route = *batch.front()->routed.route;
  Guarded(route, outs, [&] { route.batch_handler(exchanges); });
  for (size_t i = 0; i < batch.size(); ++i) Record(batch[i]->routed, responses[i].status);
  return responses;
}

HttpProbe::Endpoint* Dispatcher::Match(HttpRequest* request, Routed* routed) {
  HttpResponse* response = &routed->response;
  Status target_status = SplitTarget(request);
  Result<RouteMatch> match = target_status.ok() ? router_->Match(request->method, request->path)
                                                : Result<RouteMatch>(target_status);
  if (!match.ok()) {
    SetError(response, match.status());
    return Unmatched(request->method);
  }
  if (match->route == nullptr && match->other_methods.empty()) {
    SetError(response,
             Status::NotFound(fmt::format("no route for {} {}", request->method, request->path)));
    return Unmatched(request->method);
  }
  if (match->route == nullptr) {
    std::string allow = match->AllowHeader();
    SetError(response, 405,
             Status::InvalidArgument(fmt::format("{} is not allowed on {}; allowed: {}",
                                                 request->method, request->path, allow)));
    response->headers.emplace_back("Allow", std::move(allow));
    return probe_->ForEndpoint(match->other_methods.front()->pattern, MethodLabel(request->method));
  }
  request->path_params = std::move(match->path_params);
  routed->route = match->route;
  return endpoints_[match->route->id];
}

HttpResponse Dispatcher::Reject(std::string_view method, std::string_view target, int http_status,
                                const Status& status) {
  HttpResponse response;
  SetError(&response, http_status, status);
  EndpointFor(method, target)->Record(http_status, 0);
  return response;
}

HttpProbe::Endpoint* Dispatcher::EndpointFor(std::string_view method, std::string_view target) {
  Result<RouteMatch> match = router_->Match(method, PathOf(target));
  if (match.ok() && match->route != nullptr) return endpoints_[match->route->id];
  return Unmatched(method);
}

HttpProbe::Endpoint* Dispatcher::Unmatched(std::string_view method) {
  return probe_->ForEndpoint(HttpProbe::kUnmatchedRoute, MethodLabel(method));
}

}  // namespace freshet
