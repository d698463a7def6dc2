#include "serving/predictor.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <limits>

namespace freshet {
namespace {

float ToModelInput(const Value& v) {
  if (v.is_number()) return static_cast<float>(v.to_double());
  if (v.is_bool()) return v.as_bool() ? 1.0f : 0.0f;
  return std::numeric_limits<float>::quiet_NaN();
}

}  // namespace

Predictor::Predictor(const ProjectSpec* spec, FeatureStore* features, ModelRegistry* registry,
                     ModelCache* models, MetricsRegistry* metrics)
    : spec_(spec), features_(features), registry_(registry), models_(models) {
  latency_ = metrics
                 ->GetHistogram("freshet_predict_duration_seconds",
                                "Time to fetch features and score one predict request")
                 ->WithLabels({});
}

Result<Prediction> Predictor::Predict(const std::string& deployment, const EntityColumns& entities,
                                      std::optional<int64_t> as_of_ms) {
  auto start = std::chrono::steady_clock::now();
  auto it = spec_->deployments.find(deployment);
  if (it == spec_->deployments.end()) {
    return Status::NotFound(fmt::format("unknown deployment '{}'", deployment));
  }
  const DeploymentSpec& d = it->second;
  ASSIGN_OR_RETURN(ModelVersion version, registry_->Resolve(d.model, d.alias));
  ASSIGN_OR_RETURN(auto runtime, models_->Get(version));
  ASSIGN_OR_RETURN(std::vector<FeatureRef> refs, features_->ServiceFeatures(d.feature_service));
  // The caller cannot fix this one by changing the request: the deployment is misconfigured.
  if (version.num_features >= 0 && static_cast<size_t>(version.num_features) != refs.size()) {
    return Status::FailedPrecondition(fmt::format(
        "deployment '{}': model {} v{} takes {} features but feature service '{}' has {}",
        deployment, version.name, version.version, version.num_features, d.feature_service,
        refs.size()));
  }

  Prediction out;
  ASSIGN_OR_RETURN(out.features, features_->Get(refs, entities, as_of_ms));
  const size_t rows = out.features.num_rows, cols = refs.size();
  std::vector<float> input(rows * cols);
  for (size_t c = 0; c < cols; ++c) {
    for (size_t r = 0; r < rows; ++r) input[r * cols + c] = ToModelInput(out.features.values[c][r]);
  }
  std::vector<float> scores;
  RETURN_IF_ERROR(runtime->Predict(input.data(), rows, cols, &scores));
  out.scores.assign(scores.begin(), scores.end());
  out.model = version.name;
  out.version = version.version;
  latency_->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return out;
}

}  // namespace freshet
