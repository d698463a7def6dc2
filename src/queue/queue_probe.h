// QueueProbe: the prediction queue's metrics, kept out of the queue's logic. Refreshed from
// JobQueue::Stats() when /metrics is scraped: per queue, gauges of its depth (ready + delayed),
// jobs in flight, dead jobs and the age of its oldest job; its running totals (retries,
// dead-lettered, coalesced) as counters, advanced by what they grew since the last refresh.
// Thread-safety: thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "queue/job_queue.h"

namespace freshet {

class QueueProbe {
 public:
  explicit QueueProbe(MetricsRegistry* registry);

  void Refresh(const std::vector<JobQueue::QueueStats>& stats);

 private:
  GaugeFamily* depth_;
  GaugeFamily* in_flight_;
  GaugeFamily* dead_;
  GaugeFamily* oldest_age_;
  CounterFamily* retries_;
  CounterFamily* dead_lettered_;
  CounterFamily* coalesced_;

  std::mutex mu_;
  std::map<std::string, JobQueue::QueueStats> seen_;  // by queue, as of the last Refresh
};

}  // namespace freshet
