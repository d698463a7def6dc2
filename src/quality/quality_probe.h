// QualityProbe: the metrics of expectation checks, kept out of the checking logic.
//   freshet_expectation_violations_total{source,field,expectation,policy}
//   freshet_quarantined_records_total{source}
// Thread-safety: thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "core/metrics.h"
#include "quality/quality_report.h"

namespace freshet {

class QualityProbe {
 public:
  explicit QualityProbe(MetricsRegistry* registry);

  // Counts the violations of one checked batch (`batch`: its counts) and the records of it
  // that went to quarantine.
  void Checked(const QualityReport& batch, const std::string& source, size_t quarantined);

 private:
  CounterFamily* violations_;
  CounterFamily* quarantined_;
  std::mutex mu_;
  std::map<ViolationKey, Counter*> children_;  // guarded by mu_: cached series
};

}  // namespace freshet
