#include "triggers/trigger_probe.h"

namespace freshet {

TriggerProbe::TriggerProbe(MetricsRegistry* registry)
    : triggered_(registry->GetCounter("freshet_triggered_jobs_total",
                                      "Prediction jobs enqueued by triggers", {"deployment"})),
      coalesced_(registry->GetCounter("freshet_triggered_coalesced_total",
                                      "Triggering events folded into a pending prediction job",
                                      {"deployment"})),
      enqueue_failures_(registry->GetCounter("freshet_trigger_enqueue_failures_total",
                                             "Triggered batches whose jobs could not be enqueued",
                                             {"deployment"})),
      predicted_(registry->GetCounter("freshet_triggered_predictions_total",
                                      "Triggered predictions made and stored", {"deployment"})),
      predict_failures_(registry->GetCounter("freshet_triggered_prediction_failures_total",
                                             "Batches of prediction jobs that failed (retried)",
                                             {"deployment"})),
      latency_(registry->GetHistogram(
          "freshet_trigger_to_prediction_seconds",
          "From a triggering event's ingest acknowledgement to its prediction being stored",
          {"deployment"})),
      delivered_(registry->GetCounter("freshet_predictions_delivered_total",
                                      "Predictions delivered to an output",
                                      {"deployment", "output"})),
      delivery_failures_(registry->GetCounter("freshet_prediction_delivery_failures_total",
                                              "Failed delivery batches (retried from the queue)",
                                              {"deployment", "output"})) {}

void TriggerProbe::Triggered(const std::string& deployment, uint64_t added, uint64_t coalesced) {
  if (added > 0) triggered_->WithLabels({deployment})->Increment(static_cast<double>(added));
  if (coalesced > 0)
    coalesced_->WithLabels({deployment})->Increment(static_cast<double>(coalesced));
}

void TriggerProbe::EnqueueFailed(const std::string& deployment) {
  enqueue_failures_->WithLabels({deployment})->Increment();
}

void TriggerProbe::Predicted(const std::string& deployment, uint64_t n) {
  predicted_->WithLabels({deployment})->Increment(static_cast<double>(n));
}

void TriggerProbe::PredictFailed(const std::string& deployment) {
  predict_failures_->WithLabels({deployment})->Increment();
}

void TriggerProbe::Latency(const std::string& deployment, double seconds) {
  latency_->WithLabels({deployment})->Observe(seconds);
}

void TriggerProbe::Delivered(const std::string& deployment, size_t output, uint64_t n) {
  delivered_->WithLabels({deployment, std::to_string(output)})->Increment(static_cast<double>(n));
}

void TriggerProbe::DeliveryFailed(const std::string& deployment, size_t output) {
  delivery_failures_->WithLabels({deployment, std::to_string(output)})->Increment();
}

}  // namespace freshet
