// Predictor: serves deployments. A deployment joins a model alias with a feature service:
// for each entity it reads the service's features (at now or `as_of`), builds the model's input
// row in service order (null -> NaN, bool -> 0/1), and runs the model version the alias points
// at. The runtime comes from the ModelCache as a shared_ptr, so an alias moving to a new version
// never breaks a prediction in flight.
//
// Request context: values the caller supplies for some of the service's features ("view:feature"
// or, when unique in the service, the bare feature name), one per entity row. They replace the
// store's read for those features (status PRESENT, event time 0).
//
// A deployment's release (serving/release.h) decides the model version and the feature
// generation of each view, taken once per request: a request never mixes releases, and every
// Prediction names its model version and generations. Without a release: the alias.
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
#include "serving/release.h"
#include "spec/project_spec.h"
#include "store/feature_store.h"

namespace freshet {

// Request-time feature values: feature name -> one value per entity row.
using PredictContext = std::map<std::string, std::vector<Value>>;

// A registered model version and its loaded runtime.
struct LoadedModel {
  ModelVersion version;
  std::shared_ptr<const ModelRuntime> runtime;
};

struct Prediction {
  std::vector<double> scores;  // one per entity row
  std::string model;
  int64_t version = 0;
  FeatureTable features;       // the inputs used, with each value's ReadStatus
  uint64_t release = 0;        // the deployment's release served (0: none, the alias)
  GenerationPick generations;  // the feature generation read, per stream view
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
  Result<Prediction> Predict(const std::string& deployment, const EntityColumns& entities,
                             std::optional<int64_t> as_of_ms = std::nullopt,
                             const PredictContext& context = {});

  // The version of registered model `model` that `ref` ("latest", "3", an alias) names, loaded.
  // kNotFound when there is none.
  Result<LoadedModel> Load(const std::string& model, std::string_view ref);

 private:
  Status ApplyContext(const PredictContext& context, FeatureTable* table) const;

  const ProjectSpec* spec_;
  FeatureStore* features_;
  ModelRegistry* registry_;
  ModelCache* models_;
  const ReleaseStore* releases_;
  Histogram* latency_;
  // Deployments with batching on; built at construction, read-only afterwards.
  std::map<std::string, std::unique_ptr<MicroBatcher>> batchers_;
};

}  // namespace freshet
