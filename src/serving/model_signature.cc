#include "serving/model_signature.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <set>

#include "core/json.h"
#include "models/artifact_file.h"
#include "models/model_runtime.h"

namespace freshet {
namespace {

Result<const FeatureServiceSpec*> FindService(const ProjectSpec& spec, const std::string& service) {
  auto it = spec.feature_services.find(service);
  if (it == spec.feature_services.end()) {
    return Status::NotFound(fmt::format("unknown feature service '{}'", service));
  }
  return &it->second;
}

std::string FeatureType(const ProjectSpec& spec, const FeatureViewSpec& view,
                        const FeatureSpec& feature) {
  auto source = spec.sources.find(view.source);
  auto field_type = [&](const std::string& name) -> std::optional<FieldType> {
    if (source == spec.sources.end()) return std::nullopt;
    int field = source->second.FieldIndex(name);
    if (field < 0) return std::nullopt;
    return source->second.fields[field].type;
  };
  if (!feature.attr.empty()) {
    std::optional<FieldType> type = field_type(feature.attr);
    return type ? std::string(FieldTypeName(*type)) : "unknown";
  }
  if (!feature.agg) return "derived";
  std::optional<FieldType> input;
  if (AggTakesInput(*feature.agg)) {
    input = field_type(feature.of);
    if (!input) return "unknown";
  }
  std::optional<FieldType> type = AggResultType(*feature.agg, input);
  return type ? std::string(FieldTypeName(*type)) : "list";
}

void Str(JsonWriter* w, const char* key, std::string_view value) {
  w->Key(key);
  w->String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void Int(JsonWriter* w, const char* key, int64_t value) {
  w->Key(key);
  w->Int64(value);
}

void WriteView(JsonWriter* w, const ProjectSpec& spec, const FeatureViewSpec& view) {
  w->StartObject();
  Str(w, "name", view.name);
  Str(w, "entity", view.entity);
  w->Key("keys");
  w->StartArray();
  auto entity = spec.entities.find(view.entity);
  if (entity != spec.entities.end()) {
    for (const std::string& key : entity->second.keys) w->String(key.c_str());
  }
  w->EndArray();
  Int(w, "ttl_ms", view.ttl_ms);
  w->Key("source");
  w->StartObject();
  Str(w, "name", view.source);
  auto source = spec.sources.find(view.source);
  if (source != spec.sources.end()) {
    const SourceSpec& s = source->second;
    Str(w, "kind", SourceKindName(s.kind));
    Str(w, "timestamp_field", s.timestamp_field);
    Int(w, "allowed_lateness_ms", s.allowed_lateness_ms);
    w->Key("fields");
    w->StartArray();
    for (const FieldSpec& field : s.fields) {
      w->StartObject();
      Str(w, "name", field.name);
      Str(w, "type", FieldTypeName(field.type));
      w->EndObject();
    }
    w->EndArray();
  }
  w->EndObject();
  w->Key("features");
  w->StartArray();
  for (const FeatureSpec& f : view.features) {
    w->StartObject();
    Str(w, "name", f.name);
    Str(w, "agg", f.agg ? AggKindName(*f.agg) : "");
    Str(w, "of", f.of);
    Str(w, "where", f.where);
    Str(w, "expr", f.expr);
    Str(w, "window", WindowKindName(f.window));
    Int(w, "window_ms", f.window_ms);
    Int(w, "hop_ms", f.hop_ms);
    Int(w, "session_gap_ms", f.session_gap_ms);
    Int(w, "n", f.n);
    w->Key("approx");
    w->Bool(f.approx);
    w->EndObject();
  }
  w->EndArray();
  w->EndObject();
}

// A request feature's signature type: "fn(model)", or "fn" for a function without a model.
std::string RequestFeatureType(const RequestFeatureSpec& f) {
  return f.model.empty() ? f.fn : fmt::format("{}({})", f.fn, f.model);
}

// The input kind of `runtime`; nullopt for a runtime this build does not have.
std::optional<RuntimeInput> InputOf(const std::string& runtime) {
  auto created = CreateRuntime(runtime);
  if (!created.ok()) return std::nullopt;
  return (*created)->input();
}

std::string Describe(const std::vector<FeatureSignature>& signature, size_t i) {
  if (i >= signature.size()) return "absent";
  return fmt::format("'{}' ({})", signature[i].name, signature[i].type);
}

}  // namespace

Result<std::vector<FeatureSignature>> ServiceSignature(const ProjectSpec& spec,
                                                       const std::string& service) {
  ASSIGN_OR_RETURN(const FeatureServiceSpec* s, FindService(spec, service));
  std::vector<FeatureSignature> signature;
  if (s->text) signature.push_back({s->text->ToString(), std::string(kTextType)});
  for (const FeatureRef& ref : s->features) {
    std::string type = "unknown";
    auto view = spec.feature_views.find(ref.view);
    if (view != spec.feature_views.end()) {
      if (const FeatureSpec* feature = view->second.Find(ref.feature)) {
        type = FeatureType(spec, view->second, *feature);
      }
    }
    signature.push_back({ref.ToString(), std::move(type)});
  }
  for (const RequestFeatureSpec& f : s->request_features) {
    signature.push_back({f.name, RequestFeatureType(f)});
  }
  return signature;
}

Result<std::string> FeatureSpecHash(const ProjectSpec& spec, const std::string& service) {
  ASSIGN_OR_RETURN(const FeatureServiceSpec* s, FindService(spec, service));
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("features");
  w.StartArray();
  std::set<std::string> views;
  for (const FeatureRef& ref : s->features) {
    std::string name = ref.ToString();
    w.String(name.c_str());
    views.insert(ref.view);
  }
  w.EndArray();
  // Only services that have them write these members, so other services' hashes are unchanged.
  if (s->text) {
    Str(&w, "text", s->text->ToString());
    if (!s->text->from_context()) views.insert(s->text->feature.view);
  }
  if (!s->request_features.empty()) {
    w.Key("request_features");
    w.StartArray();
    for (const RequestFeatureSpec& f : s->request_features) {
      w.StartObject();
      Str(&w, "name", f.name);
      Str(&w, "fn", f.fn);
      Str(&w, "model", f.model);
      Str(&w, "of", f.of.ToString());
      w.EndObject();
      if (!f.of.from_context()) views.insert(f.of.feature.view);
    }
    w.EndArray();
  }
  w.Key("views");
  w.StartArray();
  for (const std::string& view : views) {
    auto it = spec.feature_views.find(view);
    if (it != spec.feature_views.end()) WriteView(&w, spec, it->second);
  }
  w.EndArray();
  w.EndObject();
  return Sha256Hex(std::string_view(buffer.GetString(), buffer.GetSize()));
}

Status BindFeatureService(const ProjectSpec& spec, const std::string& service,
                          RegisterOptions* options) {
  ASSIGN_OR_RETURN(options->signature, ServiceSignature(spec, service));
  ASSIGN_OR_RETURN(options->lineage.feature_spec_hash, FeatureSpecHash(spec, service));
  options->lineage.feature_service = service;
  return Status::Ok();
}

Status CheckSignature(const ProjectSpec& spec, const DeploymentSpec& deployment,
                      const ModelVersion& version) {
  ASSIGN_OR_RETURN(std::vector<FeatureSignature> service,
                   ServiceSignature(spec, deployment.feature_service));
  auto refuse = [&](std::string why) {
    return Status::FailedPrecondition(fmt::format(
        "deployment '{}' (feature service '{}') cannot serve model \"{}\" version {}: {}",
        deployment.name, deployment.feature_service, version.name, version.version, why));
  };
  const FeatureServiceSpec& s = spec.feature_services.at(deployment.feature_service);
  std::optional<RuntimeInput> input = InputOf(version.runtime);
  if (input == RuntimeInput::kText && !s.text) {
    return refuse(fmt::format(
        "the model (runtime {}) takes text, but the service declares no text input (add `text: "
        "view:feature` or `text: context.NAME` to the service)",
        version.runtime));
  }
  if (input == RuntimeInput::kFeatureRows && s.text) {
    return refuse(fmt::format(
        "the service declares a text input ({}), but the model (runtime {}) takes feature rows",
        s.text->ToString(), version.runtime));
  }
  if (version.signature.empty()) {
    // Request features add a width known once their models load: the Predictor checks it.
    if (s.request_features.empty() && version.num_features >= 0 &&
        static_cast<size_t>(version.num_features) != service.size()) {
      return refuse(fmt::format("the model takes {} features but the service has {}",
                                version.num_features, service.size()));
    }
    return Status::Ok();
  }
  for (size_t i = 0; i < std::max(service.size(), version.signature.size()); ++i) {
    if (i < service.size() && i < version.signature.size() && service[i] == version.signature[i]) {
      continue;
    }
    return refuse(fmt::format("feature {} is {} in the model's signature but {} in the service",
                              i + 1, Describe(version.signature, i), Describe(service, i)));
  }
  return Status::Ok();
}

std::vector<ModelUse> DeploymentUses(const ProjectSpec& spec, const std::string& model) {
  std::vector<ModelUse> uses;
  for (const auto& [name, deployment] : spec.deployments) {
    const bool by_attribute = deployment.model_by && deployment.model_by->Names(model);
    if (deployment.model != model && !by_attribute) continue;
    for (const std::string& ref : deployment.Refs()) uses.push_back({name, ref});
  }
  return uses;
}

AliasCheck DeploymentAliasCheck(const ProjectSpec* spec, const std::string& model) {
  return [spec, model](const std::string& alias, const ModelVersion& target) {
    for (const auto& [name, deployment] : spec->deployments) {
      if (deployment.model != model) continue;
      std::vector<std::string> refs = deployment.Refs();
      if (std::find(refs.begin(), refs.end(), alias) == refs.end()) continue;
      RETURN_IF_ERROR(CheckSignature(*spec, deployment, target));
    }
    return Status::Ok();
  };
}

Status CheckDeployments(const ProjectSpec& spec, const ModelRegistry& registry) {
  for (const auto& [name, deployment] : spec.deployments) {
    // Models picked per entity (thousands) are checked when a row first uses them.
    if (deployment.model_by) continue;
    for (const std::string& ref : deployment.Refs()) {
      Result<ModelVersion> version = registry.Resolve(deployment.model, ref);
      if (version.status().code() == StatusCode::kNotFound) continue;
      if (!version.ok()) return version.status();
      RETURN_IF_ERROR(CheckSignature(spec, deployment, *version));
    }
  }
  return Status::Ok();
}

}  // namespace freshet
