// Predictor: serves deployments. A deployment joins a model alias with a feature service:
// for each entity it reads the service's features (at now or `as_of`), builds the model's input
// row in service order (null -> NaN, bool -> 0/1), and runs the model version the alias points
// at, or with a `traffic:` split the version of each row's entity (serving/traffic_router.h,
// which also scores the shadow and keeps per-version metrics). The runtimes come from the
// ModelCache as shared_ptrs, so an alias moving to a new version never breaks a prediction in
// flight.
//
// Request context: values the caller supplies for some of the service's features ("view:feature"
// or, when unique in the service, the bare feature name), one per entity row. They replace the
// store's read for those features (status PRESENT, event time 0).
//
// Text deployments (the model's runtime takes text: fasttext) read one text per entity row from
// the service's `text:` input (a stored feature or a context field) and answer each row's top
// `top_k` labels with their probabilities (Prediction::labels). Request features
// (serving/request_features.h) are computed per row and appended to the model row after the
// service's features.
//
// A deployment's release (serving/release.h) decides the model version and the feature
// generation of each view, taken once per request: a request never mixes releases, and every
// Prediction names its model version and generations. A release pins one version, so a
// `traffic:` split applies only while the deployment has no release (it serves its alias or
// split, and each view's default generation).
//
// A deployment with `model_by` picks each row's model from an attribute
// (serving/model_by_router.h); Prediction::models names each row's model. It takes no release
// of a model version (its release pins only feature generations).
//
// A deployment with `batching` (spec/project_spec.h) scores through a MicroBatcher, so concurrent
// calls share one model call; without it each call scores its own rows.
//
// Thread-safety: thread-safe. Owns nothing it is given.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "models/model_cache.h"
#include "models/registry.h"
#include "serving/micro_batcher.h"
#include "serving/model_by_router.h"
#include "serving/release.h"
#include "serving/request_features.h"
#include "serving/traffic_router.h"
#include "spec/project_spec.h"
#include "store/feature_store.h"

namespace freshet {

struct Prediction {
  std::vector<double> scores;  // one per entity row (feature-row models)
  // Text models: one entry per entity row, its most probable labels first; `scores` is empty.
  std::vector<std::vector<TextLabel>> labels;
  std::string model;                // the model of the first row (of every row without model_by)
  int64_t version = 0;              // the version of the first row (of every row without a split)
  std::vector<int64_t> versions;    // the version that scored each row
  std::vector<std::string> models;  // model_by deployments: the model that scored each row
  FeatureTable features;            // the inputs used, with each value's ReadStatus
  uint64_t release = 0;             // the deployment's release served (0: none, the alias)
  GenerationPick generations;       // the feature generation read, per stream view
};

class Predictor {
 public:
  // `releases` may be null (deployments serve their alias and default generations).
  Predictor(const ProjectSpec* spec, FeatureStore* features, ModelRegistry* registry,
            ModelCache* models, MetricsRegistry* metrics, const ReleaseStore* releases = nullptr);

  // kNotFound for an unknown deployment or a model with no version behind its alias;
  // kInvalidArgument for entities missing a key the service needs; kFailedPrecondition when
  // the model's input width differs from the feature service's length. A `context` key that
  // names no feature of the service, or has not one value per row, is kInvalidArgument naming it.
  // Text deployments: `top_k` (>= 1) labels per row; a row without text (no context field, a
  // null or non-string value) is kInvalidArgument naming the input and row; a service without
  // `text:` is kFailedPrecondition.
  Result<Prediction> Predict(const std::string& deployment, const EntityColumns& entities,
                             std::optional<int64_t> as_of_ms = std::nullopt,
                             const PredictContext& context = {}, int32_t top_k = 1);

  // Scores `texts` with a text deployment's model, without reading features: the text is a field
  // of the request or of the event that triggered the prediction. Per text, its top `top_k`
  // labels. kNotFound as Predict; kFailedPrecondition when the model does not take text.
  Result<Prediction> ScoreTexts(const std::string& deployment,
                                const std::vector<std::string>& texts, int32_t top_k);

  // The request features of `service` (of this predictor's spec), their models loaded: the
  // champion of each, as Predict uses them. Errors as RequestFeatures::Bind; kNotFound when a
  // model has no champion.
  Result<RequestFeatures> BindRequestFeatures(const FeatureServiceSpec& service);

  // The version of registered model `model` that `ref` ("latest", "3", an alias) names, loaded.
  // kNotFound when there is none.
  Result<LoadedModel> Load(const std::string& model, std::string_view ref);

  // The deployments' version routing: alias checks that warm, traffic reports.
  TrafficRouter* router() { return &router_; }

 private:
  // `routing_field`: a context field the deployment routes by (model_by), not a feature.
  Status ApplyContext(const FeatureServiceSpec& service, const PredictContext& context,
                      FeatureTable* table, std::string_view routing_field = {}) const;
  // Predict for a deployment whose model takes text (predictor_inputs.cc).
  Result<Prediction> PredictText(const DeploymentSpec& d, const LoadedModel& model,
                                 const EntityColumns& entities, std::optional<int64_t> as_of_ms,
                                 const PredictContext& context, int32_t top_k);

  const ProjectSpec* spec_;
  FeatureStore* features_;
  ModelRegistry* registry_;
  ModelCache* models_;
  const ReleaseStore* releases_;
  Histogram* latency_;
  TrafficRouter router_;
  ModelByRouter by_attribute_;
  // Deployments with batching on; built at construction, read-only afterwards.
  std::map<std::string, std::unique_ptr<MicroBatcher>> batchers_;
};

}  // namespace freshet
