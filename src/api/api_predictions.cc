// GET /v1/predictions/{deployment}?{key}={value}[&{key}={value}...]: the pull side of
// triggered predictions (triggers/prediction_store.h). One query parameter per key field of
// the deployment's entities, typed as the field is declared.
//   200 {"deployment", "entity": {...}, "latest": <prediction> | null,
//        "history": [<prediction>, ...]}   (newest first, the latest included)
//   400 naming a missing or mistyped key; 404 naming an unknown deployment.
#include <fmt/format.h>

#include "api/api.h"
#include "format/csv.h"
#include "server/json_error.h"

namespace freshet {
namespace {

// The declared type of key field `key` of `deployment`: from the source of a view whose entity
// has it. REQUIRES: `key` is one of DeploymentKeyFields(spec, deployment).
FieldType KeyType(const ProjectSpec& spec, const DeploymentSpec& deployment,
                  const std::string& key) {
  for (const FeatureRef& ref : spec.feature_services.at(deployment.feature_service).features) {
    const FeatureViewSpec& view = spec.feature_views.at(ref.view);
    const SourceSpec& source = spec.sources.at(view.source);
    int index = source.FieldIndex(key);
    if (index >= 0) return source.fields[index].type;
  }
  return FieldType::kString;
}

// The entity key named by the query parameters, in DeploymentKeyFields order.
Result<std::vector<Value>> EntityKey(const ProjectSpec& spec, const DeploymentSpec& deployment,
                                     const std::vector<std::string>& keys, const HttpRequest& req) {
  std::vector<Value> values;
  for (const std::string& key : keys) {
    const std::string* text = req.QueryParam(key);
    if (text == nullptr || text->empty()) {
      return Status::InvalidArgument(
          fmt::format("missing query parameter '{}': deployment '{}' predicts per {}", key,
                      deployment.name, fmt::join(keys, ", ")));
    }
    FieldType type = KeyType(spec, deployment, key);
    Value value;
    if (!ParseCsvCell(type, *text, &value)) {
      return Status::InvalidArgument(
          fmt::format("query parameter '{}': '{}' is not a {}", key, *text, FieldTypeName(type)));
    }
    values.push_back(std::move(value));
  }
  return values;
}

void GetPredictions(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  const ProjectSpec& spec = instance->spec();
  const std::string& name = *req.PathParam("deployment");
  auto it = spec.deployments.find(name);
  if (it == spec.deployments.end()) {
    SetError(res, Status::NotFound(fmt::format("unknown deployment '{}'", name)));
    return;
  }
  const std::vector<std::string> keys = DeploymentKeyFields(spec, it->second);
  auto key = EntityKey(spec, it->second, keys, req);
  if (!key.ok()) {
    SetError(res, key.status());
    return;
  }
  auto history = instance->predictions()->Get(name, *key);
  if (!history.ok()) {
    SetError(res, history.status());
    return;
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("deployment");
  w.String(name.c_str());
  w.Key("entity");
  w.StartObject();
  for (size_t i = 0; i < keys.size(); ++i) {
    w.Key(keys[i].c_str());
    WriteJsonValue(&w, (*key)[i]);
  }
  w.EndObject();
  w.Key("latest");
  if (history->empty()) {
    w.Null();
  } else {
    WriteStoredPredictionJson(&w, name, keys, *key, history->front());
  }
  w.Key("history");
  w.StartArray();
  for (const StoredPrediction& p : *history) WriteStoredPredictionJson(&w, name, keys, *key, p);
  w.EndArray();
  w.EndObject();
  res->body = buf.GetString();
}

}  // namespace

Status RegisterPredictionRoutes(Router* router, Instance* instance) {
  return router->Add("GET", "/v1/predictions/{deployment}",
                     [instance](const HttpRequest& req, HttpResponse* res) {
                       GetPredictions(instance, req, res);
                     });
}

}  // namespace freshet
