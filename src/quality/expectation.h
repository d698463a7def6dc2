// SourceExpectations: a source's data-quality expectations (SourceSpec::expectations, from
// freshet.yaml) compiled once — regular expressions built, `in` sets ready — and checked over
// batches of validated Records. The checker only reports; what happens to a batch is the
// caller's: a kReject violation fails the whole batch (nothing stored), a kQuarantine one moves
// its record to the quarantine dead letter, a kWarn one is only counted. The ingest path
// (instance), the backfill (offline) and file sources all check through this one type.
//
// Per record: not_null, between (inclusive), in, matches (RE2, the whole string), max_length
// (bytes). A null value passes all of these but not_null. Per batch: null_fraction_max, the
// largest fraction of the batch's records whose field is null (an empty batch passes).
//
// Thread-safety: immutable after construction; Check may run concurrently (RE2 is thread-safe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "format/record.h"
#include "spec/project_spec.h"

namespace freshet {

// The kinds of expectation, named as in freshet.yaml, the metrics and the reports.
enum class ExpectationKind : uint8_t {
  kNotNull = 1,
  kBetween = 2,
  kIn = 3,
  kMatches = 4,
  kMaxLength = 5,
  kNullFractionMax = 6,
};

std::string_view ExpectationKindName(ExpectationKind kind);
// Parses a name ExpectationKindName gives.
bool ParseExpectationKind(std::string_view name, ExpectationKind* out);

// One failed expectation.
struct Violation {
  // `record` of a per-batch expectation (null_fraction_max).
  static constexpr size_t kBatch = SIZE_MAX;

  size_t record = kBatch;  // 0-based index of the record in the checked batch, or kBatch
  std::string field;
  ExpectationKind kind = ExpectationKind::kNotNull;
  ExpectationPolicy policy = ExpectationPolicy::kReject;
  // The expectation and what failed it: `between [0, 86400]: got -5`,
  // `matches '^u[0-9]+$': got "bob"`, `null_fraction_max 0.2: 3 of 10 records are null`.
  std::string message;

  // "field 'user_id': expectation matches '^u[0-9]+$': got \"bob\"".
  std::string ToString() const;
};

// What one Check found.
struct CheckResult {
  // Every violation: per-record ones in record order, then per-batch ones.
  std::vector<Violation> violations;
  // Sorted, distinct indexes of the records with a kQuarantine violation.
  std::vector<size_t> quarantined;
  size_t warned = 0;  // kWarn violations

  // The first kReject violation, or null when the batch may be accepted.
  const Violation* FirstReject() const;
  void Clear();
};

class SourceExpectations {
 public:
  // Compiles `source.expectations`. REQUIRES: `source` came from the spec loader, which checked
  // every field, type and regular expression. `source` must outlive this object.
  explicit SourceExpectations(const SourceSpec& source);
  ~SourceExpectations();
  SourceExpectations(SourceExpectations&&) noexcept;
  SourceExpectations& operator=(SourceExpectations&&) noexcept;

  const SourceSpec& source() const { return *source_; }
  // True when the source declares no expectation (then Check finds nothing).
  bool empty() const { return fields_.empty(); }

  // Checks `records` (of this source's schema) into `*out`, replacing what it held.
  void Check(const std::vector<Record>& records, CheckResult* out) const;

 private:
  struct Compiled;

  const SourceSpec* source_;
  std::vector<Compiled> fields_;
};

}  // namespace freshet
