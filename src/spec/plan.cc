#include "spec/plan.h"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <vector>

#include "core/time_util.h"

namespace freshet {
namespace {

// ---- Human form ----

// Aligned "name  description" rows, each optionally followed by detail lines; under a
// "title (count)" header when titled.
class Section {
 public:
  Section(std::string title, int indent) : title_(std::move(title)), indent_(indent) {}

  void Add(std::string name, std::string text, std::vector<std::string> details = {}) {
    rows_.push_back({std::move(name), std::move(text), std::move(details)});
  }

  void AppendTo(std::string* out) const {
    if (!title_.empty()) out->append(fmt::format("\n{} ({})\n", title_, rows_.size()));
    size_t width = 0;
    for (const Row& row : rows_) width = std::max(width, row.name.size());
    for (const Row& row : rows_) {
      out->append(fmt::format("{:{}}{:<{}}  {}\n", "", indent_, row.name, width, row.text));
      for (const std::string& detail : row.details) out->append(detail);
    }
  }

 private:
  struct Row {
    std::string name;
    std::string text;
    std::vector<std::string> details;  // pre-formatted lines printed under the row
  };
  std::string title_;
  int indent_;
  std::vector<Row> rows_;
};

std::string SourceText(const SourceSpec& source) {
  std::string text(SourceKindName(source.kind));
  if (source.kind == SourceKind::kFile) text += fmt::format(" {} ({})", source.path, source.format);
  if (source.kind == SourceKind::kKafka) {
    text += fmt::format(" topic {}", source.topic);
    if (!source.brokers.empty()) text += fmt::format(", brokers {}", source.brokers);
    if (!source.group.empty()) text += fmt::format(", group {}", source.group);
  }
  if (source.kind == SourceKind::kTable) text += fmt::format(" of entity {}", source.entity);
  text += fmt::format(", timestamp {}", source.timestamp_field);
  if (source.kind == SourceKind::kTable) return text;
  text += fmt::format(", allowed lateness {}", FormatDurationMs(source.allowed_lateness_ms));
  return text;
}

// "not_null, between [0, 86400]": a field's expectations, for the plan.
std::string ExpectationList(const FieldExpectationsSpec& e) {
  std::vector<std::string> parts;
  if (e.not_null) parts.push_back("not_null");
  if (e.between)
    parts.push_back(fmt::format("between [{}, {}]", e.between->first, e.between->second));
  if (!e.in.empty()) {
    std::vector<std::string> values;
    for (const Value& v : e.in) values.push_back(v.ToString());
    parts.push_back(fmt::format("in [{}]", fmt::join(values, ", ")));
  }
  if (e.matches) parts.push_back(fmt::format("matches '{}'", *e.matches));
  if (e.max_length) parts.push_back(fmt::format("max_length {}", *e.max_length));
  if (e.null_fraction_max)
    parts.push_back(fmt::format("null_fraction_max {}", *e.null_fraction_max));
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::string SourceFields(const SourceSpec& source) {
  Section fields("", 4);
  for (const FieldSpec& field : source.fields) {
    std::string text(FieldTypeName(field.type));
    for (const FieldExpectationsSpec& e : source.expectations) {
      if (e.field == field.name) {
        text +=
            fmt::format("  expect {} ({})", ExpectationList(e), ExpectationPolicyName(e.policy));
      }
    }
    fields.Add(field.name, std::move(text));
  }
  std::string out;
  fields.AppendTo(&out);
  return out;
}

std::string ViewText(const FeatureViewSpec& view) {
  std::string text = fmt::format("entity {}, source {}", view.entity, view.source);
  text += view.ttl_ms > 0 ? fmt::format(", ttl {}", FormatDurationMs(view.ttl_ms)) : ", no ttl";
  return text;
}

std::string ViewFeatures(const FeatureViewSpec& view) {
  Section features("", 4);
  for (const FeatureSpec& feature : view.features)
    features.Add(feature.name, DescribeFeature(feature));
  std::string out;
  features.AppendTo(&out);
  return out;
}

std::string WindowText(const FeatureSpec& f) {
  switch (f.window) {
    case WindowKind::kLifetime:
      return "lifetime";
    case WindowKind::kSliding:
      return fmt::format("sliding {}", FormatDurationMs(f.window_ms));
    case WindowKind::kTumbling:
      return fmt::format("tumbling {}", FormatDurationMs(f.window_ms));
    case WindowKind::kHopping:
      return fmt::format("hopping {}, hop {}", FormatDurationMs(f.window_ms),
                         FormatDurationMs(f.hop_ms));
    case WindowKind::kSession:
      return fmt::format("session (gap {})", FormatDurationMs(f.session_gap_ms));
  }
  return "unknown window";
}

std::vector<std::string> RefStrings(const FeatureServiceSpec& service) {
  std::vector<std::string> refs;
  for (const FeatureRef& ref : service.features) refs.push_back(ref.ToString());
  return refs;
}

// ---- JSON form ----

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Key(Writer* w, std::string_view key) {
  w->Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

void Str(Writer* w, std::string_view key, std::string_view value) {
  Key(w, key);
  w->String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void Int(Writer* w, std::string_view key, int64_t value) {
  Key(w, key);
  w->Int64(value);
}

void StrList(Writer* w, std::string_view key, const std::vector<std::string>& values) {
  Key(w, key);
  w->StartArray();
  for (const std::string& v : values)
    w->String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  w->EndArray();
}

// Writes `key: [ write_item(item)... ]` over the values of a name -> spec map.
template <typename Map, typename WriteItem>
void List(Writer* w, std::string_view key, const Map& items, WriteItem write_item) {
  Key(w, key);
  w->StartArray();
  for (const auto& [name, item] : items) {
    w->StartObject();
    Str(w, "name", name);
    write_item(item);
    Int(w, "line", item.line);
    w->EndObject();
  }
  w->EndArray();
}

void WriteSource(Writer* w, const SourceSpec& s) {
  Str(w, "kind", SourceKindName(s.kind));
  Str(w, "timestamp", s.timestamp_field);
  Key(w, "fields");
  w->StartArray();
  for (const FieldSpec& f : s.fields) {
    w->StartObject();
    Str(w, "name", f.name);
    Str(w, "type", FieldTypeName(f.type));
    for (const FieldExpectationsSpec& e : s.expectations) {
      if (e.field != f.name) continue;
      Str(w, "expectations", ExpectationList(e));
      Str(w, "policy", ExpectationPolicyName(e.policy));
    }
    w->EndObject();
  }
  w->EndArray();
  Int(w, "allowed_lateness_ms", s.allowed_lateness_ms);
  if (s.kind == SourceKind::kFile) {
    Str(w, "path", s.path);
    Str(w, "format", s.format);
  }
  if (s.kind == SourceKind::kTable) Str(w, "entity", s.entity);
  if (s.kind == SourceKind::kKafka) {
    Str(w, "topic", s.topic);
    Str(w, "brokers", s.brokers);
    Str(w, "group", s.group);
  }
}

// "webhook http://host/hook (timeout 5s)", "file /x/preds.ndjson", "kafka topic preds".
std::string OutputText(const OutputSpec& o) {
  if (o.kind == "file") return fmt::format("file {}", o.path);
  if (o.kind == "webhook") {
    return fmt::format("webhook {} (timeout {})", o.url, FormatDurationMs(o.timeout_ms));
  }
  if (o.brokers.empty()) return fmt::format("{} topic {}", o.kind, o.topic);
  return fmt::format("{} topic {}, brokers {}", o.kind, o.topic, o.brokers);
}

void WriteOutputs(Writer* w, const std::vector<OutputSpec>& outputs) {
  if (outputs.empty()) return;
  Key(w, "outputs");
  w->StartArray();
  for (const OutputSpec& o : outputs) {
    w->StartObject();
    Str(w, "kind", o.kind);
    if (!o.path.empty()) Str(w, "path", o.path);
    if (!o.url.empty()) {
      Str(w, "url", o.url);
      Int(w, "timeout_ms", o.timeout_ms);
    }
    if (!o.topic.empty()) Str(w, "topic", o.topic);
    if (!o.brokers.empty()) Str(w, "brokers", o.brokers);
    Int(w, "line", o.line);
    w->EndObject();
  }
  w->EndArray();
}

void WriteFeature(Writer* w, const FeatureSpec& f) {
  w->StartObject();
  Str(w, "name", f.name);
  if (f.agg) {
    Str(w, "agg", AggKindName(*f.agg));
    if (!f.of.empty()) Str(w, "of", f.of);
    if (!f.where.empty()) Str(w, "where", f.where);
    Str(w, "window", WindowKindName(f.window));
    if (f.window_ms > 0) Int(w, "window_ms", f.window_ms);
    if (f.hop_ms > 0) Int(w, "hop_ms", f.hop_ms);
    if (f.session_gap_ms > 0) Int(w, "session_gap_ms", f.session_gap_ms);
    if (f.n > 0) Int(w, "n", f.n);
    if (f.q > 0) {
      Key(w, "q");
      w->Double(f.q);
    }
    if (f.approx) {
      Key(w, "approx");
      w->Bool(true);
    }
  } else if (!f.attr.empty()) {
    Str(w, "attr", f.attr);
  } else {
    Str(w, "expr", f.expr);
  }
  Str(w, "description", DescribeFeature(f));
  Int(w, "line", f.line);
  w->EndObject();
}

void WriteView(Writer* w, const FeatureViewSpec& v) {
  Str(w, "entity", v.entity);
  Str(w, "source", v.source);
  Int(w, "ttl_ms", v.ttl_ms);
  if (!v.lookups.empty()) {
    Key(w, "lookups");
    w->StartArray();
    for (const LookupSpec& l : v.lookups) {
      w->StartObject();
      Str(w, "table", l.table);
      StrList(w, "by", l.by);
      StrList(w, "fields", l.fields);
      w->EndObject();
    }
    w->EndArray();
  }
  Key(w, "features");
  w->StartArray();
  for (const FeatureSpec& f : v.features) WriteFeature(w, f);
  w->EndArray();
}

}  // namespace

std::string DescribeFeature(const FeatureSpec& f) {
  if (!f.attr.empty()) return fmt::format("attribute {} as of the read time", f.attr);
  if (!f.agg) return fmt::format("expr {}", f.expr);
  std::string text(AggKindName(*f.agg));
  if (*f.agg == AggKind::kLastN || *f.agg == AggKind::kTopK) text += fmt::format("({})", f.n);
  if (*f.agg == AggKind::kApproxPercentile) text += fmt::format("({})", f.q);
  if (f.approx) text += " (approx)";
  if (!f.of.empty()) text += fmt::format(" of {}", f.of);
  text += fmt::format(" over {}", WindowText(f));
  if (!f.where.empty()) text += fmt::format(" where {}", f.where);
  return text;
}

std::string FormatPlan(const ProjectSpec& spec) {
  std::string out = fmt::format("project {} ({})\n", spec.project, spec.spec_path);

  Section entities("entities", 2);
  for (const auto& [name, e] : spec.entities) {
    entities.Add(name, fmt::format("key {}", fmt::join(e.keys, ", ")));
  }
  entities.AppendTo(&out);

  Section sources("sources", 2);
  for (const auto& [name, s] : spec.sources) sources.Add(name, SourceText(s), {SourceFields(s)});
  sources.AppendTo(&out);

  Section views("feature views", 2);
  for (const auto& [name, v] : spec.feature_views) views.Add(name, ViewText(v), {ViewFeatures(v)});
  views.AppendTo(&out);

  Section services("feature services", 2);
  for (const auto& [name, s] : spec.feature_services) {
    services.Add(name, fmt::format("{}", fmt::join(RefStrings(s), ", ")));
  }
  services.AppendTo(&out);

  Section models("models", 2);
  for (const auto& [name, m] : spec.models) models.Add(name, fmt::format("runtime {}", m.runtime));
  models.AppendTo(&out);

  Section deployments("deployments", 2);
  for (const auto& [name, d] : spec.deployments) {
    std::vector<std::string> outputs;
    for (const OutputSpec& o : d.outputs)
      outputs.push_back(fmt::format("    -> {}\n", OutputText(o)));
    std::string model = d.model_by ? fmt::format("model {} by {}", d.model_by->Template(),
                                                 d.model_by->attribute.ToString())
                                   : fmt::format("model {}", d.model);
    if (d.model_by && !d.model_by->fallback.empty()) {
      model += fmt::format(" (fallback {})", d.model_by->fallback);
    }
    deployments.Add(name,
                    fmt::format("{} (alias {}), features {}", model, d.alias, d.feature_service),
                    std::move(outputs));
  }
  deployments.AppendTo(&out);
  return out;
}

std::string FormatPlanJson(const ProjectSpec& spec) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  Str(&w, "project", spec.project);
  Str(&w, "spec_path", spec.spec_path);
  List(&w, "entities", spec.entities, [&](const EntitySpec& e) { StrList(&w, "keys", e.keys); });
  List(&w, "sources", spec.sources, [&](const SourceSpec& s) { WriteSource(&w, s); });
  List(&w, "feature_views", spec.feature_views,
       [&](const FeatureViewSpec& v) { WriteView(&w, v); });
  List(&w, "feature_services", spec.feature_services,
       [&](const FeatureServiceSpec& s) { StrList(&w, "features", RefStrings(s)); });
  List(&w, "models", spec.models, [&](const ModelSpec& m) { Str(&w, "runtime", m.runtime); });
  List(&w, "deployments", spec.deployments, [&](const DeploymentSpec& d) {
    Str(&w, "model", d.model);
    if (d.model_by) {
      w.Key("model_by");
      w.StartObject();
      Str(&w, "attribute", d.model_by->attribute.ToString());
      Str(&w, "model", d.model_by->Template());
      Str(&w, "fallback", d.model_by->fallback);
      w.EndObject();
    }
    Str(&w, "alias", d.alias);
    Str(&w, "feature_service", d.feature_service);
    WriteOutputs(&w, d.outputs);
  });
  w.EndObject();
  return buffer.GetString();
}

}  // namespace freshet
