#include <fmt/format.h>
#include <simdjson.h>

#include <optional>
#include <span>
#include <vector>

#include "api/api.h"
#include "core/json.h"
#include "server/json_error.h"
#include "serving/merged_predict.h"
#include "store/feature_json.h"

namespace freshet {
namespace {

// Response: {"predictions": [...], "model": {"name", "version"}, "versions": [per row],
//            "release": N (0: none, the alias), "feature_generations": {view: generation},
//            "entities": {key: [...]}, "features": ["view:feature", ...],
//            "statuses": [[status per feature], per row]}.
// "versions" names the model version that scored each row (they differ under a traffic split);
// "model.version" is the first row's.
// A prediction is a number, or for a text model (fasttext) {"labels": [...], "probabilities":
// [...]}, most probable first.
// A status is PRESENT, NOT_FOUND (no state for the entity: the model saw the empty-window value,
// 0 or null) or OUTSIDE_MAX_AGE (older than the view's ttl: null), as in /v1/features.
std::string EncodePrediction(const FeatureRequest& request, const PredictionRows& rows) {
  const Prediction& p = *rows.all;
  rapidjson::StringBuffer buf(nullptr, 1024);
  ResponseWriter w(buf);
  w.StartObject();
  w.Key("predictions");
  w.StartArray();
  for (double s : rows.scores()) w.Double(s);
  for (const std::vector<TextLabel>& labels : rows.labels()) {
    w.StartObject();
    w.Key("labels");
    w.StartArray();
    for (const TextLabel& l : labels) {
      w.String(l.label.data(), static_cast<rapidjson::SizeType>(l.label.size()));
    }
    w.EndArray();
    w.Key("probabilities");
    w.StartArray();
    for (const TextLabel& l : labels) w.Double(l.probability);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("model");
  w.StartObject();
  w.Key("name");
  w.Plain(rows.model());
  w.Key("version");
  w.Int64(rows.version());
  w.EndObject();
  w.Key("versions");
  w.StartArray();
  for (int64_t v : rows.versions()) w.Int64(v);
  w.EndArray();
  if (!rows.models().empty()) {  // a model_by deployment: each row's model
    w.Key("models");
    w.StartArray();
    for (const std::string& m : rows.models()) w.String(m.c_str());
    w.EndArray();
  }
  w.Key("release");
  w.Uint64(p.release);
  w.Key("feature_generations");
  w.StartObject();
  for (const auto& [view, generation] : p.generations) {
    w.Key(view.c_str());
    w.Uint(generation);
  }
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
  const std::vector<FeatureRef>& features = p.features.features;
  w.Key("features");
  w.StartArray();
  std::string name;
  for (const FeatureRef& ref : features) {
    ((name = ref.view) += ':') += ref.feature;
    w.Plain(name);
  }
  w.EndArray();
  w.Key("statuses");
  w.StartArray();
  for (size_t r = 0; r < rows.count; ++r) {
    w.StartArray();
    for (size_t c = 0; c < features.size(); ++c) w.Quoted(QuotedStatus(rows.status(c, r)));
    w.EndArray();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

// The optional "context": {feature: value or [one value per row]}; a single value applies to
// every row. Which names are features of the service is the Predictor's check.
Result<PredictContext> ParseContext(std::string_view body, size_t rows) {
  PredictContext context;
  // Most requests have no context: skip the second parse unless the key may be there.
  if (body.find("\"context\"") == std::string_view::npos) return context;
  simdjson::dom::parser parser;
  simdjson::dom::element doc, e;
  if (parser.parse(body.data(), body.size()).get(doc) || doc["context"].get(e)) return context;
  simdjson::dom::object object;
  if (e.get_object().get(object)) {
    return Status::InvalidArgument("context: expected an object of feature -> value(s)");
  }
  for (auto field : object) {
    std::string name(field.key);
    std::vector<Value>& column = context[name];
    simdjson::dom::array array;
    if (!field.value.get_array().get(array)) {
      for (simdjson::dom::element item : array) {
        ASSIGN_OR_RETURN(Value v, JsonToValue(item, "context." + name));
        column.push_back(std::move(v));
      }
    } else {
      ASSIGN_OR_RETURN(Value v, JsonToValue(field.value, "context." + name));
      column.assign(rows, v);
    }
  }
  return context;
}

// The optional "k" (labels per row of a text model): an integer from 1 to kMaxTopK. Default 1.
constexpr int64_t kMaxTopK = 1000;
Result<int32_t> ParseTopK(std::string_view body) {
  if (body.find("\"k\"") == std::string_view::npos) return 1;
  simdjson::dom::parser parser;
  simdjson::dom::element doc, e;
  if (parser.parse(body.data(), body.size()).get(doc) || doc["k"].get(e)) return 1;
  int64_t k = 0;
  if (e.get_int64().get(k) || k < 1 || k > kMaxTopK) {
    return Status::InvalidArgument(
        fmt::format("k: expected an integer from 1 to {} (labels per row)", kMaxTopK));
  }
  return static_cast<int32_t>(k);
}

// One parsed predict request.
struct PredictRequest {
  FeatureRequest features;
  PredictContext context;
  int32_t top_k = 1;
};

// Body: {"entities": {"user_id": [...]}, "context": optional, "as_of": optional, "k": optional};
// the features are the deployment's.
Result<PredictRequest> ParsePredict(Instance* instance, const HttpRequest& req) {
  const std::string& name = *req.PathParam("deployment");
  auto it = instance->spec().deployments.find(name);
  if (it == instance->spec().deployments.end()) {
    return Status::NotFound(fmt::format("unknown deployment '{}'", name));
  }
  ASSIGN_OR_RETURN(std::vector<FeatureRef> refs,
                   instance->features()->ServiceFeatures(it->second.feature_service));
  PredictRequest out;
  ASSIGN_OR_RETURN(out.features, ParseFeatureRequest(req.body, *instance->features(), &refs));
  const FeatureRequest& features = out.features;
  ASSIGN_OR_RETURN(
      out.context,
      ParseContext(req.body, features.entities.at(features.entity_order.front()).size()));
  ASSIGN_OR_RETURN(out.top_k, ParseTopK(req.body));
  return out;
}

// POST /v1/predict/{deployment}, in batches: the requests read together are parsed one by one
// and scored together where they can be (serving/merged_predict.h).
void Predict(Instance* instance, std::span<const Exchange> batch) {
  std::vector<std::optional<PredictRequest>> parsed(batch.size());
  std::vector<PredictCall> calls;
  std::vector<size_t> callers;  // the exchange of each call
  for (size_t i = 0; i < batch.size(); ++i) {
    Result<PredictRequest> request = ParsePredict(instance, *batch[i].request);
    if (!request.ok()) {
      SetError(batch[i].response, request.status());
      continue;
    }
    parsed[i] = std::move(*request);
    calls.push_back({batch[i].request->PathParam("deployment"), &parsed[i]->features.entities,
                     parsed[i]->features.as_of_ms, &parsed[i]->context, parsed[i]->top_k});
    callers.push_back(i);
  }
  std::vector<Result<PredictionRows>> predictions = MergePredictCalls(instance->predictor(), calls);
  for (size_t c = 0; c < calls.size(); ++c) {
    const size_t i = callers[c];
    if (!predictions[c].ok()) {
      SetError(batch[i].response, predictions[c].status());
      continue;
    }
    batch[i].response->body = EncodePrediction(parsed[i]->features, *predictions[c]);
  }
}

// GET /v1/deployments/{deployment}/traffic: {"deployment", "model", "sticky_keys": [...],
// "arms": [{"role": "served"|"shadow", "ref", "weight", "share", "version", "load_error"?,
// "requests", "rows", "errors"}], "shadow"?: {"tolerance", "disagreements", "dropped", "error"?}}
// ("error": why the shadow is not scored, e.g. its alias is not set).
void Traffic(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  const std::string& name = *req.PathParam("deployment");
  auto report = instance->predictor()->router()->Describe(name);
  if (!report.ok()) {
    SetError(res, report.status());
    return;
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("deployment");
  w.String(name.c_str());
  w.Key("model");
  w.String(report->model.c_str());
  w.Key("sticky_keys");
  w.StartArray();
  for (const std::string& key : report->sticky_keys) w.String(key.c_str());
  w.EndArray();
  w.Key("arms");
  w.StartArray();
  for (const TrafficRouter::ArmReport& a : report->arms) {
    w.StartObject();
    w.Key("role");
    w.String(a.role.c_str());
    w.Key("ref");
    w.String(a.arm.ref.c_str());
    w.Key("weight");
    w.Double(a.arm.weight);
    w.Key("share");
    w.Double(a.arm.share);
    w.Key("version");
    w.Int64(a.arm.model.version.version);
    if (!a.arm.load_error.empty()) {
      w.Key("load_error");
      w.String(a.arm.load_error.c_str());
    }
    w.Key("requests");
    w.Double(a.requests);
    w.Key("rows");
    w.Double(a.rows);
    w.Key("errors");
    w.Double(a.errors);
    w.EndObject();
  }
  w.EndArray();
  if (instance->spec().deployments.at(name).shadow) {
    w.Key("shadow");
    w.StartObject();
    w.Key("tolerance");
    w.Double(report->shadow_tolerance);
    w.Key("disagreements");
    w.Double(report->shadow_disagreements);
    w.Key("dropped");
    w.Double(report->shadow_dropped);
    if (!report->shadow_error.empty()) {
      w.Key("error");
      w.String(report->shadow_error.c_str());
    }
    w.EndObject();
  }
  w.EndObject();
  res->body = buf.GetString();
}

}  // namespace

Status RegisterPredictRoutes(Router* router, Instance* instance) {
  RETURN_IF_ERROR(router->Add(
      "GET", "/v1/deployments/{deployment}/traffic",
      [instance](const HttpRequest& req, HttpResponse* res) { Traffic(instance, req, res); }));
  return router->AddBatched(
      "POST", "/v1/predict/{deployment}",
      [instance](std::span<const Exchange> batch) { Predict(instance, batch); });
}

}  // namespace freshet
