// Predictor: serves deployments. A deployment joins a model alias with a feature service:
// for each entity it reads the service's features (at now or `as_of`), builds the model's input
// row in service order (null -> NaN, bool -> 0/1), and runs the model version the alias points
// at. The runtime comes from the ModelCache as a shared_ptr, so an alias moving to a new version
// never breaks a prediction in flight.
//
// Thread-safety: thread-safe. Owns nothing it is given.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "models/model_cache.h"
#include "models/registry.h"
#include "spec/project_spec.h"
#include "store/feature_store.h"

namespace freshet {

struct Prediction {
  std::vector<double> scores;  // one per entity row
  std::string model;
  int64_t version = 0;
  FeatureTable features;  // the inputs used
};

class Predictor {
 public:
  Predictor(const ProjectSpec* spec, FeatureStore* features, ModelRegistry* registry,
            ModelCache* models, MetricsRegistry* metrics);

  // kNotFound for an unknown deployment or a model with no version behind its alias;
  // kInvalidArgument for entities missing a key the service needs; kFailedPrecondition when
  // the model's input width differs from the feature service's length.
  Result<Prediction> Predict(const std::string& deployment, const EntityColumns& entities,
                             std::optional<int64_t> as_of_ms = std::nullopt);

 private:
  const ProjectSpec* spec_;
  FeatureStore* features_;
  ModelRegistry* registry_;
  ModelCache* models_;
  Histogram* latency_;
};

}  // namespace freshet
