// TriggerProbe: the metrics of triggered predictions, kept out of the logic. Per deployment:
// jobs triggered (enqueued), coalesced into a pending job, predictions made and failed, and the
// time from the triggering event's ingest acknowledgement to its prediction being stored; per
// deployment and output: deliveries and delivery failures. Thread-safety: thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "core/metrics.h"

namespace freshet {

class TriggerProbe {
 public:
  explicit TriggerProbe(MetricsRegistry* registry);

  void Triggered(const std::string& deployment, uint64_t added, uint64_t coalesced);
  // A trigger whose jobs could not be enqueued (logged with the cause).
  void EnqueueFailed(const std::string& deployment);
  void Predicted(const std::string& deployment, uint64_t n);
  void PredictFailed(const std::string& deployment);
  void Latency(const std::string& deployment, double seconds);
  void Delivered(const std::string& deployment, size_t output, uint64_t n);
  void DeliveryFailed(const std::string& deployment, size_t output);

 private:
  CounterFamily* triggered_;
  CounterFamily* coalesced_;
  CounterFamily* enqueue_failures_;
  CounterFamily* predicted_;
  CounterFamily* predict_failures_;
  HistogramFamily* latency_;
  CounterFamily* delivered_;
  CounterFamily* delivery_failures_;
};

}  // namespace freshet
