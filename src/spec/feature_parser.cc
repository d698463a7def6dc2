#include "spec/feature_parser.h"

#include <fmt/format.h>

#include "core/time_util.h"

namespace freshet {
namespace {

// The backing array of a namespace-scope initializer_list lives as long as the program.
const std::initializer_list<std::string_view> kFeatureKeys = {
    "agg",      "of",          "where", "expr", "window", "hop",
    "tumbling", "session_gap", "n",     "k",    "approx", "q", "attr"};

// Reads one feature's object; each method fills part of the FeatureSpec.
class FeatureParser {
 public:
  FeatureParser(const YamlReader& reader, const YamlObject& obj, const SourceSpec& source,
                FeatureSpec* feature)
      : r_(reader), obj_(obj), source_(source), f_(feature) {}

  Status Parse() {
    if (source_.kind == SourceKind::kTable) return ParseAttribute();
    if (obj_.Has("attr")) {
      return r_.Error(obj_.Get("attr"), fmt::format("applies only to views of a table source; "
                                                    "'{}' is kind {}",
                                                    source_.name, SourceKindName(source_.kind)));
    }
    bool has_agg = obj_.Has("agg");
    if (has_agg == obj_.Has("expr")) {
      return r_.Error(obj_.self(),
                      has_agg ? "has both agg and expr (a feature is an aggregation or a derived "
                                "expression, not both)"
                              : "needs agg (an aggregation) or expr (a derived expression)");
    }
    return has_agg ? ParseAggregation() : ParseDerived();
  }

 private:
  // A table view's feature: `{attr: field}`, the table field's value as of the read time.
  Status ParseAttribute() {
    for (std::string_view key : kFeatureKeys) {
      if (key != "attr" && obj_.Has(key)) {
        return r_.Error(obj_.Get(key),
                        fmt::format("does not apply to a feature of table source '{}' (use "
                                    "attr: FIELD)",
                                    source_.name));
      }
    }
    if (!obj_.Has("attr")) {
      return r_.Error(obj_.self(),
                      fmt::format("needs attr (a field of table source '{}')", source_.name));
    }
    ASSIGN_OR_RETURN(f_->attr, r_.Name(obj_.Get("attr")));
    if (source_.FieldIndex(f_->attr) < 0) {
      return r_.Error(obj_.Get("attr"),
                      fmt::format("'{}' is not a field of table '{}'", f_->attr, source_.name));
    }
    return Status::Ok();
  }

  Status ParseDerived() {
    for (std::string_view key : kFeatureKeys) {
      if (key != "expr" && obj_.Has(key)) {
        return r_.Error(obj_.Get(key), "does not apply to a derived (expr) feature");
      }
    }
    RETURN_IF_ERROR(r_.ReadString(obj_, "expr", &f_->expr));
    if (f_->expr.empty()) return r_.Error(obj_.Get("expr"), "empty expression");
    return Status::Ok();
  }

  Status ParseAggregation() {
    std::string name;
    RETURN_IF_ERROR(r_.ReadString(obj_, "agg", &name));
    AggKind agg;
    if (!ParseAggKind(name, &agg)) {
      return r_.Error(obj_.Get("agg"),
                      fmt::format("unknown aggregation '{}' (use {})", name, AggKindNames()));
    }
    f_->agg = agg;
    RETURN_IF_ERROR(ParseInput(agg));
    RETURN_IF_ERROR(r_.ReadString(obj_, "where", &f_->where));
    RETURN_IF_ERROR(ParseWindow());
    if (agg == AggKind::kRate && f_->window == WindowKind::kLifetime) {
      return r_.Error(obj_.self(),
                      "rate needs a window or a session_gap (events per second over it)");
    }
    RETURN_IF_ERROR(ParseCount("n", AggKind::kLastN, agg));
    RETURN_IF_ERROR(ParseCount("k", AggKind::kTopK, agg));
    RETURN_IF_ERROR(ParseQuantile(agg));
    if (obj_.Has("approx") && agg != AggKind::kDistinctCount) {
      return r_.Error(obj_.Get("approx"), "applies only to distinct_count");
    }
    return r_.ReadBool(obj_, "approx", &f_->approx);
  }

  // `q` of approx_percentile: required, strictly between 0 and 1; an error elsewhere.
  Status ParseQuantile(AggKind agg) {
    YamlField field = obj_.Get("q");
    if (agg != AggKind::kApproxPercentile) {
      if (obj_.Has("q")) return r_.Error(field, "applies only to approx_percentile");
      return Status::Ok();
    }
    if (!obj_.Has("q")) {
      return r_.Error(obj_.self(), "approx_percentile needs q (the quantile, e.g. q: 0.9)");
    }
    RETURN_IF_ERROR(r_.ReadDouble(obj_, "q", &f_->q));
    if (!(f_->q > 0 && f_->q < 1)) {
      return r_.Error(field, fmt::format("must be a quantile between 0 and 1, exclusive (0.9 for "
                                         "the 90th percentile); got {}",
                                         f_->q));
    }
    return Status::Ok();
  }

  // The `of` field: none for count and rate, else a source field (numeric where the
  // aggregation does arithmetic).
  Status ParseInput(AggKind agg) {
    YamlField of = obj_.Get("of");
    std::string_view agg_name = AggKindName(agg);
    if (!AggTakesInput(agg)) {
      if (obj_.Has("of"))
        return r_.Error(of, fmt::format("{} takes no 'of' (it counts events)", agg_name));
      return Status::Ok();
    }
    if (!obj_.Has("of")) {
      return r_.Error(of, fmt::format("{} needs 'of' (the source field to aggregate)", agg_name));
    }
    ASSIGN_OR_RETURN(f_->of, r_.String(of));
    int index = source_.FieldIndex(f_->of);
    if (index < 0) {
      return r_.Error(of, fmt::format("'{}' is not a field of source '{}'", f_->of, source_.name));
    }
    FieldType type = source_.fields[index].type;
    if (AggNeedsNumericInput(agg) && type != FieldType::kInt64 && type != FieldType::kDouble) {
      return r_.Error(of, fmt::format("{} needs a numeric field (int64 or double); '{}' is {}",
                                      agg_name, f_->of, FieldTypeName(type)));
    }
    return Status::Ok();
  }

  // session_gap -> session; window + hop -> hopping; window + tumbling -> tumbling;
  // window -> sliding; nothing -> lifetime.
  Status ParseWindow() {
    if (obj_.Has("session_gap")) {
      RETURN_IF_ERROR(
          RejectKeys({"window", "hop", "tumbling"}, "cannot be combined with session_gap"));
      f_->window = WindowKind::kSession;
      return ReadPositiveDuration("session_gap", &f_->session_gap_ms);
    }
    if (!obj_.Has("window")) {
      RETURN_IF_ERROR(RejectKeys({"hop", "tumbling"}, "needs a window"));
      f_->window = WindowKind::kLifetime;
      return Status::Ok();
    }
    RETURN_IF_ERROR(ReadPositiveDuration("window", &f_->window_ms));
    bool tumbling = false;
    RETURN_IF_ERROR(r_.ReadBool(obj_, "tumbling", &tumbling));
    if (!obj_.Has("hop")) {
      f_->window = tumbling ? WindowKind::kTumbling : WindowKind::kSliding;
      return Status::Ok();
    }
    if (tumbling) return r_.Error(obj_.Get("tumbling"), "a window with a hop cannot be tumbling");
    RETURN_IF_ERROR(ReadPositiveDuration("hop", &f_->hop_ms));
    if (f_->hop_ms >= f_->window_ms || f_->window_ms % f_->hop_ms != 0) {
      return r_.Error(obj_.Get("hop"),
                      fmt::format("hop {} must be smaller than the window {} and divide it",
                                  FormatDurationMs(f_->hop_ms), FormatDurationMs(f_->window_ms)));
    }
    f_->window = WindowKind::kHopping;
    return Status::Ok();
  }

  // `n` of last_n or `k` of top_k: required (>= 1) for its aggregation, an error elsewhere.
  Status ParseCount(std::string_view key, AggKind owner, AggKind agg) {
    YamlField field = obj_.Get(key);
    if (agg != owner) {
      if (obj_.Has(key))
        return r_.Error(field, fmt::format("applies only to {}", AggKindName(owner)));
      return Status::Ok();
    }
    RETURN_IF_ERROR(r_.ReadInt(obj_, key, &f_->n));
    if (f_->n < 1) return r_.Error(field, fmt::format("{} needs {} >= 1", AggKindName(owner), key));
    return Status::Ok();
  }

  Status ReadPositiveDuration(std::string_view key, int64_t* out) {
    RETURN_IF_ERROR(r_.ReadDuration(obj_, key, out));
    if (*out <= 0) return r_.Error(obj_.Get(key), "must be positive");
    return Status::Ok();
  }

  Status RejectKeys(std::initializer_list<std::string_view> keys, std::string_view why) {
    for (std::string_view key : keys) {
      if (obj_.Has(key)) return r_.Error(obj_.Get(key), why);
    }
    return Status::Ok();
  }

  const YamlReader& r_;
  const YamlObject& obj_;
  const SourceSpec& source_;
  FeatureSpec* f_;
};

}  // namespace

Status ParseFeature(const YamlReader& reader, const YamlEntry& entry, const SourceSpec& source,
                    FeatureSpec* feature) {
  ASSIGN_OR_RETURN(YamlObject obj, reader.Object(entry.value, kFeatureKeys));
  feature->name = entry.name;
  feature->line = entry.value.line;
  return FeatureParser(reader, obj, source, feature).Parse();
}

}  // namespace freshet
