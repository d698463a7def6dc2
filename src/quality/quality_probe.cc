#include "quality/quality_probe.h"

namespace freshet {

QualityProbe::QualityProbe(MetricsRegistry* registry)
    : violations_(registry->GetCounter("freshet_expectation_violations_total",
                                       "Data-quality expectation violations found in ingested or "
                                       "replayed records, by source, field, expectation and "
                                       "policy.",
                                       {"source", "field", "expectation", "policy"})),
      quarantined_(registry->GetCounter("freshet_quarantined_records_total",
                                        "Records kept in the quarantine dead letter instead of "
                                        "their source.",
                                        {"source"})) {}

void QualityProbe::Checked(const QualityReport& batch, const std::string& source,
                           size_t quarantined) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, count] : batch.counts()) {
    Counter*& child = children_[key];
    if (child == nullptr) {
      child = violations_->WithLabels({key.source, key.field,
                                       std::string(ExpectationKindName(key.kind)),
                                       std::string(ExpectationPolicyName(key.policy))});
    }
    child->Increment(static_cast<double>(count));
  }
  if (quarantined > 0) quarantined_->WithLabels({source})->Increment(quarantined);
}

}  // namespace freshet
