#include "server/http_probe.h"

#include <array>

namespace freshet {

HttpProbe::Endpoint::Endpoint(HttpProbe* probe, std::string route, std::string method)
    : probe_(probe), route_(std::move(route)), method_(std::move(method)) {}

void HttpProbe::Endpoint::Record(int status, double seconds) {
  size_t slot = static_cast<size_t>(status - kMinStatus);
  Counter* requests = requests_[slot].load(std::memory_order_acquire);
  Histogram* duration = durations_[slot].load(std::memory_order_acquire);
  if (requests == nullptr || duration == nullptr) {
    std::string code = std::to_string(status);
    requests = probe_->requests_->WithLabels({route_, method_, code});
    duration = probe_->durations_->WithLabels({route_, method_, code});
    requests_[slot].store(requests, std::memory_order_release);
    durations_[slot].store(duration, std::memory_order_release);
  }
  requests->Increment();
  duration->Observe(seconds);
}

HttpProbe::HttpProbe(MetricsRegistry* registry)
    : requests_(registry->GetCounter("freshet_http_requests_total",
                                     "HTTP requests answered, by route pattern, method and status.",
                                     {"route", "method", "code"})),
      durations_(registry->GetHistogram(
          "freshet_http_request_duration_seconds",
          "Time from a request read to its response ready (routing and handler), in seconds.",
          {"route", "method", "code"})),
      open_connections_(
          registry->GetGauge("freshet_http_open_connections", "Client connections currently open.")
              ->WithLabels({})),
      refused_connections_(
          registry
              ->GetCounter("freshet_http_refused_connections_total",
                           "Connections answered 503 and closed because the server was serving "
                           "max_connections already.")
              ->WithLabels({})) {}

HttpProbe::Endpoint* HttpProbe::ForEndpoint(std::string_view route, std::string_view method) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<Endpoint>& endpoint =
      endpoints_[std::make_pair(std::string(route), std::string(method))];
  if (endpoint == nullptr) {
    endpoint = std::make_unique<Endpoint>(this, std::string(route), std::string(method));
  }
  return endpoint.get();
}

std::string_view MethodLabel(std::string_view method) {
  static constexpr std::array<std::string_view, 7> kCommon = {"GET",    "HEAD",  "POST",   "PUT",
                                                              "DELETE", "PATCH", "OPTIONS"};
  for (std::string_view common : kCommon) {
    if (method == common) return common;
  }
  return "other";
}

Handler MetricsHandler(const MetricsRegistry* registry) {
  return [registry](const HttpRequest&, HttpResponse* response) {
    response->content_type = "text/plain; version=0.0.4; charset=utf-8";
    response->body = registry->Render();
  };
}

}  // namespace freshet
