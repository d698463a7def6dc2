// InstanceProbe: the metrics of the ingest path and the stream engine, kept out of the logic.
// Ingest counters are bumped per request; engine gauges are refreshed from the engine's
// stats when /metrics is scraped. Thread-safety: thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/metrics.h"
#include "stream/engine.h"

namespace freshet {

class InstanceProbe {
 public:
  explicit InstanceProbe(MetricsRegistry* registry);

  void Accepted(const std::string& source, uint64_t records);
  void Rejected(const std::string& source);
  void Refresh(const EngineStats& stats);
  // A failed write of the ingest path, by kind ("commit", "checkpoint").
  void Failed(std::string_view kind);
  void SetDegraded(bool degraded);

 private:
  CounterFamily* accepted_;
  CounterFamily* rejected_;
  Gauge* applied_;
  Gauge* late_;
  Gauge* checkpoints_;
  Gauge* entities_;
  GaugeFamily* watermark_;
  CounterFamily* failures_;
  Gauge* degraded_;
};

}  // namespace freshet
