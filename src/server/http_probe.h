// HttpProbe: the HTTP server's metrics, kept out of the serving code.
//
//   freshet_http_requests_total{route, method, code}            counter
//   freshet_http_request_duration_seconds{route, method, code}  histogram, routing + handler
//   freshet_http_open_connections                               gauge
//   freshet_http_refused_connections_total                      counter, past max_connections
//
// "route" is the route pattern ("/v1/predict/{deployment}"), never the raw path, so label
// cardinality stays bounded; requests no route serves use kUnmatchedRoute, and methods outside
// the common ones are "other".
//
// Ownership: the registry is not owned and must outlive the probe.
// Thread-safety: thread-safe. Endpoint::Record is lock-free once a status has been seen.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "core/metrics.h"
#include "server/http_types.h"

namespace freshet {

class HttpProbe {
 public:
  static constexpr std::string_view kUnmatchedRoute = "unmatched";

  // The series of one (route, method), with one slot per HTTP status.
  class Endpoint {
   public:
    Endpoint(HttpProbe* probe, std::string route, std::string method);
    // REQUIRES: 100 <= status <= 599.
    void Record(int status, double seconds);

   private:
    static constexpr int kMinStatus = 100;
    static constexpr int kStatusSlots = 500;

    HttpProbe* const probe_;
    const std::string route_;
    const std::string method_;
    // Filled on first use of a status; a race fills a slot twice with the same pointer.
    std::array<std::atomic<Counter*>, kStatusSlots> requests_{};
    std::array<std::atomic<Histogram*>, kStatusSlots> durations_{};
  };

  explicit HttpProbe(MetricsRegistry* registry);

  // The endpoint for this route and method, created on first use; the pointer stays valid for
  // the probe's lifetime. Locks: cache the result on hot paths.
  Endpoint* ForEndpoint(std::string_view route, std::string_view method);

  void ConnectionOpened() { open_connections_->Add(1); }
  void ConnectionClosed() { open_connections_->Add(-1); }
  void ConnectionRefused() { refused_connections_->Increment(); }

 private:
  CounterFamily* const requests_;
  HistogramFamily* const durations_;
  Gauge* const open_connections_;
  Counter* const refused_connections_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Endpoint>, std::less<>>
      endpoints_;  // guarded by mu_
};

// The method label for `method`: itself for the common methods, else "other" (clients choose
// the method, and labels must not grow without bound).
std::string_view MethodLabel(std::string_view method);

// A handler serving the registry in the Prometheus text format (for GET /metrics).
// The registry must outlive the handler.
Handler MetricsHandler(const MetricsRegistry* registry);

}  // namespace freshet
