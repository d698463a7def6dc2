#include "instance/instance_probe.h"

#include <algorithm>
#include <cstdint>

namespace freshet {

InstanceProbe::InstanceProbe(MetricsRegistry* r)
    : accepted_(r->GetCounter("freshet_events_ingested_total",
                              "Events acknowledged (durable in the event log)", {"source"})),
      rejected_(r->GetCounter("freshet_ingest_rejected_total",
                              "Ingest requests rejected for bad input or back-pressure",
                              {"source"})),
      applied_(r->GetCounter("freshet_engine_events_applied_total",
                             "Events applied to window state since start")
                   ->WithLabels({})),
      late_(r->GetCounter("freshet_engine_late_events_total",
                          "Events later than the allowed lateness, kept in the dead letter (all "
                          "time: the count is stored with the checkpoints)")
                ->WithLabels({})),
      checkpoints_(
          r->GetCounter("freshet_engine_checkpoints_total", "Checkpoints committed since start")
              ->WithLabels({})),
      checkpoint_seconds_(r->GetCounter("freshet_engine_checkpoint_seconds_total",
                                        "Time spent in committed checkpoints since start")
                              ->WithLabels({})),
      entities_(r->GetGauge("freshet_engine_entities", "Entity states resident in memory")
                    ->WithLabels({})),
      resident_bytes_(r->GetGauge("freshet_engine_resident_bytes",
                                  "Approximate memory of the resident entity states, as of the "
                                  "last checkpoint")
                          ->WithLabels({})),
      watermark_(r->GetGauge("freshet_engine_watermark_seconds",
                             "Event-time watermark per source, in seconds since the epoch",
                             {"source"})),
      failures_(r->GetCounter("freshet_ingest_failures_total",
                              "Failed writes of the ingest path by kind: commit (the event "
                              "log's group commit or applying it to the engine), checkpoint",
                              {"kind"})),
      degraded_(r->GetGauge("freshet_ingest_degraded",
                            "1 while ingest is stopped by a failed commit or checkpoint, else 0")
                    ->WithLabels({})),
      lag_(r->GetGauge("freshet_source_lag_records",
                       "Records of a live source's partition beyond its committed offset "
                       "(end offset - committed offset)",
                       {"source", "partition"})) {
  // Both kinds are exported from the start, so a rate() over them has a zero to begin from.
  failures_->WithLabels({"commit"});
  failures_->WithLabels({"checkpoint"});
}

void InstanceProbe::Accepted(const std::string& source, uint64_t records) {
  accepted_->WithLabels({source})->Increment(static_cast<double>(records));
}

void InstanceProbe::Rejected(const std::string& source) {
  rejected_->WithLabels({source})->Increment();
}

namespace {

template <typename T>
void Advance(Counter* counter, T* seen, T now) {
  if (now > *seen) counter->Increment(static_cast<double>(now - *seen));
  *seen = std::max(*seen, now);
}

}  // namespace

void InstanceProbe::Refresh(const EngineStats& stats) {
  std::lock_guard<std::mutex> lock(refresh_mu_);
  Advance(applied_, &seen_.events_applied, stats.events_applied);
  Advance(late_, &seen_.late_events, stats.late_events);
  Advance(checkpoints_, &seen_.checkpoints, stats.checkpoints);
  Advance(checkpoint_seconds_, &seen_.checkpoint_seconds, stats.checkpoint_seconds);
  entities_->Set(static_cast<double>(stats.entities));
  resident_bytes_->Set(static_cast<double>(stats.resident_bytes));
  for (const auto& [source, wm] : stats.watermark_ms) {
    if (wm == INT64_MIN) continue;  // no event yet
    watermark_->WithLabels({source})->Set(static_cast<double>(wm) / 1000.0);
  }
}

void InstanceProbe::Failed(std::string_view kind) {
  failures_->WithLabels({std::string(kind)})->Increment();
}

void InstanceProbe::SetDegraded(bool degraded) { degraded_->Set(degraded ? 1 : 0); }

void InstanceProbe::SetLag(const std::string& source, int32_t partition, uint64_t records) {
  lag_->WithLabels({source, std::to_string(partition)})->Set(static_cast<double>(records));
}

}  // namespace freshet
