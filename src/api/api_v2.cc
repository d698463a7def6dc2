// The Open Inference Protocol (KServe v2) REST API, as Triton serves it:
//   GET  /v2                                   server metadata {name, version, extensions}
//   GET  /v2/health/live, /v2/health/ready     200 or 400, empty body
//   GET  /v2/models/{m}[/versions/{v}]         model metadata
//   GET  /v2/models/{m}[/versions/{v}]/ready   200 or 400/404, empty body
//   POST /v2/models/{m}[/versions/{v}]/infer   inference on raw feature rows, or on texts for a
//                                              text model (fasttext): input "text" (BYTES, shape
//                                              [n] or [n, 1]), outputs "labels" (BYTES) and
//                                              "probabilities" (FP32), shape [n, k], k from the
//                                              request's parameters {"k": K} (default 1); a row
//                                              with fewer labels (an empty text) is padded with
//                                              "" and 0
// {m} is a registered model name, {v} a version number or alias; without a version, the
// `champion` alias, else the latest version. Deployments are not addressable here (they read
// features by entity: POST /v1/predict/{deployment}). Errors follow the protocol: {"error": "..."}
// with the status SetError would use.
#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "api/api.h"
#include "core/json.h"
#include "server/json_error.h"

namespace freshet {
namespace {

constexpr const char* kInputName = "input__0";
constexpr const char* kOutputName = "output__0";
// A text model's tensors.
constexpr const char* kTextInputName = "text";
constexpr const char* kLabelsOutputName = "labels";
constexpr const char* kProbabilitiesOutputName = "probabilities";
constexpr int64_t kMaxTopK = 1000;

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

// A tensor of shape [-1] (width 0) or [-1, width].
void WriteTensorMetadata(JsonWriter* w, const char* name, int64_t width,
                         const char* datatype = "FP32") {
  w->StartObject();
  w->Key("name");
  w->String(name);
  w->Key("datatype");
  w->String(datatype);
  w->Key("shape");
  w->StartArray();
  w->Int64(-1);
  if (width != 0) w->Int64(width);
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
  const bool text = model->runtime->input() == RuntimeInput::kText;
  w.Key("inputs");
  w.StartArray();
  if (text) {
    WriteTensorMetadata(&w, kTextInputName, 0, "BYTES");
  } else {
    WriteTensorMetadata(&w, kInputName, model->runtime->num_features());
  }
  w.EndArray();
  w.Key("outputs");
  w.StartArray();
  if (text) {
    WriteTensorMetadata(&w, kLabelsOutputName, -1, "BYTES");
    WriteTensorMetadata(&w, kProbabilitiesOutputName, -1);
  } else {
    WriteTensorMetadata(&w, kOutputName, -1);
  }
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
  std::vector<float> data;         // feature rows, row-major
  std::vector<std::string> texts;  // a text model's input
  int32_t k = 1;                   // a text model's labels per row (parameters.k)
};

// The request's id, parameters (`k` for a text model) and requested outputs (each one of
// `outputs`), and its one input tensor, which must be named `input_name`, into *input.
Status ParseEnvelope(simdjson::dom::element doc, const char* input_name,
                     const std::vector<const char*>& outputs, InferRequest* out,
                     simdjson::dom::element* input) {
  if (!doc.is_object()) return Status::InvalidArgument("expected a JSON object");
  simdjson::dom::element e;
  if (!doc["id"].get(e)) {
    std::string_view id;
    if (e.get_string().get(id)) return Status::InvalidArgument("id: expected a string");
    out->id = id;
    out->has_id = true;
  }
  if (!doc["parameters"].get(e)) {
    if (!e.is_object()) return Status::InvalidArgument("parameters: expected an object");
    simdjson::dom::element k;
    if (!e["k"].get(k)) {
      int64_t value = 0;
      if (k.get_int64().get(value) || value < 1 || value > kMaxTopK) {
        return Status::InvalidArgument(fmt::format(
            "parameters.k: expected an integer from 1 to {} (labels per row)", kMaxTopK));
      }
      out->k = static_cast<int32_t>(value);
    }
  }
  simdjson::dom::array inputs;
  if (doc["inputs"].get(e) || e.get_array().get(inputs)) {
    return Status::InvalidArgument("inputs: expected an array of tensors");
  }
  if (inputs.size() != 1) {
    return Status::InvalidArgument(
        fmt::format("inputs: expected exactly one tensor '{}', got {}", input_name, inputs.size()));
  }
  *input = inputs.at(0);
  std::string_view name;
  if ((*input)["name"].get_string().get(name)) {
    return Status::InvalidArgument("inputs[0].name: expected a string");
  }
  if (name != input_name) {
    return Status::InvalidArgument(fmt::format(
        "inputs[0].name: unknown input '{}' (the model's input is '{}')", name, input_name));
  }
  if (!doc["outputs"].get(e)) {
    simdjson::dom::array wanted;
    if (e.get_array().get(wanted)) return Status::InvalidArgument("outputs: expected an array");
    for (simdjson::dom::element o : wanted) {
      std::string_view output;
      if (o["name"].get_string().get(output) ||
          std::none_of(outputs.begin(), outputs.end(),
                       [&](const char* known) { return output == known; })) {
        return Status::InvalidArgument(
            fmt::format("outputs: the model's outputs are '{}'", fmt::join(outputs, "', '")));
      }
    }
  }
  return Status::Ok();
}

Result<std::string_view> Datatype(simdjson::dom::element input) {
  std::string_view datatype;
  if (input["datatype"].get_string().get(datatype)) {
    return Status::InvalidArgument("inputs[0].datatype: expected a string");
  }
  return datatype;
}

// The shape's non-negative dimensions; kInvalidArgument (`expected` naming the shape) unless
// it has between 1 and `max_dims` of them.
Result<std::vector<int64_t>> Shape(simdjson::dom::element input, size_t min_dims, size_t max_dims,
                                   std::string_view expected) {
  simdjson::dom::array shape;
  if (input["shape"].get_array().get(shape) || shape.size() < min_dims || shape.size() > max_dims) {
    return Status::InvalidArgument(fmt::format("inputs[0].shape: expected {}", expected));
  }
  std::vector<int64_t> dims;
  for (simdjson::dom::element d : shape) {
    int64_t value = 0;
    if (d.get_int64().get(value) || value < 0) {
      return Status::InvalidArgument("inputs[0].shape: expected non-negative integers");
    }
    dims.push_back(value);
  }
  return dims;
}

// A feature-row model's tensor "input__0": [rows, features] numbers.
Status ParseRows(simdjson::dom::element input, int64_t num_features, InferRequest* out) {
  ASSIGN_OR_RETURN(std::string_view datatype, Datatype(input));
  if (datatype != "FP32" && datatype != "FP64" && datatype != "INT64" && datatype != "BOOL") {
    return Status::InvalidArgument(fmt::format(
        "inputs[0].datatype: unsupported '{}' (use FP32, FP64, INT64 or BOOL)", datatype));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> dims, Shape(input, 2, 2, "[rows, features]"));
  if (num_features >= 0 && dims[1] != num_features) {
    return Status::InvalidArgument(fmt::format(
        "inputs[0].shape: {} features per row, but the model takes {}", dims[1], num_features));
  }
  out->rows = static_cast<size_t>(dims[0]);
  out->cols = static_cast<size_t>(dims[1]);
  simdjson::dom::element e;
  if (input["data"].get(e)) return Status::InvalidArgument("inputs[0].data: missing");
  RETURN_IF_ERROR(AppendData(e, datatype, &out->data));
  if (out->data.size() != out->rows * out->cols) {
    return Status::InvalidArgument(
        fmt::format("inputs[0].data: {} values, but shape [{}, {}] needs {}", out->data.size(),
                    out->rows, out->cols, out->rows * out->cols));
  }
  return Status::Ok();
}

// Appends the strings of `e` (a flat or nested array) to *out.
Status AppendTexts(simdjson::dom::element e, std::vector<std::string>* out) {
  simdjson::dom::array array;
  if (!e.get_array().get(array)) {
    for (simdjson::dom::element item : array) RETURN_IF_ERROR(AppendTexts(item, out));
    return Status::Ok();
  }
  std::string_view text;
  if (e.get_string().get(text)) {
    return Status::InvalidArgument("inputs[0].data: BYTES expects strings (one text per row)");
  }
  out->emplace_back(text);
  return Status::Ok();
}

// A text model's tensor "text": [rows] or [rows, 1] strings.
Status ParseTexts(simdjson::dom::element input, InferRequest* out) {
  ASSIGN_OR_RETURN(std::string_view datatype, Datatype(input));
  if (datatype != "BYTES") {
    return Status::InvalidArgument(
        fmt::format("inputs[0].datatype: unsupported '{}' (a text model takes BYTES)", datatype));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> dims, Shape(input, 1, 2, "[rows] or [rows, 1]"));
  if (dims.size() == 2 && dims[1] != 1) {
    return Status::InvalidArgument(
        "inputs[0].shape: expected [rows] or [rows, 1] (one text per row)");
  }
  out->rows = static_cast<size_t>(dims[0]);
  simdjson::dom::element e;
  if (input["data"].get(e)) return Status::InvalidArgument("inputs[0].data: missing");
  RETURN_IF_ERROR(AppendTexts(e, &out->texts));
  if (out->texts.size() != out->rows) {
    return Status::InvalidArgument(fmt::format(
        "inputs[0].data: {} texts, but the shape has {} rows", out->texts.size(), out->rows));
  }
  return Status::Ok();
}

Result<InferRequest> ParseInfer(std::string_view body, const ModelRuntime& runtime) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc, input;
  if (auto error = parser.parse(body.data(), body.size()).get(doc)) {
    return Status::InvalidArgument(
        fmt::format("malformed JSON: {}", simdjson::error_message(error)));
  }
  InferRequest out;
  if (runtime.input() == RuntimeInput::kText) {
    RETURN_IF_ERROR(ParseEnvelope(doc, kTextInputName,
                                  {kLabelsOutputName, kProbabilitiesOutputName}, &out, &input));
    RETURN_IF_ERROR(ParseTexts(input, &out));
  } else {
    RETURN_IF_ERROR(ParseEnvelope(doc, kInputName, {kOutputName}, &out, &input));
    RETURN_IF_ERROR(ParseRows(input, runtime.num_features(), &out));
  }
  return out;
}

void WriteOutputTensor(JsonWriter* w, const char* name, const char* datatype, size_t rows,
                       size_t per_row) {
  w->Key("name");
  w->String(name);
  w->Key("shape");
  w->StartArray();
  w->Uint64(rows);
  w->Uint64(per_row);
  w->EndArray();
  w->Key("datatype");
  w->String(datatype);
}

// The outputs of a feature-row model: one tensor of scores.
Status WriteScores(const ModelRuntime& runtime, const InferRequest& request, JsonWriter* w) {
  std::vector<float> scores;
  if (request.rows > 0) {
    RETURN_IF_ERROR(runtime.Predict(request.data.data(), request.rows, request.cols, &scores));
  }
  const size_t per_row = request.rows == 0 ? 1 : scores.size() / request.rows;
  w->StartObject();
  WriteOutputTensor(w, kOutputName, "FP32", request.rows, per_row);
  w->Key("data");
  w->StartArray();
  for (float s : scores) w->Double(s);
  w->EndArray();
  w->EndObject();
  return Status::Ok();
}

// The outputs of a text model: labels and probabilities, [rows, most labels of a row], padded.
Status WriteLabels(const ModelRuntime& runtime, const InferRequest& request, JsonWriter* w) {
  std::vector<std::vector<TextLabel>> labels;
  if (request.rows > 0)
    RETURN_IF_ERROR(runtime.PredictText(request.texts, request.k, 0.0f, &labels));
  size_t per_row = 0;
  for (const auto& row : labels) per_row = std::max(per_row, row.size());
  w->StartObject();
  WriteOutputTensor(w, kLabelsOutputName, "BYTES", request.rows, per_row);
  w->Key("data");
  w->StartArray();
  for (const auto& row : labels) {
    for (size_t i = 0; i < per_row; ++i) {
      const std::string label = i < row.size() ? row[i].label : "";
      w->String(label.data(), static_cast<rapidjson::SizeType>(label.size()));
    }
  }
  w->EndArray();
  w->EndObject();
  w->StartObject();
  WriteOutputTensor(w, kProbabilitiesOutputName, "FP32", request.rows, per_row);
  w->Key("data");
  w->StartArray();
  for (const auto& row : labels) {
    for (size_t i = 0; i < per_row; ++i) w->Double(i < row.size() ? row[i].probability : 0.0);
  }
  w->EndArray();
  w->EndObject();
  return Status::Ok();
}

void Infer(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  auto model = LoadModel(instance, req);
  if (!model.ok()) return SetV2Error(res, model.status());
  auto request = ParseInfer(req.body, *model->runtime);
  if (!request.ok()) return SetV2Error(res, request.status());
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
  Status written = model->runtime->input() == RuntimeInput::kText
                       ? WriteLabels(*model->runtime, *request, &w)
                       : WriteScores(*model->runtime, *request, &w);
  if (!written.ok()) return SetV2Error(res, written);
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
