#include "spec/expectation_parser.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <charconv>
#include <cmath>

#include "core/parse_int.h"

namespace freshet {
namespace {

// Reads one field's expectations; each method fills part of the FieldExpectationsSpec.
class ExpectationParser {
 public:
  ExpectationParser(const YamlReader& reader, const YamlObject& obj, const FieldSpec& field,
                    FieldExpectationsSpec* out)
      : r_(reader), obj_(obj), field_(field), e_(out) {}

  Status Parse() {
    if (!obj_.Has("not_null") && !obj_.Has("between") && !obj_.Has("in") && !obj_.Has("matches") &&
        !obj_.Has("max_length") && !obj_.Has("null_fraction_max")) {
      return r_.Error(obj_.self(),
                      "no expectation (use not_null, between, in, matches, max_length, "
                      "null_fraction_max)");
    }
    RETURN_IF_ERROR(r_.ReadBool(obj_, "not_null", &e_->not_null));
    RETURN_IF_ERROR(ParseBetween());
    RETURN_IF_ERROR(ParseIn());
    RETURN_IF_ERROR(ParseMatches());
    RETURN_IF_ERROR(ParseMaxLength());
    RETURN_IF_ERROR(ParseNullFraction());
    return ParsePolicy();
  }

 private:
  bool IsNumeric() const {
    return field_.type == FieldType::kInt64 || field_.type == FieldType::kDouble;
  }

  // `key` applies to fields of the types `ok` says; else an error naming the field's type.
  Status RequireType(std::string_view key, bool ok, std::string_view types) const {
    if (ok) return Status::Ok();
    return r_.Error(obj_.Get(key), fmt::format("applies to {} fields; '{}' is {}", types,
                                               field_.name, FieldTypeName(field_.type)));
  }

  Result<double> Number(const YamlField& item) const {
    ASSIGN_OR_RETURN(std::string text, r_.String(item));
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
      return r_.Error(item, fmt::format("'{}' is not a number", text));
    }
    return value;
  }

  Status ParseBetween() {
    if (!obj_.Has("between")) return Status::Ok();
    RETURN_IF_ERROR(RequireType("between", IsNumeric(), "int64 or double"));
    YamlField field = obj_.Get("between");
    ASSIGN_OR_RETURN(std::vector<YamlField> items, r_.Sequence(field));
    if (items.size() != 2) return r_.Error(field, "expected [low, high]");
    ASSIGN_OR_RETURN(double low, Number(items[0]));
    ASSIGN_OR_RETURN(double high, Number(items[1]));
    if (low > high) return r_.Error(field, "low is above high");
    e_->between = {low, high};
    return Status::Ok();
  }

  // One value of `in`, of the field's type.
  Result<Value> TypedValue(const YamlField& item) const {
    ASSIGN_OR_RETURN(std::string text, r_.String(item));
    switch (field_.type) {
      case FieldType::kString:
        return Value::String(std::move(text));
      case FieldType::kInt64: {
        Result<int64_t> i = ParseInt64(text, "value");
        if (!i.ok()) return r_.Error(item, i.status().message());
        return Value::Int(*i);
      }
      case FieldType::kDouble: {
        ASSIGN_OR_RETURN(double d, Number(item));
        return Value::Double(d);
      }
      case FieldType::kBool:
        if (text == "true") return Value::Bool(true);
        if (text == "false") return Value::Bool(false);
        return r_.Error(item, fmt::format("'{}' is not true or false", text));
      case FieldType::kTimestamp:
        break;
    }
    return r_.Error(item, "in does not apply to timestamp fields (use between on an int64)");
  }

  Status ParseIn() {
    if (!obj_.Has("in")) return Status::Ok();
    YamlField field = obj_.Get("in");
    ASSIGN_OR_RETURN(std::vector<YamlField> items, r_.Sequence(field));
    if (items.empty()) return r_.Error(field, "needs at least one value");
    for (const YamlField& item : items) {
      ASSIGN_OR_RETURN(Value value, TypedValue(item));
      e_->in.push_back(std::move(value));
    }
    return Status::Ok();
  }

  Status ParseMatches() {
    if (!obj_.Has("matches")) return Status::Ok();
    RETURN_IF_ERROR(RequireType("matches", field_.type == FieldType::kString, "string"));
    std::string pattern;
    RETURN_IF_ERROR(r_.ReadString(obj_, "matches", &pattern));
    RE2::Options options;
    options.set_log_errors(false);
    RE2 re(pattern, options);
    if (!re.ok()) {
      return r_.Error(obj_.Get("matches"),
                      fmt::format("bad regular expression '{}': {}", pattern, re.error()));
    }
    e_->matches = std::move(pattern);
    return Status::Ok();
  }

  Status ParseMaxLength() {
    if (!obj_.Has("max_length")) return Status::Ok();
    RETURN_IF_ERROR(RequireType("max_length", field_.type == FieldType::kString, "string"));
    int max_length = 0;
    RETURN_IF_ERROR(r_.ReadInt(obj_, "max_length", &max_length));
    if (max_length < 0) return r_.Error(obj_.Get("max_length"), "must not be negative");
    e_->max_length = max_length;
    return Status::Ok();
  }

  Status ParseNullFraction() {
    if (!obj_.Has("null_fraction_max")) return Status::Ok();
    YamlField field = obj_.Get("null_fraction_max");
    ASSIGN_OR_RETURN(double fraction, Number(field));
    if (fraction < 0 || fraction > 1) return r_.Error(field, "must be in [0, 1]");
    e_->null_fraction_max = fraction;
    return Status::Ok();
  }

  Status ParsePolicy() {
    std::string name = "reject";
    RETURN_IF_ERROR(r_.ReadString(obj_, "policy", &name));
    if (!ParseExpectationPolicy(name, &e_->policy)) {
      return r_.Error(obj_.Get("policy"),
                      fmt::format("unknown policy '{}' (use reject, quarantine, warn)", name));
    }
    if (e_->null_fraction_max && e_->policy == ExpectationPolicy::kQuarantine) {
      return r_.Error(obj_.Get("policy"),
                      "null_fraction_max holds per batch, not per record: use reject or warn");
    }
    return Status::Ok();
  }

  const YamlReader& r_;
  const YamlObject& obj_;
  const FieldSpec& field_;
  FieldExpectationsSpec* e_;
};

std::string FieldNames(const SourceSpec& source) {
  std::vector<std::string_view> names;
  for (const FieldSpec& f : source.fields) names.push_back(f.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

Status ParseExpectations(const YamlReader& reader, const YamlField& field, SourceSpec* source) {
  ASSIGN_OR_RETURN(std::vector<YamlEntry> entries, reader.Named(field));
  for (const YamlEntry& entry : entries) {
    int index = source->FieldIndex(entry.name);
    if (index < 0) {
      return reader.Error(entry.value, fmt::format("unknown field '{}' (fields: {})", entry.name,
                                                   FieldNames(*source)));
    }
    ASSIGN_OR_RETURN(YamlObject obj,
                     reader.Object(entry.value, {"not_null", "between", "in", "matches",
                                                 "max_length", "null_fraction_max", "policy"}));
    FieldExpectationsSpec expectations;
    expectations.field = entry.name;
    expectations.line = entry.value.line;
    RETURN_IF_ERROR(ExpectationParser(reader, obj, source->fields[index], &expectations).Parse());
    source->expectations.push_back(std::move(expectations));
  }
  return Status::Ok();
}

}  // namespace freshet
