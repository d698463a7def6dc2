// ModelByRouter: scores the rows of a deployment that picks its model per entity
// (`model_by:` in freshet.yaml, spec/project_spec.h): row r is scored by the model named by the
// value of the deployment's attribute for r (a feature of a view, usually a table view's
// attribute such as a user's segment, or a `context` field), e.g. "ctr_{segment}" -> ctr_sports,
// at the deployment's alias. Thousands of such models (one per audience segment) are registered;
// they are loaded on first use through the ModelCache, whose memory bound evicts the least
// recently used.
//
// Routing cost. Per deployment, a table maps each attribute value seen to its resolved version
// (or to why it has none); it is kept while the registry's generation is unchanged
// (ModelRegistry::generation) and filled on first use of a value, so a row costs one hash lookup
// under a shared lock and the ModelCache's lookup, whatever the number of models. A registry
// write starts a new, empty table.
//
// Rows whose model is not registered (or has no version behind the alias) or whose attribute has
// no value are scored by the `fallback:` model when the deployment declares one; otherwise the
// request fails: kNotFound naming the row, the attribute value and the missing model, or
// kInvalidArgument for a missing attribute value. A model that takes text, or whose input width
// is not the row width, fails the request with kFailedPrecondition naming it.
//
// Per-version metrics (TrafficRouter's) are not kept for these deployments: one series per
// segment model would be tens of thousands; the ModelCache's metrics and
// freshet_predict_duration_seconds cover them.
//
// Thread-safety: thread-safe. Borrows spec, registry and models; all must outlive it.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/model_cache.h"
#include "models/registry.h"
#include "serving/micro_batcher.h"
#include "serving/request_features.h"
#include "spec/project_spec.h"
#include "store/feature_store.h"

namespace freshet {

class ModelByRouter {
 public:
  ModelByRouter(const ProjectSpec* spec, ModelRegistry* registry, ModelCache* models);
  ~ModelByRouter();
  ModelByRouter(const ModelByRouter&) = delete;
  ModelByRouter& operator=(const ModelByRouter&) = delete;

  // Scores `rows` rows of `cols` features (row-major at `input`) of `deployment` (which has
  // `model_by`): row r with the model its attribute value names in `features` (a table holding
  // the attribute's feature, when it is one) or `context`. All rows of one model go in one call,
  // through `batcher` when not null (`announced` ends at the first call). *scores gets the
  // outputs in row order, *versions and *models the version and model that scored each row.
  // Errors: see the top of this file; a runtime's; kFailedPrecondition when two models give
  // different numbers of outputs per row.
  Status Score(const DeploymentSpec& deployment, const FeatureTable& features,
               const PredictContext& context, const float* input, size_t rows, size_t cols,
               MicroBatcher* batcher, MicroBatcher::Announcement* announced,
               std::vector<double>* scores, std::vector<int64_t>* versions,
               std::vector<std::string>* models);

 private:
  struct Target;
  struct Table;
  struct Deployment;

  // The target of attribute value `value` (null: no value) in `d`'s current table.
  Result<std::shared_ptr<const Target>> Find(Deployment& d, const Value& value);
  std::shared_ptr<const Target> Resolve(const DeploymentSpec& spec, const Value& value) const;

  ModelRegistry* registry_;
  ModelCache* models_;
  std::map<std::string, std::unique_ptr<Deployment>> deployments_;  // fixed at construction
};

}  // namespace freshet
