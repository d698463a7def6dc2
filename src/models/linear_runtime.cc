#include "models/linear_runtime.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cmath>

#include "models/artifact_file.h"

namespace freshet {
namespace {

Status BadArtifact(const std::string& path, std::string_view why) {
  return Status::InvalidArgument(fmt::format("linear model {}: {}", path, why));
}

bool ParseLink(std::string_view name, LinearRuntime::Link* out) {
  if (name == "identity") {
    *out = LinearRuntime::Link::kIdentity;
  } else if (name == "logistic") {
    *out = LinearRuntime::Link::kLogistic;
  } else {
    return false;
  }
  return true;
}

bool ParseWeights(const rapidjson::Value& value, std::vector<double>* out) {
  if (!value.IsArray()) return false;
  for (const rapidjson::Value& w : value.GetArray()) {
    if (!w.IsNumber()) return false;
    out->push_back(w.GetDouble());
  }
  return true;
}

}  // namespace

Status LinearRuntime::Load(const std::string& artifact_path) {
  if (loaded_) return Status::FailedPrecondition("linear runtime is already loaded");
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(artifact_path));
  RETURN_IF_ERROR(Parse(text, artifact_path));
  loaded_ = true;
  return Status::Ok();
}

Status LinearRuntime::Parse(const std::string& text, const std::string& path) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    return BadArtifact(path, fmt::format("invalid JSON at offset {}: {}", doc.GetErrorOffset(),
                                         rapidjson::GetParseError_En(doc.GetParseError())));
  }
  if (!doc.IsObject()) return BadArtifact(path, "expected a JSON object");
  std::vector<double> weights;
  double bias = 0;
  Link link = Link::kIdentity;
  for (const auto& member : doc.GetObject()) {
    std::string_view key(member.name.GetString(), member.name.GetStringLength());
    const rapidjson::Value& value = member.value;
    bool ok = false;
    if (key == "weights") {
      ok = ParseWeights(value, &weights);
    } else if (key == "bias") {
      ok = value.IsNumber();
      if (ok) bias = value.GetDouble();
    } else if (key == "link") {
      ok = value.IsString() && ParseLink(value.GetString(), &link);
    }
    if (!ok) {
      return BadArtifact(path, fmt::format("bad or unknown key \"{}\" (expected \"weights\": "
                                           "[numbers], \"bias\": number, \"link\": "
                                           "\"identity\" or \"logistic\")",
                                           key));
    }
  }
  if (weights.empty()) return BadArtifact(path, "\"weights\" is missing or empty");
  weights_ = std::move(weights);
  bias_ = bias;
  link_ = link;
  return Status::Ok();
}

Status LinearRuntime::Predict(const float* rows, size_t n_rows, size_t n_cols,
                              std::vector<float>* out) const {
  if (!loaded_) return Status::FailedPrecondition("linear runtime: Predict before Load");
  if (n_cols != weights_.size()) {
    return Status::InvalidArgument(
        fmt::format("linear model expects {} features, got {}", weights_.size(), n_cols));
  }
  if (rows == nullptr && n_rows > 0) return Status::InvalidArgument("linear runtime: rows is null");
  out->resize(n_rows);
  for (size_t r = 0; r < n_rows; ++r) (*out)[r] = Score(rows + r * n_cols);
  return Status::Ok();
}

float LinearRuntime::Score(const float* row) const {
  double z = bias_;
  for (size_t i = 0; i < weights_.size(); ++i) {
    if (!std::isnan(row[i])) z += weights_[i] * row[i];
  }
  if (link_ == Link::kLogistic) z = 1.0 / (1.0 + std::exp(-z));
  return static_cast<float>(z);
}

}  // namespace freshet
