#include "models/linear_runtime.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "models/artifact_file.h"

namespace freshet {
namespace {

Status BadArtifact(const std::string& path, std::string_view why) {
  return Status::InvalidArgument(fmt::format("linear model {}: {}", path, why));
}

std::optional<LinearRuntime::Link> ParseLink(std::string_view name) {
  if (name == "identity") return LinearRuntime::Link::kIdentity;
  if (name == "logistic") return LinearRuntime::Link::kLogistic;
  return std::nullopt;
}

std::optional<LinearRuntime::Link> ParseKind(std::string_view name) {
  if (name == "regression") return LinearRuntime::Link::kIdentity;
  if (name == "logistic") return LinearRuntime::Link::kLogistic;
  if (name == "multinomial") return LinearRuntime::Link::kSoftmax;
  if (name == "ovr") return LinearRuntime::Link::kOneVsRest;
  return std::nullopt;
}

bool ParseNumbers(const rapidjson::Value& value, std::vector<double>* out) {
  if (!value.IsArray()) return false;
  for (const rapidjson::Value& w : value.GetArray()) {
    if (!w.IsNumber()) return false;
    out->push_back(w.GetDouble());
  }
  return true;
}

// A number or an array of numbers.
bool ParseNumberOrNumbers(const rapidjson::Value& value, std::vector<double>* out) {
  if (!value.IsNumber()) return ParseNumbers(value, out);
  out->push_back(value.GetDouble());
  return true;
}

// An array of numbers (one row) or a non-empty array of equally long arrays of numbers; the
// rows are appended to *out row-major and counted in *rows.
bool ParseMatrix(const rapidjson::Value& value, std::vector<double>* out, size_t* rows) {
  if (!value.IsArray()) return false;
  if (value.Empty() || !value[0].IsArray()) {
    *rows = 1;
    return ParseNumbers(value, out);
  }
  *rows = value.Size();
  for (const rapidjson::Value& row : value.GetArray()) {
    if (!row.IsArray() || row.Size() != value[0].Size() || !ParseNumbers(row, out)) return false;
  }
  return true;
}

// Class names as strings: strings as they are, numbers (sklearn's integer labels) as JSON text.
bool ParseClasses(const rapidjson::Value& value, std::vector<std::string>* out) {
  if (!value.IsArray()) return false;
  for (const rapidjson::Value& c : value.GetArray()) {
    if (c.IsString()) {
      out->emplace_back(c.GetString(), c.GetStringLength());
    } else if (c.IsInt64()) {
      out->push_back(std::to_string(c.GetInt64()));
    } else if (c.IsNumber()) {
      out->push_back(fmt::format("{}", c.GetDouble()));
    } else {
      return false;
    }
  }
  return true;
}

double Sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

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
  doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());  // no recursion
  if (doc.HasParseError()) {
    return BadArtifact(path, fmt::format("invalid JSON at offset {}: {}", doc.GetErrorOffset(),
                                         rapidjson::GetParseError_En(doc.GetParseError())));
  }
  if (!doc.IsObject()) return BadArtifact(path, "expected a JSON object");
  std::vector<double> weights, intercepts;
  std::vector<std::string> classes;
  size_t rows = 0;
  std::optional<Link> link, kind;
  bool hand_written = false, exported = false, has_intercept = false;
  std::set<std::string_view> seen;
  // Members by index: comparing RapidJSON's member iterators is ambiguous in C++20
  // (clang's -Wambiguous-reversed-operator).
  for (rapidjson::SizeType i = 0; i < doc.MemberCount(); ++i) {
    const auto& member = doc.MemberBegin()[i];
    std::string_view key(member.name.GetString(), member.name.GetStringLength());
    const rapidjson::Value& value = member.value;
    if (!seen.insert(key).second)
      return BadArtifact(path, fmt::format("duplicate key \"{}\"", key));
    bool ok = false;
    if (key == "weights") {
      hand_written = true;
      ok = ParseNumbers(value, &weights);
      rows = 1;
    } else if (key == "bias") {
      hand_written = has_intercept = true;
      ok = value.IsNumber();
      if (ok) intercepts = {value.GetDouble()};
    } else if (key == "link") {
      hand_written = true;
      ok = value.IsString() && (link = ParseLink(value.GetString())).has_value();
    } else if (key == "kind") {
      exported = true;
      ok = value.IsString() && (kind = ParseKind(value.GetString())).has_value();
    } else if (key == "coef") {
      exported = true;
      ok = ParseMatrix(value, &weights, &rows);
    } else if (key == "intercept") {
      exported = has_intercept = true;
      ok = ParseNumberOrNumbers(value, &intercepts);
    } else if (key == "classes") {
      exported = true;
      ok = ParseClasses(value, &classes);
    } else if (key == "estimator") {
      ok = value.IsString();
    }
    if (!ok) {
      return BadArtifact(
          path, fmt::format("bad or unknown key \"{}\" (expected \"weights\": [numbers], "
                            "\"bias\": number, \"link\": \"identity\" or \"logistic\"; or "
                            "\"kind\": \"regression\", \"logistic\", \"multinomial\" or \"ovr\", "
                            "\"coef\", \"intercept\", \"classes\")",
                            key));
    }
  }
  if (hand_written && exported) {
    return BadArtifact(path,
                       "mixes the hand-written keys (weights, bias, link) with the "
                       "exported ones (kind, coef, intercept, classes)");
  }
  if (exported && !kind) return BadArtifact(path, "\"kind\" is missing");
  if (weights.empty()) {
    return BadArtifact(path, exported ? "\"coef\" is missing, empty or ragged"
                                      : "\"weights\" is missing or empty");
  }
  if (!has_intercept) intercepts.assign(rows, 0.0);
  if (intercepts.size() != rows) {
    return BadArtifact(path,
                       fmt::format("{} intercepts for {} coef rows", intercepts.size(), rows));
  }
  Link chosen = kind.value_or(link.value_or(Link::kIdentity));
  if (chosen == Link::kLogistic && rows != 1) {
    return BadArtifact(path, fmt::format("a logistic model has one coef row, not {}", rows));
  }
  if ((chosen == Link::kSoftmax || chosen == Link::kOneVsRest) && rows < 2) {
    return BadArtifact(path, "a multinomial or ovr model has a coef row per class (at least 2)");
  }
  size_t expected_classes = chosen == Link::kLogistic ? 2 : rows;
  if (!classes.empty() && classes.size() != expected_classes) {
    return BadArtifact(path,
                       fmt::format("{} classes, expected {}", classes.size(), expected_classes));
  }
  n_features_ = weights.size() / rows;
  weights_ = std::move(weights);
  intercepts_ = std::move(intercepts);
  link_ = chosen;
  classes_ = std::move(classes);
  return Status::Ok();
}

Status LinearRuntime::Predict(const float* rows, size_t n_rows, size_t n_cols,
                              std::vector<float>* out) const {
  if (!loaded_) return Status::FailedPrecondition("linear runtime: Predict before Load");
  if (n_cols != n_features_) {
    return Status::InvalidArgument(
        fmt::format("linear model expects {} features, got {}", n_features_, n_cols));
  }
  if (rows == nullptr && n_rows > 0) return Status::InvalidArgument("linear runtime: rows is null");
  const size_t width = outputs();
  out->resize(n_rows * width);
  std::vector<double> scores(intercepts_.size());
  for (size_t r = 0; r < n_rows; ++r) {
    Score(rows + r * n_cols, &scores, out->data() + r * width);
  }
  return Status::Ok();
}

void LinearRuntime::Score(const float* row, std::vector<double>* scores, float* out) const {
  std::vector<double>& z = *scores;
  std::copy(intercepts_.begin(), intercepts_.end(), z.begin());
  for (size_t c = 0; c < z.size(); ++c) {
    const double* w = &weights_[c * n_features_];
    for (size_t i = 0; i < n_features_; ++i) {
      if (!std::isnan(row[i])) z[c] += w[i] * row[i];
    }
  }
  double total = 0;
  switch (link_) {
    case Link::kIdentity:
      break;
    case Link::kLogistic:
      z[0] = Sigmoid(z[0]);
      break;
    case Link::kSoftmax: {
      const double top = *std::max_element(z.begin(), z.end());  // exp cannot overflow
      for (double& v : z) total += (v = std::exp(v - top));
      for (double& v : z) v /= total;
      break;
    }
    case Link::kOneVsRest:
      for (double& v : z) total += (v = Sigmoid(v));
      for (double& v : z) v /= total;
      break;
  }
  for (size_t c = 0; c < outputs(); ++c) out[c] = static_cast<float>(z[c]);
}

}  // namespace freshet
