#include "quality/expectation.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <utility>

namespace freshet {
namespace {

constexpr std::array<std::pair<ExpectationKind, std::string_view>, 6> kKindNames = {{
    {ExpectationKind::kNotNull, "not_null"},
    {ExpectationKind::kBetween, "between"},
    {ExpectationKind::kIn, "in"},
    {ExpectationKind::kMatches, "matches"},
    {ExpectationKind::kMaxLength, "max_length"},
    {ExpectationKind::kNullFractionMax, "null_fraction_max"},
}};

std::string JoinValues(const std::vector<Value>& values) {
  std::vector<std::string> texts;
  for (const Value& v : values) texts.push_back(v.ToString());
  return fmt::format("{}", fmt::join(texts, ", "));
}

}  // namespace

std::string_view ExpectationKindName(ExpectationKind kind) {
  for (const auto& [k, name] : kKindNames) {
    if (k == kind) return name;
  }
  return "?";
}

bool ParseExpectationKind(std::string_view name, ExpectationKind* out) {
  for (const auto& [k, kind_name] : kKindNames) {
    if (kind_name == name) {
      *out = k;
      return true;
    }
  }
  return false;
}

std::string Violation::ToString() const {
  return fmt::format("field '{}': expectation {}", field, message);
}

const Violation* CheckResult::FirstReject() const {
  for (const Violation& v : violations) {
    if (v.policy == ExpectationPolicy::kReject) return &v;
  }
  return nullptr;
}

void CheckResult::Clear() {
  violations.clear();
  quarantined.clear();
  warned = 0;
}

// One field's expectations, ready to check.
struct SourceExpectations::Compiled {
  const FieldExpectationsSpec* spec = nullptr;
  size_t index = 0;            // of the field in Record::values
  std::unique_ptr<RE2> regex;  // when spec->matches is set

  // Appends the violations of one non-null or null value.
  void CheckValue(const Value& v, size_t record, std::vector<Violation>* out) const {
    auto fail = [&](ExpectationKind kind, std::string message) {
      out->push_back({record, spec->field, kind, spec->policy, std::move(message)});
    };
    if (v.is_null()) {
      if (spec->not_null) fail(ExpectationKind::kNotNull, "not_null: got null");
      return;
    }
    if (spec->between && v.is_number()) {
      double x = v.to_double();
      if (!(x >= spec->between->first && x <= spec->between->second)) {
        fail(ExpectationKind::kBetween,
             fmt::format("between [{}, {}]: got {}", spec->between->first, spec->between->second,
                         v.ToString()));
      }
    }
    if (!spec->in.empty() && std::find(spec->in.begin(), spec->in.end(), v) == spec->in.end()) {
      fail(ExpectationKind::kIn,
           fmt::format("in [{}]: got {}", JoinValues(spec->in), v.ToString()));
    }
    if (!v.is_string()) return;
    const std::string& s = v.as_string();
    if (regex && !RE2::FullMatch(s, *regex)) {
      fail(ExpectationKind::kMatches,
           fmt::format("matches '{}': got {}", *spec->matches, v.ToString()));
    }
    if (spec->max_length && static_cast<int64_t>(s.size()) > *spec->max_length) {
      fail(ExpectationKind::kMaxLength,
           fmt::format("max_length {}: got {} bytes", *spec->max_length, s.size()));
    }
  }

  bool HasRecordChecks() const {
    return spec->not_null || spec->between || !spec->in.empty() || spec->matches ||
           spec->max_length;
  }
};

SourceExpectations::SourceExpectations(const SourceSpec& source) : source_(&source) {
  for (const FieldExpectationsSpec& spec : source.expectations) {
    Compiled c;
    c.spec = &spec;
    c.index = static_cast<size_t>(source.FieldIndex(spec.field));
    if (spec.matches) {
      RE2::Options options;
      options.set_log_errors(false);
      c.regex = std::make_unique<RE2>(*spec.matches, options);
    }
    fields_.push_back(std::move(c));
  }
}

SourceExpectations::~SourceExpectations() = default;
SourceExpectations::SourceExpectations(SourceExpectations&&) noexcept = default;
SourceExpectations& SourceExpectations::operator=(SourceExpectations&&) noexcept = default;

void SourceExpectations::Check(const std::vector<Record>& records, CheckResult* out) const {
  out->Clear();
  if (fields_.empty()) return;
  for (size_t r = 0; r < records.size(); ++r) {
    for (const Compiled& c : fields_) {
      if (c.HasRecordChecks()) c.CheckValue(records[r].values[c.index], r, &out->violations);
    }
  }
  for (const Compiled& c : fields_) {
    if (!c.spec->null_fraction_max || records.empty()) continue;
    size_t nulls = 0;
    for (const Record& record : records) nulls += record.values[c.index].is_null() ? 1 : 0;
    if (static_cast<double>(nulls) > *c.spec->null_fraction_max * records.size()) {
      out->violations.push_back({Violation::kBatch, c.spec->field,
                                 ExpectationKind::kNullFractionMax, c.spec->policy,
                                 fmt::format("null_fraction_max {}: {} of {} records are null",
                                             *c.spec->null_fraction_max, nulls, records.size())});
    }
  }
  for (const Violation& v : out->violations) {
    if (v.policy == ExpectationPolicy::kWarn) ++out->warned;
    if (v.policy == ExpectationPolicy::kQuarantine && v.record != Violation::kBatch &&
        (out->quarantined.empty() || out->quarantined.back() != v.record)) {
      out->quarantined.push_back(v.record);
    }
  }
}

}  // namespace freshet
