// Releases: what a deployment serves, switched as one. A release pairs a model version with the
// feature generation of every stream view the deployment's feature service reads
// (store/generation_router.h), so a retrained model and the features it was trained on go
// live together (blue-green), and a rollback brings back both.
//
// ReleaseStore keeps each deployment's current and previous release in the `registry` column
// family under "release/<deployment>" (docs/formats.md), each switch one synced write, and
// serves them as immutable snapshots: a predict takes one (TakeRelease) and uses it for the
// whole request, so a request never mixes releases or generations. A deployment never
// released serves its alias and each view's default generation, as resolved once per request.
//
// Thread-safety: thread-safe. The Db, clock and router are not owned and must outlive it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "spec/project_spec.h"
#include "storage/db.h"
#include "store/feature_store.h"
#include "store/generation_router.h"

namespace freshet {

struct Release {
  uint64_t id = 0;  // per deployment 1, 2, ... in switch order; 0: no release (alias, defaults)
  int64_t model_version = 0;
  GenerationPick generations;  // every stream view of the deployment's feature service
  int64_t created_ms = 0;
};

// What one request serves: the model reference to load and the generation of each view.
struct ReleaseSnapshot {
  uint64_t release = 0;   // Release::id; 0 when none is deployed
  std::string model_ref;  // a version number, or the deployment's alias
  GenerationPick generations;
};

class ReleaseStore {
 public:
  // Loads every stored release. `router` resolves default generations (null: views have
  // none). kIoError for a record this code did not write.
  static Result<std::unique_ptr<ReleaseStore>> Open(Db* db, const Clock* clock,
                                                    const GenerationRouter* router);

  // The deployment's current / previous release; null when there is none.
  std::shared_ptr<const Release> Current(const std::string& deployment) const;
  std::shared_ptr<const Release> Previous(const std::string& deployment) const;

  // Makes `release` (its id and time assigned here) current and the current one previous, in
  // one synced write; returns it as stored.
  Result<Release> Switch(const std::string& deployment, Release release);
  // Swaps current and previous, in one synced write; returns the new current one.
  // kFailedPrecondition naming the deployment when it has no previous release.
  Result<Release> Rollback(const std::string& deployment);

  // Deployments whose current or previous release reads `generation` of `view`, sorted.
  std::vector<std::string> Using(const std::string& view, uint32_t generation) const;

  // The snapshot a request of deployment `d` serves: its current release, or (none) its alias
  // and the default generation of each stream view among `refs`, resolved now.
  Result<ReleaseSnapshot> Snapshot(const DeploymentSpec& d, const std::vector<FeatureRef>& refs,
                                   const FeatureStore& features) const;

 private:
  struct Pair {
    std::shared_ptr<const Release> current, previous;
  };
  ReleaseStore(Db* db, const Clock* clock, const GenerationRouter* router)
      : db_(db), clock_(clock), router_(router) {}
  Status Store(const std::string& deployment, const Pair& pair);

  Db* db_;
  const Clock* clock_;
  const GenerationRouter* router_;
  mutable std::mutex mu_;
  std::map<std::string, Pair> releases_;  // by deployment; under mu_
};

// The snapshot to serve for deployment `d`: `releases`' (when not null), else the alias and
// default generations.
Result<ReleaseSnapshot> TakeRelease(const ReleaseStore* releases, const DeploymentSpec& d,
                                    const std::vector<FeatureRef>& refs,
                                    const FeatureStore& features);

}  // namespace freshet
