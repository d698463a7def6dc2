#include "instance/instance_probe.h"

namespace freshet {

InstanceProbe::InstanceProbe(MetricsRegistry* r)
    : accepted_(r->GetCounter("freshet_events_ingested_total",
                              "Events acknowledged (durable in the event log)", {"source"})),
      rejected_(r->GetCounter("freshet_ingest_rejected_total",
                              "Ingest requests rejected for bad input or back-pressure",
                              {"source"})),
      applied_(
          r->GetGauge("freshet_engine_events_applied", "Events applied to window state since start")
              ->WithLabels({})),
      late_(r->GetGauge("freshet_engine_late_events",
                        "Events later than the allowed lateness, kept in the dead letter")
                ->WithLabels({})),
      checkpoints_(r->GetGauge("freshet_engine_checkpoints", "Checkpoints committed since start")
                       ->WithLabels({})),
      entities_(r->GetGauge("freshet_engine_entities", "Entity states resident in memory")
                    ->WithLabels({})),
      watermark_(r->GetGauge("freshet_engine_watermark_ms",
                             "Event-time watermark per source (epoch ms)", {"source"})) {}

void InstanceProbe::Accepted(const std::string& source, uint64_t records) {
  accepted_->WithLabels({source})->Increment(static_cast<double>(records));
}

void InstanceProbe::Rejected(const std::string& source) {
  rejected_->WithLabels({source})->Increment();
}

void InstanceProbe::Refresh(const EngineStats& stats) {
  applied_->Set(static_cast<double>(stats.events_applied));
  late_->Set(static_cast<double>(stats.late_events));
  checkpoints_->Set(static_cast<double>(stats.checkpoints));
  entities_->Set(static_cast<double>(stats.entities));
  for (const auto& [source, wm] : stats.watermark_ms) {
    watermark_->WithLabels({source})->Set(static_cast<double>(wm));
  }
}

}  // namespace freshet
