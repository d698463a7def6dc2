// The Open Inference Protocol (KServe v2) REST API, as Triton serves it:
//   GET  /v2                                   server metadata {name, version, extensions}
//   GET  /v2/health/live, /v2/health/ready     200 or 400, empty body
//   GET  /v2/models/{m}[/versions/{v}]         model metadata
//   GET  /v2/models/{m}[/versions/{v}]/ready   200 or 400/404, empty body
//   POST /v2/models/{m}[/versions/{v}]/infer   inference on raw feature rows
// {m} is a registered model name, {v} a version number or alias; without a version, the
// `champion` alias, else the latest version. Deployments are not addressable here (they read
// features by entity: POST /v1/predict/{deployment}). Errors follow the protocol: {"error": "..."}
// with the status SetError would use.
#include <fmt/format.h>
#include <simdjson.h>

#include <cmath>
#include <limits>

#include "api/api.h"
#include "core/json.h"
#include "server/json_error.h"

namespace freshet {
namespace {

constexpr const char* kInputName = "input__0";
constexpr const char* kOutputName = "output__0";

void SetV2Error(HttpResponse* res, const Status& status) {
  res->status = HttpStatusFor(status.code());
  res->content_type = "application/json";
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("error");
  w.String(status.message().c_str());
  w.EndObject();
  res->body = buf.GetString();
}

// The version a path names: /versions/{v} when given, else champion, else latest.
Result<LoadedModel> LoadModel(Instance* instance, const HttpRequest& req) {
  const std::string& model = *req.PathParam("model");
  if (const std::string* version = req.PathParam("version")) {
    return instance->predictor()->Load(model, *version);
  }
  auto champion = instance->predictor()->Load(model, "champion");
  if (champion.ok() || champion.status().code() != StatusCode::kNotFound) return champion;
  return instance->predictor()->Load(model, "latest");
}

void WriteTensorMetadata(JsonWriter* w, const char* name, int64_t width) {
  w->StartObject();
  w->Key("name");
  w->String(name);
  w->Key("datatype");
  w->String("FP32");
  w->Key("shape");
  w->StartArray();
  w->Int64(-1);
  w->Int64(width);
  w->EndArray();
  w->EndObject();
}

void ModelMetadata(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  auto model = LoadModel(instance, req);
  if (!model.ok()) return SetV2Error(res, model.status());
  auto versions = instance->registry()->ListVersions(model->version.name);
  if (!versions.ok()) return SetV2Error(res, versions.status());
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("name");
  w.String(model->version.name.c_str());
  w.Key("versions");
  w.StartArray();
  for (const ModelVersion& v : *versions) w.String(std::to_string(v.version).c_str());
  w.EndArray();
  w.Key("platform");
  w.String(model->version.runtime.c_str());
  w.Key("inputs");
  w.StartArray();
  WriteTensorMetadata(&w, kInputName, model->runtime->num_features());
  w.EndArray();
  w.Key("outputs");
  w.StartArray();
  WriteTensorMetadata(&w, kOutputName, -1);
  w.EndArray();
  w.EndObject();
  res->body = buf.GetString();
}

void ModelReady(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  auto model = LoadModel(instance, req);
  res->content_type = "text/plain";
  res->body.clear();
  if (!model.ok()) res->status = model.status().code() == StatusCode::kNotFound ? 404 : 400;
}

// Appends the numbers of `e` (a flat or nested array) to *out, checked against `datatype`.
Status AppendData(simdjson::dom::element e, std::string_view datatype, std::vector<float>* out) {
  simdjson::dom::array array;
  if (!e.get_array().get(array)) {
    for (simdjson::dom::element item : array) RETURN_IF_ERROR(AppendData(item, datatype, out));
    return Status::Ok();
  }
  if (datatype == "BOOL") {
    bool b;
    if (e.get_bool().get(b))
      return Status::InvalidArgument("inputs[0].data: BOOL expects true/false");
    out->push_back(b ? 1.0f : 0.0f);
  } else if (datatype == "INT64") {
    int64_t i;
    if (e.get_int64().get(i))
      return Status::InvalidArgument("inputs[0].data: INT64 expects integers");
    out->push_back(static_cast<float>(i));
  } else {
    double d;
    if (e.get_double().get(d)) {
      return Status::InvalidArgument(fmt::format("inputs[0].data: {} expects numbers", datatype));
    }
    out->push_back(static_cast<float>(d));
  }
  return Status::Ok();
}

struct InferRequest {
  std::string id;
  bool has_id = false;
  size_t rows = 0, cols = 0;
  std::vector<float> data;  // row-major
};

Result<InferRequest> ParseInfer(std::string_view body, int64_t num_features) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc, e;
  if (auto error = parser.parse(body.data(), body.size()).get(doc)) {
    return Status::InvalidArgument(
        fmt::format("malformed JSON: {}", simdjson::error_message(error)));
  }
  if (!doc.is_object()) return Status::InvalidArgument("expected a JSON object");
  InferRequest out;
  if (!doc["id"].get(e)) {
    std::string_view id;
    if (e.get_string().get(id)) return Status::InvalidArgument("id: expected a string");
    out.id = id;
    out.has_id = true;
  }
  if (!doc["parameters"].get(e) && !e.is_object()) {
    return Status::InvalidArgument("parameters: expected an object");
  }
  simdjson::dom::array inputs;
  if (doc["inputs"].get(e) || e.get_array().get(inputs)) {
    return Status::InvalidArgument("inputs: expected an array of tensors");
  }
  if (inputs.size() != 1) {
    return Status::InvalidArgument(
        fmt::format("inputs: expected exactly one tensor '{}', got {}", kInputName, inputs.size()));
  }
  simdjson::dom::element input = inputs.at(0);
  std::string_view name, datatype;
  if (input["name"].get_string().get(name)) {
    return Status::InvalidArgument("inputs[0].name: expected a string");
  }
  if (name != kInputName) {
    return Status::InvalidArgument(fmt::format(
        "inputs[0].name: unknown input '{}' (the model's input is '{}')", name, kInputName));
  }
  if (input["datatype"].get_string().get(datatype)) {
    return Status::InvalidArgument("inputs[0].datatype: expected a string");
  }
  if (datatype != "FP32" && datatype != "FP64" && datatype != "INT64" && datatype != "BOOL") {
    return Status::InvalidArgument(fmt::format(
        "inputs[0].datatype: unsupported '{}' (use FP32, FP64, INT64 or BOOL)", datatype));
  }
  simdjson::dom::array shape;
  if (input["shape"].get_array().get(shape) || shape.size() != 2) {
    return Status::InvalidArgument("inputs[0].shape: expected [rows, features]");
  }
  int64_t dims[2];
  for (size_t i = 0; i < 2; ++i) {
    if (shape.at(i).get_int64().get(dims[i]) || dims[i] < 0) {
      return Status::InvalidArgument("inputs[0].shape: expected non-negative integers");
    }
  }
  if (num_features >= 0 && dims[1] != num_features) {
    return Status::InvalidArgument(fmt::format(
        "inputs[0].shape: {} features per row, but the model takes {}", dims[1], num_features));
  }
  out.rows = static_cast<size_t>(dims[0]);
  out.cols = static_cast<size_t>(dims[1]);
  if (input["data"].get(e)) return Status::InvalidArgument("inputs[0].data: missing");
  RETURN_IF_ERROR(AppendData(e, datatype, &out.data));
  if (out.data.size() != out.rows * out.cols) {
    return Status::InvalidArgument(
        fmt::format("inputs[0].data: {} values, but shape [{}, {}] needs {}", out.data.size(),
                    out.rows, out.cols, out.rows * out.cols));
  }
  if (!doc["outputs"].get(e)) {
    simdjson::dom::array outputs;
    if (e.get_array().get(outputs)) return Status::InvalidArgument("outputs: expected an array");
    for (simdjson::dom::element o : outputs) {
      std::string_view wanted;
      if (o["name"].get_string().get(wanted) || wanted != kOutputName) {
        return Status::InvalidArgument(
            fmt::format("outputs: the model's only output is '{}'", kOutputName));
      }
    }
  }
  return out;
}

void Infer(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  auto model = LoadModel(instance, req);
  if (!model.ok()) return SetV2Error(res, model.status());
  auto request = ParseInfer(req.body, model->runtime->num_features());
  if (!request.ok()) return SetV2Error(res, request.status());
  std::vector<float> scores;
  if (request->rows > 0) {
    Status s = model->runtime->Predict(request->data.data(), request->rows, request->cols, &scores);
    if (!s.ok()) return SetV2Error(res, s);
  }
  const size_t per_row = request->rows == 0 ? 1 : scores.size() / request->rows;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("model_name");
  w.String(model->version.name.c_str());
  w.Key("model_version");
  w.String(std::to_string(model->version.version).c_str());
  if (request->has_id) {
    w.Key("id");
    w.String(request->id.c_str(), static_cast<rapidjson::SizeType>(request->id.size()));
  }
  w.Key("outputs");
  w.StartArray();
  w.StartObject();
  w.Key("name");
  w.String(kOutputName);
  w.Key("shape");
  w.StartArray();
  w.Uint64(request->rows);
  w.Uint64(per_row);
  w.EndArray();
  w.Key("datatype");
  w.String("FP32");
  w.Key("data");
  w.StartArray();
  for (float s : scores) w.Double(s);
  w.EndArray();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  res->body = buf.GetString();
}

}  // namespace

Status RegisterV2Routes(Router* router, Instance* instance) {
  RETURN_IF_ERROR(router->Add("GET", "/v2", [](const HttpRequest&, HttpResponse* res) {
    res->body = R"({"name":"freshet","version":"0.1.0","extensions":[]})";
  }));
  RETURN_IF_ERROR(router->Add("GET", "/v2/health/live", [](const HttpRequest&, HttpResponse* res) {
    res->content_type = "text/plain";
  }));
  RETURN_IF_ERROR(
      router->Add("GET", "/v2/health/ready", [instance](const HttpRequest&, HttpResponse* res) {
        res->content_type = "text/plain";
        if (!instance->health().ok()) res->status = 400;
      }));
  for (const char* prefix : {"/v2/models/{model}", "/v2/models/{model}/versions/{version}"}) {
    const std::string p = prefix;
    RETURN_IF_ERROR(router->Add("GET", p, [instance](const HttpRequest& req, HttpResponse* res) {
      ModelMetadata(instance, req, res);
    }));
    RETURN_IF_ERROR(router->Add(
        "GET", p + "/ready",
        [instance](const HttpRequest& req, HttpResponse* res) { ModelReady(instance, req, res); }));
    RETURN_IF_ERROR(router->Add(
        "POST", p + "/infer",
        [instance](const HttpRequest& req, HttpResponse* res) { Infer(instance, req, res); }));
  }
  return Status::Ok();
}

}  // namespace freshet
