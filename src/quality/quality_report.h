// QualityReport: counts of expectation violations by source, field, expectation and policy —
// what `freshet quality report`, GET /v1/quality and a backfill's <out>.quality.json show.
// JSON form (docs/formats.md):
//   {"violations": [{"source": "app_events", "field": "user_id", "expectation": "matches",
//                    "policy": "reject", "count": 3}, ...],          (sorted by the first four)
//    "total": 3}
// plus whatever members the writer adds (a backfill adds "records" and "quarantined").
// Thread-safety: a value type.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>

#include "core/json.h"
#include "core/status.h"
#include "quality/expectation.h"

namespace freshet {

struct ViolationKey {
  std::string source;
  std::string field;
  ExpectationKind kind = ExpectationKind::kNotNull;
  ExpectationPolicy policy = ExpectationPolicy::kReject;

  bool operator<(const ViolationKey& o) const {
    return std::tie(source, field, kind, policy) < std::tie(o.source, o.field, o.kind, o.policy);
  }
  bool operator==(const ViolationKey& o) const {
    return std::tie(source, field, kind, policy) == std::tie(o.source, o.field, o.kind, o.policy);
  }
};

class QualityReport {
 public:
  void Add(const ViolationKey& key, uint64_t count);
  // Counts every violation of `result`, found in a batch of `source`.
  void Add(const std::string& source, const CheckResult& result);
  void Merge(const QualityReport& other);

  const std::map<ViolationKey, uint64_t>& counts() const { return counts_; }
  uint64_t total() const;
  uint64_t Count(const ViolationKey& key) const;

  // The members "violations" and "total", into an object the caller opened.
  void WriteJsonMembers(JsonWriter* w) const;
  std::string ToJson() const;
  // A table: SOURCE FIELD EXPECTATION POLICY COUNT, one line per key, or "no violations".
  std::string ToText() const;
  // Reads what ToJson wrote (other members are ignored); kInvalidArgument naming what is wrong.
  static Result<QualityReport> FromJson(std::string_view json);

 private:
  std::map<ViolationKey, uint64_t> counts_;
};

}  // namespace freshet
