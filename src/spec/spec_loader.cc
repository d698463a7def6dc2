#include "spec/spec_loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "spec/expectation_parser.h"
#include "spec/feature_parser.h"
#include "spec/train_parser.h"
#include "spec/yaml_reader.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

// Output (sink) kinds the language knows; which are built is checked by CheckBuiltKinds.
constexpr std::array<std::string_view, 3> kOutputKinds = {"file", "webhook", "kafka"};

constexpr std::array<std::string_view, 4> kRuntimes = {"xgboost", "torchscript", "fasttext",
                                                       "linear"};

// "'x' (defined: a, b)": what a dangling reference could have named instead.
template <typename Map>
std::string Defined(const Map& map) {
  std::vector<std::string_view> names;
  for (const auto& [name, unused] : map) names.push_back(name);
  if (names.empty()) return "none is defined";
  return fmt::format("defined: {}", fmt::join(names, ", "));
}

// Builds a ProjectSpec section by section, in reference order: entities and sources before the
// views that name them, views before services, models and services before deployments.
class ProjectParser {
 public:
  ProjectParser(const YamlReader& reader, ProjectSpec* spec) : r_(reader), spec_(spec) {}

  Status Parse(const YamlField& root) {
    ASSIGN_OR_RETURN(YamlObject obj,
                     r_.Object(root, {"project", "entities", "sources", "feature_views",
                                      "feature_services", "models", "deployments", "serving"}));
    if (!obj.Has("project")) return r_.Error(obj.Get("project"), "missing required key");
    ASSIGN_OR_RETURN(spec_->project, r_.Name(obj.Get("project")));
    RETURN_IF_ERROR(ParseSection(obj, "entities", &ProjectParser::ParseEntity));
    RETURN_IF_ERROR(ParseSection(obj, "sources", &ProjectParser::ParseSource));
    RETURN_IF_ERROR(ParseSection(obj, "feature_views", &ProjectParser::ParseView));
    RETURN_IF_ERROR(ParseSection(obj, "feature_services", &ProjectParser::ParseService));
    RETURN_IF_ERROR(ParseSection(obj, "models", &ProjectParser::ParseModel));
    RETURN_IF_ERROR(CheckRequestFeatureModels());
    if (obj.Has("serving")) RETURN_IF_ERROR(ParseServing(obj.Get("serving")));
    return ParseSection(obj, "deployments", &ProjectParser::ParseDeployment);
  }

 private:
  using EntryParser = Status (ProjectParser::*)(const YamlEntry&);

  Status ParseSection(const YamlObject& root, std::string_view key, EntryParser parse) {
    ASSIGN_OR_RETURN(std::vector<YamlEntry> entries, r_.Named(root.Get(key)));
    for (const YamlEntry& entry : entries) RETURN_IF_ERROR((this->*parse)(entry));
    return Status::Ok();
  }

  Status ParseEntity(const YamlEntry& entry) {
    ASSIGN_OR_RETURN(YamlObject obj, r_.Object(entry.value, {"key", "keys"}));
    EntitySpec entity{entry.name, {}, entry.value.line};
    if (obj.Has("key") == obj.Has("keys")) {
      return r_.Error(obj.self(), obj.Has("key")
                                      ? "has both key and keys (use one)"
                                      : "needs key (one field) or keys (a list of fields)");
    }
    if (obj.Has("key")) {
      ASSIGN_OR_RETURN(std::string key, r_.Name(obj.Get("key")));
      entity.keys.push_back(std::move(key));
    } else {
      ASSIGN_OR_RETURN(entity.keys, ReadNameList(obj.Get("keys")));
    }
    spec_->entities.emplace(entry.name, std::move(entity));
    return Status::Ok();
  }

  // A non-empty list of distinct identifiers.
  Result<std::vector<std::string>> ReadNameList(const YamlField& field) {
    ASSIGN_OR_RETURN(std::vector<YamlField> items, r_.Sequence(field));
    if (items.empty()) return r_.Error(field, "needs at least one field");
    std::vector<std::string> names;
    for (const YamlField& item : items) {
      ASSIGN_OR_RETURN(std::string name, r_.Name(item));
      if (std::find(names.begin(), names.end(), name) != names.end()) {
        return r_.Error(item, fmt::format("'{}' is listed twice", name));
      }
      names.push_back(std::move(name));
    }
    return names;
  }

  Status ParseSource(const YamlEntry& entry) {
    ASSIGN_OR_RETURN(YamlObject obj,
                     r_.Object(entry.value, {"kind", "timestamp", "fields", "allowed_lateness",
                                             "path", "format", "topic", "brokers", "group",
                                             "expectations", "entity", "retention"}));
    SourceSpec source;
    source.name = entry.name;
    source.line = entry.value.line;
    std::string kind = "http";
    RETURN_IF_ERROR(r_.ReadString(obj, "kind", &kind));
    source.kind_line = obj.Get("kind").line;
    if (!ParseSourceKind(kind, &source.kind)) {
      return r_.Error(obj.Get("kind"),
                      fmt::format("unknown kind '{}' (use http, file, kafka, table)", kind));
    }
    if (!obj.Has("timestamp")) return r_.Error(obj.Get("timestamp"), "missing required key");
    ASSIGN_OR_RETURN(source.timestamp_field, r_.Name(obj.Get("timestamp")));
    RETURN_IF_ERROR(ParseFields(obj.Get("fields"), &source));
    RETURN_IF_ERROR(AddTimestampField(obj.Get("timestamp"), &source));
    RETURN_IF_ERROR(r_.ReadDuration(obj, "allowed_lateness", &source.allowed_lateness_ms));
    RETURN_IF_ERROR(r_.ReadDuration(obj, "retention", &source.retention_ms));
    if (obj.Has("retention") && source.retention_ms <= 0) {
      return r_.Error(obj.Get("retention"), "must be positive (leave it out to keep everything)");
    }
    RETURN_IF_ERROR(ParseLocation(obj, &source));
    RETURN_IF_ERROR(ParseExpectations(r_, obj.Get("expectations"), &source));
    RETURN_IF_ERROR(ParseTableEntity(obj, &source));
    spec_->sources.emplace(entry.name, std::move(source));
    return Status::Ok();
  }

  // A table's rows are keyed by an entity: `entity:` is required for kind table (its key
  // fields must be fields of the table) and applies to no other kind. Table rows have no
  // watermark, so allowed_lateness does not apply to them.
  Status ParseTableEntity(const YamlObject& obj, SourceSpec* source) {
    if (source->kind != SourceKind::kTable) {
      if (obj.Has("entity")) return r_.Error(obj.Get("entity"), "applies only to kind table");
      return Status::Ok();
    }
    for (const char* key : {"allowed_lateness", "retention"}) {
      if (obj.Has(key)) return r_.Error(obj.Get(key), "does not apply to kind table");
    }
    RETURN_IF_ERROR(r_.RequireString(obj, "entity", &source->entity));
    auto entity = spec_->entities.find(source->entity);
    if (entity == spec_->entities.end()) {
      return r_.Error(obj.Get("entity"), fmt::format("unknown entity '{}' ({})", source->entity,
                                                     Defined(spec_->entities)));
    }
    for (const std::string& key : entity->second.keys) {
      if (source->FieldIndex(key) < 0) {
        return r_.Error(obj.Get("entity"),
                        fmt::format("key field '{}' of entity '{}' is not a field of the table",
                                    key, source->entity));
      }
    }
    return Status::Ok();
  }

  Status ParseFields(const YamlField& fields, SourceSpec* source) {
    ASSIGN_OR_RETURN(std::vector<YamlEntry> entries, r_.Named(fields));
    for (const YamlEntry& entry : entries) {
      ASSIGN_OR_RETURN(std::string type_name, r_.String(entry.value));
      FieldSpec field{entry.name, FieldType::kString, entry.value.line};
      if (!ParseFieldType(type_name, &field.type)) {
        return r_.Error(entry.value, fmt::format("unknown type '{}' (use string, int64, double, "
                                                 "bool, timestamp)",
                                                 type_name));
      }
      source->fields.push_back(std::move(field));
    }
    return Status::Ok();
  }

  // The event-time field need not be declared; declared, it must hold epoch ms or timestamps.
  Status AddTimestampField(const YamlField& at, SourceSpec* source) {
    int index = source->FieldIndex(source->timestamp_field);
    if (index < 0) {
      source->fields.push_back({source->timestamp_field, FieldType::kTimestamp, at.line});
      return Status::Ok();
    }
    FieldType type = source->fields[index].type;
    if (type == FieldType::kTimestamp || type == FieldType::kInt64) return Status::Ok();
    return r_.Error(at, fmt::format("field '{}' is declared {}; the timestamp field must be "
                                    "timestamp (epoch ms or RFC 3339) or int64 (epoch ms)",
                                    source->timestamp_field, FieldTypeName(type)));
  }

  // Where records come from: path/format for file sources, topic/brokers/group for kafka.
  Status ParseLocation(const YamlObject& obj, SourceSpec* source) {
    constexpr std::array<std::pair<std::string_view, SourceKind>, 5> kKindKeys = {{
        {"path", SourceKind::kFile},
        {"format", SourceKind::kFile},
        {"topic", SourceKind::kKafka},
        {"brokers", SourceKind::kKafka},
        {"group", SourceKind::kKafka},
    }};
    for (const auto& [key, kind] : kKindKeys) {
      if (obj.Has(key) && source->kind != kind) {
        return r_.Error(obj.Get(key), fmt::format("applies only to kind {}", SourceKindName(kind)));
      }
    }
    if (source->kind == SourceKind::kKafka) {
      RETURN_IF_ERROR(r_.RequireString(obj, "topic", &source->topic));
      RETURN_IF_ERROR(r_.ReadString(obj, "brokers", &source->brokers));
      return r_.ReadString(obj, "group", &source->group);
    }
    if (source->kind != SourceKind::kFile) return Status::Ok();
    RETURN_IF_ERROR(r_.RequireString(obj, "path", &source->path));
    if (fs::path(source->path).is_relative()) {
      source->path = (fs::path(spec_->dir) / source->path).string();
    }
    source->format = "ndjson";
    RETURN_IF_ERROR(r_.ReadString(obj, "format", &source->format));
    if (source->format != "ndjson" && source->format != "csv") {
      return r_.Error(obj.Get("format"),
                      fmt::format("unknown format '{}' (use ndjson or csv)", source->format));
    }
    return Status::Ok();
  }

  Status ParseView(const YamlEntry& entry) {
    ASSIGN_OR_RETURN(YamlObject obj,
                     r_.Object(entry.value, {"entity", "source", "ttl", "lookups", "features"}));
    FeatureViewSpec view;
    view.name = entry.name;
    view.line = entry.value.line;
    RETURN_IF_ERROR(r_.RequireString(obj, "entity", &view.entity));
    RETURN_IF_ERROR(r_.RequireString(obj, "source", &view.source));
    auto entity = spec_->entities.find(view.entity);
    if (entity == spec_->entities.end()) {
      return r_.Error(obj.Get("entity"), fmt::format("unknown entity '{}' ({})", view.entity,
                                                     Defined(spec_->entities)));
    }
    auto source = spec_->sources.find(view.source);
    if (source == spec_->sources.end()) {
      return r_.Error(obj.Get("source"), fmt::format("unknown source '{}' ({})", view.source,
                                                     Defined(spec_->sources)));
    }
    if (source->second.kind == SourceKind::kTable && source->second.entity != view.entity) {
      return r_.Error(obj.Get("entity"),
                      fmt::format("table source '{}' is keyed by entity '{}', not '{}'",
                                  view.source, source->second.entity, view.entity));
    }
    for (const std::string& key : entity->second.keys) {
      if (source->second.FieldIndex(key) < 0) {
        return r_.Error(obj.Get("entity"),
                        fmt::format("key field '{}' of entity '{}' is not a field "
                                    "of source '{}'",
                                    key, view.entity, view.source));
      }
    }
    RETURN_IF_ERROR(r_.ReadDuration(obj, "ttl", &view.ttl_ms));
    if (obj.Has("lookups")) {
      if (source->second.kind == SourceKind::kTable) {
        return r_.Error(obj.Get("lookups"), "applies only to views of event sources");
      }
      RETURN_IF_ERROR(ParseLookups(obj.Get("lookups"), source->second, &view));
    }
    RETURN_IF_ERROR(ParseFeatures(obj.Get("features"), ViewInputSchema(*spec_, view), &view));
    spec_->feature_views.emplace(entry.name, std::move(view));
    return Status::Ok();
  }

  // `lookups: {<table>: {by: field | [fields], fields: [names]}}`: `by` lists event fields in
  // the table entity's key order; `fields` are table fields, appended to each event under their
  // own names, so they must not collide with the event's fields or each other.
  Status ParseLookups(const YamlField& field, const SourceSpec& source, FeatureViewSpec* view) {
    ASSIGN_OR_RETURN(std::vector<YamlEntry> entries, r_.Named(field));
    std::set<std::string> names;
    for (const FieldSpec& f : source.fields) names.insert(f.name);
    for (const YamlEntry& entry : entries) {
      ASSIGN_OR_RETURN(YamlObject obj, r_.Object(entry.value, {"by", "fields"}));
      LookupSpec lookup{entry.name, {}, {}, entry.value.line};
      auto table = spec_->sources.find(entry.name);
      if (table == spec_->sources.end() || table->second.kind != SourceKind::kTable) {
        return r_.Error(entry.value, fmt::format("'{}' is not a source of kind table", entry.name));
      }
      const EntitySpec& entity = spec_->entities.at(table->second.entity);
      if (!obj.Has("by")) return r_.Error(obj.Get("by"), "missing required key");
      if (obj.Get("by").node.IsSequence()) {
        ASSIGN_OR_RETURN(lookup.by, ReadNameList(obj.Get("by")));
      } else {
        ASSIGN_OR_RETURN(std::string by, r_.Name(obj.Get("by")));
        lookup.by.push_back(std::move(by));
      }
      if (lookup.by.size() != entity.keys.size()) {
        return r_.Error(obj.Get("by"),
                        fmt::format("entity '{}' of table '{}' has {} key field(s); by lists {}",
                                    entity.name, entry.name, entity.keys.size(), lookup.by.size()));
      }
      for (const std::string& by : lookup.by) {
        if (source.FieldIndex(by) < 0) {
          return r_.Error(obj.Get("by"),
                          fmt::format("'{}' is not a field of source '{}'", by, source.name));
        }
      }
      if (!obj.Has("fields")) return r_.Error(obj.Get("fields"), "missing required key");
      ASSIGN_OR_RETURN(lookup.fields, ReadNameList(obj.Get("fields")));
      for (const std::string& name : lookup.fields) {
        if (table->second.FieldIndex(name) < 0) {
          return r_.Error(obj.Get("fields"),
                          fmt::format("'{}' is not a field of table '{}'", name, entry.name));
        }
        if (!names.insert(name).second) {
          return r_.Error(obj.Get("fields"),
                          fmt::format("'{}' is already a field of the view's events", name));
        }
      }
      view->lookups.push_back(std::move(lookup));
    }
    return Status::Ok();
  }

  Status ParseFeatures(const YamlField& field, const SourceSpec& source, FeatureViewSpec* view) {
    if (!field.node.IsDefined()) return r_.Error(field, "missing required key");
    ASSIGN_OR_RETURN(std::vector<YamlEntry> entries, r_.Named(field));
    if (entries.empty()) return r_.Error(field, "a feature view needs at least one feature");
    for (const YamlEntry& entry : entries) {
      FeatureSpec feature;
      RETURN_IF_ERROR(ParseFeature(r_, entry, source, &feature));
      view->features.push_back(std::move(feature));
    }
    return Status::Ok();
  }

  // `name: [view:feature, ...]` or `name: {features: [...], text: INPUT, request_features:
  // [{name, fn, model, of: INPUT}, ...]}` (INPUT: view:feature or context.NAME). A service with
  // `text` may list no features.
  Status ParseService(const YamlEntry& entry) {
    FeatureServiceSpec service{entry.name, {}, entry.value.line, std::nullopt, {}};
    YamlField list = entry.value;
    bool text = false;
    if (list.node.IsMap()) {
      ASSIGN_OR_RETURN(YamlObject obj, r_.Object(list, {"features", "text", "request_features"}));
      if (obj.Has("text")) {
        ASSIGN_OR_RETURN(service.text, ResolveInputRef(obj.Get("text")));
        text = true;
      }
      if (obj.Has("request_features")) {
        RETURN_IF_ERROR(ParseRequestFeatures(obj.Get("request_features"), &service));
      }
      if (!obj.Has("features") && !text) {
        return r_.Error(obj.Get("features"), "missing required key");
      }
      list = obj.Get("features");
    }
    std::vector<YamlField> items;
    if (list.present()) {
      ASSIGN_OR_RETURN(items, r_.Sequence(list));
    }
    if (items.empty() && !text) {
      return r_.Error(list, "a feature service needs at least one feature");
    }
    std::set<std::string> seen;
    for (const YamlField& item : items) {
      ASSIGN_OR_RETURN(FeatureRef ref, ResolveFeatureRef(item));
      if (!seen.insert(ref.ToString()).second) {
        return r_.Error(item, fmt::format("'{}' is listed twice", ref.ToString()));
      }
      service.features.push_back(std::move(ref));
    }
    spec_->feature_services.emplace(entry.name, std::move(service));
    return Status::Ok();
  }

  // A list of {name, fn, model (optional), of}; names distinct.
  Status ParseRequestFeatures(const YamlField& field, FeatureServiceSpec* service) {
    ASSIGN_OR_RETURN(std::vector<YamlField> items, r_.Sequence(field));
    for (const YamlField& item : items) {
      ASSIGN_OR_RETURN(YamlObject obj, r_.Object(item, {"name", "fn", "model", "of"}));
      RequestFeatureSpec feature;
      feature.line = item.line;
      if (!obj.Has("name")) return r_.Error(obj.Get("name"), "missing required key");
      ASSIGN_OR_RETURN(feature.name, r_.Name(obj.Get("name")));
      RETURN_IF_ERROR(r_.RequireString(obj, "fn", &feature.fn));
      feature.fn_line = obj.Get("fn").line;
      RETURN_IF_ERROR(r_.ReadString(obj, "model", &feature.model));
      if (!obj.Has("of")) return r_.Error(obj.Get("of"), "missing required key");
      ASSIGN_OR_RETURN(feature.of, ResolveInputRef(obj.Get("of")));
      for (const RequestFeatureSpec& other : service->request_features) {
        if (other.name == feature.name) {
          return r_.Error(obj.Get("name"), fmt::format("'{}' is listed twice", feature.name));
        }
      }
      pending_models_.push_back({obj.Get("model"), feature.model});
      service->request_features.push_back(std::move(feature));
    }
    return Status::Ok();
  }

  // "context.NAME" or "view:feature".
  Result<InputRef> ResolveInputRef(const YamlField& item) {
    ASSIGN_OR_RETURN(std::string text, r_.String(item));
    InputRef ref;
    constexpr std::string_view kContext = "context.";
    if (text.compare(0, kContext.size(), kContext) == 0) {
      ref.context_field = text.substr(kContext.size());
      if (ref.context_field.empty()) {
        return r_.Error(item, "context.NAME needs a field name after 'context.'");
      }
      return ref;
    }
    ASSIGN_OR_RETURN(ref.feature, ResolveFeatureRef(item));
    return ref;
  }

  // The models request features name, checked once `models:` is read.
  Status CheckRequestFeatureModels() {
    for (const auto& [field, model] : pending_models_) {
      if (!model.empty() && spec_->models.count(model) == 0) {
        return r_.Error(field,
                        fmt::format("unknown model '{}' ({})", model, Defined(spec_->models)));
      }
    }
    return Status::Ok();
  }

  Result<FeatureRef> ResolveFeatureRef(const YamlField& item) {
    ASSIGN_OR_RETURN(std::string text, r_.String(item));
    Result<FeatureRef> ref = ParseFeatureRef(text);
    if (!ref.ok()) return r_.Error(item, ref.status().message());
    auto view = spec_->feature_views.find(ref->view);
    if (view == spec_->feature_views.end()) {
      return r_.Error(item, fmt::format("unknown feature view '{}' ({})", ref->view,
                                        Defined(spec_->feature_views)));
    }
    if (view->second.Find(ref->feature) == nullptr) {
      return r_.Error(
          item, fmt::format("feature view '{}' has no feature '{}'", ref->view, ref->feature));
    }
    return ref;
  }

  Status ParseModel(const YamlEntry& entry) {
    ASSIGN_OR_RETURN(YamlObject obj, r_.Object(entry.value, {"runtime", "train", "tune"}));
    ModelSpec model{entry.name, "", entry.value.line, obj.Get("runtime").line};
    RETURN_IF_ERROR(r_.RequireString(obj, "runtime", &model.runtime));
    if (std::find(kRuntimes.begin(), kRuntimes.end(), model.runtime) == kRuntimes.end()) {
      return r_.Error(obj.Get("runtime"), fmt::format("unknown runtime '{}' (use {})",
                                                      model.runtime, fmt::join(kRuntimes, ", ")));
    }
    RETURN_IF_ERROR(ParseTraining(r_, obj, *spec_, &model));
    spec_->models.emplace(entry.name, std::move(model));
    return Status::Ok();
  }

  // `serving: {model_memory: 2GiB}`.
  Status ParseServing(const YamlField& field) {
    ASSIGN_OR_RETURN(YamlObject obj, r_.Object(field, {"model_memory"}));
    if (!obj.Has("model_memory")) return Status::Ok();
    ASSIGN_OR_RETURN(std::string text, r_.String(obj.Get("model_memory")));
    Result<int64_t> bytes = ParseByteSize(text);
    if (!bytes.ok()) return r_.Error(obj.Get("model_memory"), bytes.status().message());
    spec_->serving.model_memory_bytes = *bytes;
    return Status::Ok();
  }

  // "512MiB", "2GiB", "100MB", "4096" (bytes): a whole number and an optional unit.
  static Result<int64_t> ParseByteSize(const std::string& text) {
    static constexpr std::array<std::pair<std::string_view, int64_t>, 7> kUnits = {
        {{"", 1},
         {"B", 1},
         {"KiB", 1LL << 10},
         {"MiB", 1LL << 20},
         {"GiB", 1LL << 30},
         {"MB", 1'000'000},
         {"GB", 1'000'000'000}}};
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    std::string_view unit = std::string_view(text).substr(digits);
    while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
    for (const auto& [name, scale] : kUnits) {
      if (digits == 0 || digits > 12 || unit != name) continue;
      return std::stoll(text.substr(0, digits)) * scale;
    }
    return Status::InvalidArgument(fmt::format(
        "model_memory: expected a size such as 4096, 512MiB or 2GiB (units B, KiB, MiB, GiB, MB, "
        "GB), got '{}'",
        text));
  }

  Status ParseDeployment(const YamlEntry& entry) {
    ASSIGN_OR_RETURN(YamlObject obj,
                     r_.Object(entry.value, {"model", "features", "alias", "outputs", "batching",
                                             "on", "traffic", "shadow", "model_by"}));
    DeploymentSpec deployment{entry.name, "", "champion", "", {}, entry.value.line, {}, {}};
    if (obj.Has("model") == obj.Has("model_by")) {
      return r_.Error(obj.self(), obj.Has("model")
                                      ? "has both model and model_by (use one)"
                                      : "needs model (one model) or model_by (a model per entity)");
    }
    if (obj.Has("model")) RETURN_IF_ERROR(r_.RequireString(obj, "model", &deployment.model));
    RETURN_IF_ERROR(r_.RequireString(obj, "features", &deployment.feature_service));
    RETURN_IF_ERROR(r_.ReadString(obj, "alias", &deployment.alias));
    if (obj.Has("model") && spec_->models.count(deployment.model) == 0) {
      return r_.Error(obj.Get("model"), fmt::format("unknown model '{}' ({})", deployment.model,
                                                    Defined(spec_->models)));
    }
    if (spec_->feature_services.count(deployment.feature_service) == 0) {
      return r_.Error(obj.Get("features"),
                      fmt::format("unknown feature service '{}' ({})", deployment.feature_service,
                                  Defined(spec_->feature_services)));
    }
    if (obj.Has("model_by")) {
      for (std::string_view key : {"traffic", "shadow"}) {
        if (obj.Has(key)) {
          return r_.Error(obj.Get(key),
                          fmt::format("model_by and {} are exclusive: a deployment that picks its "
                                      "model per entity serves each model's alias",
                                      key));
        }
      }
      ASSIGN_OR_RETURN(deployment.model_by, ParseModelBy(obj.Get("model_by")));
    }
    if (deployment.alias.empty()) return r_.Error(obj.Get("alias"), "empty alias");
    if (obj.Has("outputs")) {
      ASSIGN_OR_RETURN(std::vector<YamlField> items, r_.Sequence(obj.Get("outputs")));
      for (const YamlField& item : items) {
        OutputSpec output;
        RETURN_IF_ERROR(ParseOutput(item, &output));
        deployment.outputs.push_back(std::move(output));
      }
    }
    if (obj.Has("batching")) RETURN_IF_ERROR(ParseBatching(obj.Get("batching"), &deployment));
    if (obj.Has("on")) RETURN_IF_ERROR(ParseTrigger(obj.Get("on"), &deployment));
    RETURN_IF_ERROR(ParseTraffic(obj, &deployment));
    spec_->deployments.emplace(entry.name, std::move(deployment));
    return Status::Ok();
  }

  // A deployment's `model_by: {attribute: view:feature | context.NAME, model: "prefix{NAME}suffix",
  // fallback: MODEL}`: NAME is the attribute's feature or context field name, once in the
  // template.
  Result<ModelBySpec> ParseModelBy(const YamlField& field) {
    ASSIGN_OR_RETURN(YamlObject obj, r_.Object(field, {"attribute", "model", "fallback"}));
    ModelBySpec by;
    by.line = field.line;
    if (!obj.Has("attribute")) return r_.Error(field, "model_by: missing attribute");
    ASSIGN_OR_RETURN(by.attribute, ResolveInputRef(obj.Get("attribute")));
    std::string model;
    RETURN_IF_ERROR(r_.RequireString(obj, "model", &model));
    const std::string placeholder =
        "{" +
        (by.attribute.from_context() ? by.attribute.context_field : by.attribute.feature.feature) +
        "}";
    size_t at = model.find(placeholder);
    if (at == std::string::npos || model.find(placeholder, at + 1) != std::string::npos) {
      return r_.Error(obj.Get("model"),
                      fmt::format("model: the template '{}' must hold {} (the attribute's value) "
                                  "exactly once, e.g. \"ctr_{}\"",
                                  model, placeholder, placeholder));
    }
    by.prefix = model.substr(0, at);
    by.suffix = model.substr(at + placeholder.size());
    RETURN_IF_ERROR(r_.ReadString(obj, "fallback", &by.fallback));
    return by;
  }

  // A deployment's `batching: {max_batch: 64, max_delay_us: 200}` (those are the defaults):
  // max_batch in 1-65536 rows, max_delay_us in 0-1000000.
  Status ParseBatching(const YamlField& field, DeploymentSpec* deployment) {
    ASSIGN_OR_RETURN(YamlObject obj, r_.Object(field, {"max_batch", "max_delay_us"}));
    BatchingSpec& b = deployment->batching;
    b = {64, 200};
    RETURN_IF_ERROR(r_.ReadInt(obj, "max_batch", &b.max_batch));
    RETURN_IF_ERROR(r_.ReadInt(obj, "max_delay_us", &b.max_delay_us));
    if (b.max_batch < 1 || b.max_batch > 65536) {
      return r_.Error(obj.Get("max_batch"), "max_batch: expected 1-65536 rows");
    }
    if (b.max_delay_us < 0 || b.max_delay_us > 1'000'000) {
      return r_.Error(obj.Get("max_delay_us"), "max_delay_us: expected 0-1000000");
    }
    return Status::Ok();
  }

  // A deployment's `on: {source: S, where: "...", debounce: 200ms}`: S must be an event source
  // holding every key field of the deployment's entities, and — when the deployment's service
  // reads its text from `context.NAME` — a string field NAME (the triggering event is the
  // context of a triggered prediction). The `where` expression is compiled against the source's
  // fields by the triggers module (stream/expr.h), which names this line.
  Status ParseTrigger(const YamlField& field, DeploymentSpec* deployment) {
    ASSIGN_OR_RETURN(YamlObject obj, r_.Object(field, {"source", "where", "debounce"}));
    TriggerSpec on;
    on.line = field.line;
    RETURN_IF_ERROR(r_.RequireString(obj, "source", &on.source));
    RETURN_IF_ERROR(r_.ReadString(obj, "where", &on.where));
    on.where_line = obj.Has("where") ? obj.Get("where").line : field.line;
    RETURN_IF_ERROR(r_.ReadDuration(obj, "debounce", &on.debounce_ms));
    auto source = spec_->sources.find(on.source);
    if (source == spec_->sources.end()) {
      return r_.Error(obj.Get("source"),
                      fmt::format("unknown source '{}' ({})", on.source, Defined(spec_->sources)));
    }
    if (source->second.kind == SourceKind::kTable) {
      return r_.Error(
          obj.Get("source"),
          fmt::format("source '{}' is kind table; a trigger needs an event source", on.source));
    }
    for (const std::string& key : DeploymentKeyFields(*spec_, *deployment)) {
      if (source->second.FieldIndex(key) < 0) {
        return r_.Error(obj.Get("source"),
                        fmt::format("source '{}' has no field '{}', a key of the deployment's "
                                    "entities",
                                    on.source, key));
      }
    }
    RETURN_IF_ERROR(CheckTriggerText(obj.Get("source"), source->second, *deployment));
    deployment->on = std::move(on);
    return Status::Ok();
  }

  // The text input of a triggered deployment's service, when a context field, must be a string
  // field of the trigger's source.
  Status CheckTriggerText(const YamlField& at, const SourceSpec& source,
                          const DeploymentSpec& deployment) {
    const FeatureServiceSpec& service = spec_->feature_services.at(deployment.feature_service);
    if (!service.text || !service.text->from_context()) return Status::Ok();
    const std::string& field = service.text->context_field;
    int index = source.FieldIndex(field);
    if (index < 0) {
      return r_.Error(at, fmt::format("source '{}' has no field '{}', the text input ({}) of "
                                      "feature service '{}'",
                                      source.name, field, service.text->ToString(), service.name));
    }
    if (source.fields[index].type != FieldType::kString) {
      return r_.Error(at, fmt::format("field '{}' of source '{}' is {}, but the text input ({}) of "
                                      "feature service '{}' needs a string",
                                      field, source.name, FieldTypeName(source.fields[index].type),
                                      service.text->ToString(), service.name));
    }
    return Status::Ok();
  }

  // A deployment's `traffic: [{version: N | alias: A, weight: W}, ...]` (W > 0) and
  // `shadow: {version: N | alias: A, tolerance: T}`; every ref distinct, `traffic` exclusive with
  // `alias`.
  Status ParseTraffic(const YamlObject& obj, DeploymentSpec* deployment) {
    std::set<std::string> refs;
    auto add_ref = [&](const YamlField& at, const TrafficTargetSpec& target) -> Status {
      if (!refs.insert(target.ref).second) {
        return r_.Error(
            at, fmt::format("'{}' is named twice in the deployment's traffic/shadow", target.ref));
      }
      return Status::Ok();
    };
    if (obj.Has("traffic")) {
      if (obj.Has("alias")) {
        return r_.Error(obj.Get("alias"),
                        "alias and traffic are exclusive: name the alias in a traffic entry");
      }
      ASSIGN_OR_RETURN(std::vector<YamlField> items, r_.Sequence(obj.Get("traffic")));
      if (items.empty()) return r_.Error(obj.Get("traffic"), "expected at least one entry");
      for (const YamlField& item : items) {
        ASSIGN_OR_RETURN(YamlObject entry, r_.Object(item, {"version", "alias", "weight"}));
        TrafficTargetSpec target;
        RETURN_IF_ERROR(ParseTrafficRef(item, entry, &target));
        if (!entry.Has("weight")) return r_.Error(item, "missing weight");
        RETURN_IF_ERROR(r_.ReadDouble(entry, "weight", &target.weight));
        if (!(target.weight > 0) || !std::isfinite(target.weight)) {
          return r_.Error(entry.Get("weight"), "weight: expected a positive number");
        }
        RETURN_IF_ERROR(add_ref(item, target));
        deployment->traffic.push_back(std::move(target));
      }
    }
    if (obj.Has("shadow")) {
      const YamlField& field = obj.Get("shadow");
      ASSIGN_OR_RETURN(YamlObject entry, r_.Object(field, {"version", "alias", "tolerance"}));
      ShadowSpec shadow;
      RETURN_IF_ERROR(ParseTrafficRef(field, entry, &shadow.target));
      RETURN_IF_ERROR(r_.ReadDouble(entry, "tolerance", &shadow.tolerance));
      if (!(shadow.tolerance >= 0) || !std::isfinite(shadow.tolerance)) {
        return r_.Error(entry.Get("tolerance"), "tolerance: expected a number >= 0");
      }
      if (deployment->traffic.empty()) refs.insert(deployment->alias);
      RETURN_IF_ERROR(add_ref(field, shadow.target));
      deployment->shadow = std::move(shadow);
    }
    return Status::Ok();
  }

  // The `version: N` (N >= 1) or `alias: A` of a traffic entry or shadow, exactly one of them.
  Status ParseTrafficRef(const YamlField& at, const YamlObject& obj, TrafficTargetSpec* target) {
    target->line = at.line;
    if (obj.Has("version") == obj.Has("alias")) {
      return r_.Error(at, "expected exactly one of version or alias");
    }
    if (obj.Has("version")) {
      int version = 0;
      RETURN_IF_ERROR(r_.ReadInt(obj, "version", &version));
      if (version < 1) return r_.Error(obj.Get("version"), "version: expected a number >= 1");
      target->ref = std::to_string(version);
      return Status::Ok();
    }
    RETURN_IF_ERROR(r_.RequireString(obj, "alias", &target->ref));
    if (target->ref.empty()) return r_.Error(obj.Get("alias"), "empty alias");
    return Status::Ok();
  }

  // One of a deployment's `outputs`: {kind: file, path: ...}, {kind: webhook, url: ...,
  // timeout: 2s, secret_env: HOOK_SECRET} or {kind: kafka, topic: ..., brokers: ...}.
  Status ParseOutput(const YamlField& item, OutputSpec* output) {
    ASSIGN_OR_RETURN(YamlObject obj, r_.Object(item, {"kind", "path", "url", "timeout", "topic",
                                                      "brokers", "secret_env"}));
    output->line = item.line;
    output->kind_line = obj.Get("kind").line;
    RETURN_IF_ERROR(r_.RequireString(obj, "kind", &output->kind));
    if (std::find(kOutputKinds.begin(), kOutputKinds.end(), output->kind) == kOutputKinds.end()) {
      return r_.Error(obj.Get("kind"), fmt::format("unknown kind '{}' (use {})", output->kind,
                                                   fmt::join(kOutputKinds, ", ")));
    }
    constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kKindKeys = {{
        {"path", "file"},
        {"url", "webhook"},
        {"timeout", "webhook"},
        {"secret_env", "webhook"},
        {"topic", "kafka"},
        {"brokers", "kafka"},
    }};
    for (const auto& [key, kind] : kKindKeys) {
      if (obj.Has(key) && output->kind != kind) {
        return r_.Error(obj.Get(key), fmt::format("applies only to kind {}", kind));
      }
    }
    if (output->kind == "file") {
      RETURN_IF_ERROR(r_.RequireString(obj, "path", &output->path));
      if (fs::path(output->path).is_relative()) {
        output->path = (fs::path(spec_->dir) / output->path).string();
      }
    } else if (output->kind == "webhook") {
      RETURN_IF_ERROR(r_.RequireString(obj, "url", &output->url));
      if (output->url.rfind("http://", 0) != 0 && output->url.rfind("https://", 0) != 0) {
        return r_.Error(obj.Get("url"),
                        fmt::format("'{}' is not an http:// or https:// URL", output->url));
      }
      RETURN_IF_ERROR(r_.ReadDuration(obj, "timeout", &output->timeout_ms));
      if (output->timeout_ms <= 0) return r_.Error(obj.Get("timeout"), "must be positive");
      RETURN_IF_ERROR(r_.ReadString(obj, "secret_env", &output->secret_env));
      if (obj.Has("secret_env") && output->secret_env.empty()) {
        return r_.Error(obj.Get("secret_env"), "must name an environment variable");
      }
    } else {
      RETURN_IF_ERROR(r_.RequireString(obj, "topic", &output->topic));
      RETURN_IF_ERROR(r_.ReadString(obj, "brokers", &output->brokers));
    }
    return Status::Ok();
  }

  const YamlReader& r_;
  ProjectSpec* spec_;
  // (field, model name) of each request feature, for CheckRequestFeatureModels.
  std::vector<std::pair<YamlField, std::string>> pending_models_;
};

}  // namespace

Result<ProjectSpec> ParseProject(const std::string& yaml_text, const std::string& spec_path) {
  ProjectSpec spec;
  spec.spec_path = spec_path;
  spec.dir = fs::path(spec_path).parent_path().string();
  if (spec.dir.empty()) spec.dir = ".";
  YamlReader reader(spec_path);
  ASSIGN_OR_RETURN(YamlField root, reader.Parse(yaml_text));
  try {
    RETURN_IF_ERROR(ProjectParser(reader, &spec).Parse(root));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(fmt::format("{}:{}: {}", spec_path, e.mark.line + 1, e.msg));
  }
  return spec;
}

Result<ProjectSpec> LoadProject(const std::string& dir) {
  fs::path spec_path = fs::path(dir) / "freshet.yaml";
  std::error_code ec;
  if (!fs::is_regular_file(spec_path, ec)) {
    return Status::InvalidArgument(fmt::format("no freshet.yaml in {}", dir));
  }
  std::ifstream in(spec_path, std::ios::binary);
  if (!in) return Status::IoError(fmt::format("cannot read {}", spec_path.string()));
  std::stringstream text;
  text << in.rdbuf();
  return ParseProject(text.str(), spec_path.string());
}

Result<FeatureRef> ParseFeatureRef(const std::string& text) {
  size_t colon = text.find(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument(
        fmt::format("feature reference '{}' must be view:feature", text));
  }
  FeatureRef ref{text.substr(0, colon), text.substr(colon + 1)};
  if (ref.view.empty() || ref.feature.empty() || ref.feature.find(':') != std::string::npos) {
    return Status::InvalidArgument(
        fmt::format("feature reference '{}' must be view:feature", text));
  }
  return ref;
}

}  // namespace freshet
