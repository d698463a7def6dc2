#include <fmt/format.h>

#include "api/api.h"
#include "core/json.h"
#include "server/json_error.h"
#include "store/feature_json.h"

namespace freshet {
namespace {

std::string EncodePrediction(const FeatureRequest& request, const Prediction& p) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("predictions");
  w.StartArray();
  for (double s : p.scores) w.Double(s);
  w.EndArray();
  w.Key("model");
  w.StartObject();
  w.Key("name");
  w.String(p.model.c_str());
  w.Key("version");
  w.Int64(p.version);
  w.EndObject();
  w.Key("entities");
  w.StartObject();
  for (const std::string& key : request.entity_order) {
    w.Key(key.c_str());
    w.StartArray();
    for (const Value& v : request.entities.at(key)) WriteJsonValue(&w, v);
    w.EndArray();
  }
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}

void Predict(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  const std::string& name = *req.PathParam("deployment");
  auto it = instance->spec().deployments.find(name);
  if (it == instance->spec().deployments.end()) {
    SetError(res, Status::NotFound(fmt::format("unknown deployment '{}'", name)));
    return;
  }
  // Body: {"entities": {"user_id": [...]}, "as_of": optional}; features are the deployment's.
  auto refs = instance->features()->ServiceFeatures(it->second.feature_service);
  if (!refs.ok()) {
    SetError(res, refs.status());
    return;
  }
  auto request = ParseFeatureRequest(req.body, *instance->features(), &*refs);
  if (!request.ok()) {
    SetError(res, request.status());
    return;
  }
  auto prediction = instance->predictor()->Predict(name, request->entities, request->as_of_ms);
  if (!prediction.ok()) {
    SetError(res, prediction.status());
    return;
  }
  res->body = EncodePrediction(*request, *prediction);
}

}  // namespace

Status RegisterPredictRoutes(Router* router, Instance* instance) {
  return router->Add(
      "POST", "/v1/predict/{deployment}",
      [instance](const HttpRequest& req, HttpResponse* res) { Predict(instance, req, res); });
}

}  // namespace freshet
