// InstanceProbe: the metrics of the ingest path and the stream engine, kept out of the logic.
// Ingest counters are bumped per request; the engine's figures are refreshed from its stats
// when /metrics is scraped (its running totals as counters, advanced by what they grew since
// the last scrape). Thread-safety: thread-safe.
#pragma once

#include <map>
#include <mutex>
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
  // A live source's consumer lag in one partition, refreshed at each scrape.
  void SetLag(const std::string& source, int32_t partition, uint64_t records);

 private:
  CounterFamily* accepted_;
  CounterFamily* rejected_;
  Counter* applied_;
  Counter* late_;
  Counter* checkpoints_;
  Counter* checkpoint_seconds_;
  Gauge* entities_;
  Gauge* resident_bytes_;
  GaugeFamily* watermark_;
  CounterFamily* failures_;
  Gauge* degraded_;
  GaugeFamily* lag_;

  std::mutex refresh_mu_;
  EngineStats seen_;  // the totals as of the last Refresh; guarded by refresh_mu_
};

}  // namespace freshet
