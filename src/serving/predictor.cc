#include "serving/predictor.h"

#include <fmt/format.h>

#include <algorithm>
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
                     ModelCache* models, MetricsRegistry* metrics, const ReleaseStore* releases)
    : spec_(spec),
      features_(features),
      registry_(registry),
      models_(models),
      releases_(releases),
      router_(spec, registry, models, metrics),
      by_attribute_(spec, registry, models) {
  latency_ = metrics
                 ->GetHistogram("freshet_predict_duration_seconds",
                                "Time to fetch features and score one predict request")
                 ->WithLabels({});
  for (const auto& [name, d] : spec->deployments) {
    if (d.batching.max_batch <= 0) continue;
    MicroBatcher::Options options;
    options.max_batch_rows = static_cast<size_t>(d.batching.max_batch);
    options.max_delay = std::chrono::microseconds(d.batching.max_delay_us);
    batchers_.emplace(name, std::make_unique<MicroBatcher>(options));
  }
}

Result<LoadedModel> Predictor::Load(const std::string& model, std::string_view ref) {
  LoadedModel out;
  ASSIGN_OR_RETURN(out.version, registry_->Resolve(model, ref));
  ASSIGN_OR_RETURN(out.runtime, models_->Get(out.version));
  return out;
}

Status Predictor::ApplyContext(const FeatureServiceSpec& service, const PredictContext& context,
                               FeatureTable* table, std::string_view routing_field) const {
  for (const auto& [name, values] : context) {
    if (IsContextInput(service, name) || name == routing_field) continue;
    std::optional<size_t> column;
    for (size_t c = 0; c < table->features.size(); ++c) {
      const FeatureRef& ref = table->features[c];
      if (name != ref.ToString() && name != ref.feature) continue;
      if (column && name == ref.feature) {
        return Status::InvalidArgument(
            fmt::format("context.{}: ambiguous, name the feature as view:feature", name));
      }
      column = c;
    }
    if (!column) {
      return Status::InvalidArgument(
          fmt::format("context.{}: not a feature of the deployment's feature service", name));
    }
    if (values.size() != table->num_rows) {
      return Status::InvalidArgument(fmt::format("context.{}: {} values for {} entity rows", name,
                                                 values.size(), table->num_rows));
    }
    for (size_t r = 0; r < table->num_rows; ++r) {
      table->values[*column][r] = values[r];
      table->statuses[*column][r] = ReadStatus::kPresent;
      table->event_ms[*column][r] = 0;
    }
  }
  return Status::Ok();
}

Result<Prediction> Predictor::Predict(const std::string& deployment, const EntityColumns& entities,
                                      std::optional<int64_t> as_of_ms,
                                      const PredictContext& context, int32_t top_k) {
  auto start = std::chrono::steady_clock::now();
  auto it = spec_->deployments.find(deployment);
  if (it == spec_->deployments.end()) {
    return Status::NotFound(fmt::format("unknown deployment '{}'", deployment));
  }
  const DeploymentSpec& d = it->second;
  auto batcher = batchers_.find(deployment);
  MicroBatcher* batching = batcher == batchers_.end() ? nullptr : batcher->second.get();
  MicroBatcher::Announcement on_the_way(batching);
  const FeatureServiceSpec& service = spec_->feature_services.at(d.feature_service);
  ASSIGN_OR_RETURN(std::vector<FeatureRef> refs, features_->ServiceFeatures(d.feature_service));
  ASSIGN_OR_RETURN(ReleaseSnapshot release, TakeRelease(releases_, d, refs, *features_));
  // A release pins its model version; without one the deployment's alias or traffic split. A
  // model_by deployment has no route: each row is scored by its segment's model.
  std::shared_ptr<const TrafficRouter::Route> route;
  if (!d.model_by) {
    ASSIGN_OR_RETURN(route,
                     router_.Current(deployment, release.release != 0 ? release.model_ref : ""));
  }
  if (route && route->arms[0].model.runtime->input() == RuntimeInput::kText) {
    // A text deployment serves its first version: traffic splits score feature rows.
    ASSIGN_OR_RETURN(Prediction text,
                     PredictText(d, route->arms[0].model, entities, as_of_ms, context, top_k));
    text.release = release.release;
    latency_->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return text;
  }
  ASSIGN_OR_RETURN(RequestFeatures request_features, BindRequestFeatures(service));
  const size_t cols = refs.size() + request_features.width();
  // The caller cannot fix this one by changing the request: the deployment is misconfigured.
  // (The router checks services without request features when it loads a version.)
  for (size_t a = 0; route && a < route->arms.size(); ++a) {
    const ModelVersion& version = route->arms[a].model.version;
    if (version.num_features >= 0 && static_cast<size_t>(version.num_features) != cols) {
      return Status::FailedPrecondition(fmt::format(
          "deployment '{}': model {} v{} takes {} features but feature service '{}' has {}",
          deployment, version.name, version.version, version.num_features, d.feature_service,
          cols));
    }
  }

  Prediction out;
  // A model_by attribute that is a feature outside the service is read with it (last column).
  const InputRef* routing = d.model_by ? &d.model_by->attribute : nullptr;
  const size_t n_features = refs.size();
  if (routing != nullptr && !routing->from_context() &&
      std::none_of(refs.begin(), refs.end(), [&](const FeatureRef& r) {
        return r.view == routing->feature.view && r.feature == routing->feature.feature;
      })) {
    refs.push_back(routing->feature);
  }
  ASSIGN_OR_RETURN(out.features, features_->Get(refs, entities, as_of_ms, &release.generations));
  RETURN_IF_ERROR(ApplyContext(service, context, &out.features,
                               routing != nullptr ? routing->context_field : std::string_view()));
  const size_t rows = out.features.num_rows;
  std::vector<float> input(rows * cols);
  for (size_t c = 0; c < n_features; ++c) {
    for (size_t r = 0; r < rows; ++r) input[r * cols + c] = ToModelInput(out.features.values[c][r]);
  }
  RETURN_IF_ERROR(request_features.ComputeRows(*features_, entities, as_of_ms, context, rows, cols,
                                               n_features, input.data()));
  if (route) {
    RETURN_IF_ERROR(router_.Score(route, entities, input.data(), rows, cols, batching, &on_the_way,
                                  &out.scores, &out.versions));
    out.model = d.model;
    out.version = out.versions.empty() ? route->arms[0].model.version.version : out.versions[0];
  } else {
    RETURN_IF_ERROR(by_attribute_.Score(d, out.features, context, input.data(), rows, cols,
                                        batching, &on_the_way, &out.scores, &out.versions,
                                        &out.models));
    if (rows > 0) {
      out.model = out.models[0];
      out.version = out.versions[0];
    }
  }
  out.release = release.release;
  out.generations = std::move(release.generations);
  latency_->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return out;
}

}  // namespace freshet
