#include "queue/queue_probe.h"

namespace freshet {
namespace {

void Advance(CounterFamily* family, const std::string& queue, uint64_t seen, uint64_t now) {
  Counter* counter = family->WithLabels({queue});  // exported from the first refresh, at 0
  if (now > seen) counter->Increment(static_cast<double>(now - seen));
}

}  // namespace

QueueProbe::QueueProbe(MetricsRegistry* r)
    : depth_(r->GetGauge("freshet_queue_depth",
                         "Prediction jobs waiting per queue (ready + delayed), not in flight",
                         {"queue"})),
      in_flight_(r->GetGauge("freshet_queue_in_flight",
                             "Prediction jobs received and not yet acked per queue", {"queue"})),
      dead_(r->GetGauge("freshet_queue_dead", "Prediction jobs in the dead letter per queue",
                        {"queue"})),
      oldest_age_(r->GetGauge("freshet_queue_oldest_age_seconds",
                              "Age of the oldest job held per queue (0 when empty)", {"queue"})),
      retries_(r->GetCounter("freshet_queue_retries_total",
                             "Failed or timed-out attempts made visible again, per queue",
                             {"queue"})),
      dead_lettered_(r->GetCounter("freshet_queue_dead_lettered_total",
                                   "Jobs sent to the dead letter after max attempts, per queue",
                                   {"queue"})),
      coalesced_(r->GetCounter("freshet_queue_coalesced_total",
                               "Enqueues merged into a pending job by coalesce key, per queue",
                               {"queue"})) {}

void QueueProbe::Refresh(const std::vector<JobQueue::QueueStats>& stats) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const JobQueue::QueueStats& s : stats) {
    const std::vector<std::string> labels{s.queue};
    depth_->WithLabels(labels)->Set(static_cast<double>(s.ready + s.delayed));
    in_flight_->WithLabels(labels)->Set(static_cast<double>(s.in_flight));
    dead_->WithLabels(labels)->Set(static_cast<double>(s.dead));
    oldest_age_->WithLabels(labels)->Set(static_cast<double>(s.oldest_age_ms) / 1000.0);
    JobQueue::QueueStats& seen = seen_[s.queue];
    Advance(retries_, s.queue, seen.retries, s.retries);
    Advance(dead_lettered_, s.queue, seen.dead_lettered, s.dead_lettered);
    Advance(coalesced_, s.queue, seen.coalesced, s.coalesced);
    seen = s;
  }
}

}  // namespace freshet
