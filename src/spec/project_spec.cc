#include "spec/project_spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

namespace freshet {
namespace {

// Every aggregation with its spec name; ParseAggKind also accepts the alias "var".
constexpr std::array<std::pair<AggKind, std::string_view>, 15> kAggNames = {{
    {AggKind::kCount, "count"},
    {AggKind::kSum, "sum"},
    {AggKind::kMean, "mean"},
    {AggKind::kMin, "min"},
    {AggKind::kMax, "max"},
    {AggKind::kVariance, "variance"},
    {AggKind::kStddev, "stddev"},
    {AggKind::kFirst, "first"},
    {AggKind::kLast, "last"},
    {AggKind::kLastN, "last_n"},
    {AggKind::kDistinctCount, "distinct_count"},
    {AggKind::kTopK, "top_k"},
    {AggKind::kRate, "rate"},
    {AggKind::kTrend, "trend"},
    {AggKind::kApproxPercentile, "approx_percentile"},
}};

constexpr std::array<std::pair<SourceKind, std::string_view>, 4> kSourceKindNames = {{
    {SourceKind::kHttp, "http"},
    {SourceKind::kFile, "file"},
    {SourceKind::kKafka, "kafka"},
    {SourceKind::kTable, "table"},
}};

}  // namespace

int SourceSpec::FieldIndex(const std::string& field) const {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].name == field) return static_cast<int>(i);
  }
  return -1;
}

std::string InputRef::ToString() const {
  return from_context() ? "context." + context_field : feature.ToString();
}

const FeatureSpec* FeatureViewSpec::Find(const std::string& feature) const {
  for (const FeatureSpec& f : features) {
    if (f.name == feature) return &f;
  }
  return nullptr;
}

std::vector<std::string> DeploymentKeyFields(const ProjectSpec& spec,
                                             const DeploymentSpec& deployment) {
  std::vector<std::string> keys;
  for (const FeatureRef& ref : spec.feature_services.at(deployment.feature_service).features) {
    const FeatureViewSpec& view = spec.feature_views.at(ref.view);
    for (const std::string& key : spec.entities.at(view.entity).keys) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  return keys;
}

std::vector<std::string> DeploymentSpec::Refs() const {
  std::vector<std::string> refs;
  if (traffic.empty()) refs.push_back(alias);
  for (const TrafficTargetSpec& t : traffic) refs.push_back(t.ref);
  if (shadow) refs.push_back(shadow->target.ref);
  return refs;
}

std::string ModelBySpec::ModelFor(std::string_view value) const {
  std::string name;
  name.reserve(prefix.size() + value.size() + suffix.size());
  name.append(prefix).append(value).append(suffix);
  return name;
}

bool ModelBySpec::Names(std::string_view model) const {
  if (!fallback.empty() && model == fallback) return true;
  return model.size() > prefix.size() + suffix.size() && model.starts_with(prefix) &&
         model.ends_with(suffix);
}

std::string ModelBySpec::Template() const {
  const std::string& name =
      attribute.from_context() ? attribute.context_field : attribute.feature.feature;
  return prefix + "{" + name + "}" + suffix;
}

SourceSpec ViewInputSchema(const ProjectSpec& spec, const FeatureViewSpec& view) {
  SourceSpec schema = spec.sources.at(view.source);
  for (const LookupSpec& lookup : view.lookups) {
    const SourceSpec& table = spec.sources.at(lookup.table);
    for (const std::string& field : lookup.fields) {
      schema.fields.push_back(table.fields[table.FieldIndex(field)]);
    }
  }
  return schema;
}

std::string_view AggKindName(AggKind k) {
  for (const auto& [kind, name] : kAggNames) {
    if (kind == k) return name;
  }
  return "unknown";
}

bool ParseAggKind(std::string_view name, AggKind* out) {
  if (name == "var") name = "variance";
  for (const auto& [kind, kind_name] : kAggNames) {
    if (kind_name == name) {
      *out = kind;
      return true;
    }
  }
  return false;
}

std::string AggKindNames() {
  std::string names;
  for (const auto& [kind, name] : kAggNames) {
    if (!names.empty()) names += ", ";
    names += name;
  }
  return names;
}

bool AggTakesInput(AggKind k) { return k != AggKind::kCount && k != AggKind::kRate; }

bool AggNeedsNumericInput(AggKind k) {
  switch (k) {
    case AggKind::kSum:
    case AggKind::kMean:
    case AggKind::kMin:
    case AggKind::kMax:
    case AggKind::kVariance:
    case AggKind::kStddev:
    case AggKind::kTrend:
    case AggKind::kApproxPercentile:
      return true;
    default:
      return false;
  }
}

std::optional<FieldType> AggResultType(AggKind agg, std::optional<FieldType> input) {
  switch (agg) {
    case AggKind::kCount:
    case AggKind::kDistinctCount:
      return FieldType::kInt64;
    case AggKind::kSum:
      return input == FieldType::kDouble ? FieldType::kDouble : FieldType::kInt64;
    case AggKind::kMean:
    case AggKind::kVariance:
    case AggKind::kStddev:
    case AggKind::kRate:
    case AggKind::kTrend:
    case AggKind::kApproxPercentile:
      return FieldType::kDouble;
    case AggKind::kMin:
    case AggKind::kMax:
    case AggKind::kFirst:
    case AggKind::kLast:
      return input == FieldType::kTimestamp ? FieldType::kInt64 : input;
    case AggKind::kLastN:
    case AggKind::kTopK:
      return std::nullopt;
  }
  return std::nullopt;
}

std::string_view WindowKindName(WindowKind k) {
  switch (k) {
    case WindowKind::kLifetime:
      return "lifetime";
    case WindowKind::kSliding:
      return "sliding";
    case WindowKind::kHopping:
      return "hopping";
    case WindowKind::kTumbling:
      return "tumbling";
    case WindowKind::kSession:
      return "session";
  }
  return "unknown";
}

std::string_view SourceKindName(SourceKind k) {
  for (const auto& [kind, name] : kSourceKindNames) {
    if (kind == k) return name;
  }
  return "unknown";
}

bool ParseSourceKind(std::string_view name, SourceKind* out) {
  for (const auto& [kind, kind_name] : kSourceKindNames) {
    if (kind_name == name) {
      *out = kind;
      return true;
    }
  }
  return false;
}

namespace {

constexpr std::array<std::pair<ExpectationPolicy, std::string_view>, 3> kPolicyNames = {{
    {ExpectationPolicy::kReject, "reject"},
    {ExpectationPolicy::kQuarantine, "quarantine"},
    {ExpectationPolicy::kWarn, "warn"},
}};

}  // namespace

std::string_view ExpectationPolicyName(ExpectationPolicy p) {
  for (const auto& [policy, name] : kPolicyNames) {
    if (policy == p) return name;
  }
  return "?";
}

bool ParseExpectationPolicy(std::string_view name, ExpectationPolicy* out) {
  for (const auto& [policy, policy_name] : kPolicyNames) {
    if (policy_name == name) {
      *out = policy;
      return true;
    }
  }
  return false;
}

namespace {

// "<file>:<line>: <path>: '<name>' is not built in this version (built: a, b)", or OK.
Status CheckBuilt(const ProjectSpec& spec, int line, const std::string& path,
                  const std::string& name, const std::vector<std::string>& built) {
  if (std::find(built.begin(), built.end(), name) != built.end()) return Status::Ok();
  return Status::InvalidArgument(
      fmt::format("{}:{}: {}: '{}' is not built in this version (built: {})", spec.spec_path, line,
                  path, name, built.empty() ? "none" : fmt::format("{}", fmt::join(built, ", "))));
}

}  // namespace

Status CheckBuiltKinds(const ProjectSpec& spec, const BuiltKinds& built) {
  // Every check, then the first failure in file order (the maps are in name order).
  std::vector<std::pair<int, Status>> failures;
  auto check = [&](int line, const std::string& path, const std::string& name,
                   const std::vector<std::string>& names) {
    Status st = CheckBuilt(spec, line, path, name, names);
    if (!st.ok()) failures.emplace_back(line, std::move(st));
  };
  for (const auto& [name, source] : spec.sources) {
    check(source.kind_line, fmt::format("sources.{}.kind", name),
          std::string(SourceKindName(source.kind)), built.sources);
  }
  for (const auto& [name, model] : spec.models) {
    check(model.runtime_line, fmt::format("models.{}.runtime", name), model.runtime,
          built.runtimes);
  }
  for (const auto& [name, service] : spec.feature_services) {
    for (size_t i = 0; i < service.request_features.size(); ++i) {
      const RequestFeatureSpec& f = service.request_features[i];
      check(f.fn_line, fmt::format("feature_services.{}.request_features[{}].fn", name, i), f.fn,
            built.request_fns);
    }
  }
  for (const auto& [name, deployment] : spec.deployments) {
    for (size_t i = 0; i < deployment.outputs.size(); ++i) {
      const OutputSpec& output = deployment.outputs[i];
      check(output.kind_line, fmt::format("deployments.{}.outputs[{}].kind", name, i), output.kind,
            built.sinks);
    }
  }
  if (failures.empty()) return Status::Ok();
  return std::min_element(failures.begin(), failures.end(),
                          [](const auto& a, const auto& b) { return a.first < b.first; })
      ->second;
}

}  // namespace freshet
