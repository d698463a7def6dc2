// TrafficRouter: which model version scores each row of a deployment's predict call, the shadow
// version scored beside it, and the per-version metrics an A/B test is read from.
//
// Routing. A deployment serves its `alias`, or with `traffic:` (spec/project_spec.h) several
// weighted refs (versions or aliases of its model). A row's entity (the values of the entity
// keys its feature service reads, salted with the deployment's name) hashes to one of kBuckets
// buckets, and a table built once from the weights maps each bucket to a traffic entry, so a row
// costs one hash and one lookup whatever the number of versions. The table is filled by weighted
// rendezvous hashing over (bucket, entry ref): an entity keeps its entry while the weights are
// unchanged; raising an entry's weight moves buckets only to it, lowering it moves only its own
// buckets, and adding or removing an entry moves only buckets to or from that entry. Shares match
// the weights up to the sampling error of kBuckets buckets (about half a percent). An entry that
// is an alias follows the alias: its entities see the alias's new version after a move.
//
// Versions and hot reload. Current() hands out the deployment's Route: the loaded version behind
// each entry, rebuilt from the registry and the ModelCache only when the registry's generation
// changed (ModelRegistry::generation), so the request path resolves and loads nothing while the
// registry is unchanged. A request holds its Route (shared_ptr), so it finishes on the versions
// it started with when an alias moves meanwhile. Alias moves made with AliasCheck() load and warm
// the new version (one predict on a zero row) before the move is written, so the first request
// after the move finds it loaded; a version that fails to load refuses the move. A registry
// target that cannot be served anyway (a move made without the check: its artifact fails to load
// or its input width is not the feature service's) leaves the entry on its previous version,
// reported by Describe(), the log and freshet_model_load_failures_total; an entry with no
// previous version fails the request with that error.
//
// Shadow. With `shadow:`, the rows a call served are scored again by the shadow version on a
// background thread after the caller's own scoring (a shadow ref that does not resolve or load
// only disables the shadow, reported by Describe()): a queue of kShadowQueue calls; when it is
// full the call is not shadowed (freshet_shadow_dropped_total). Shadow outputs are compared with
// the served ones, logged at debug level and never returned: freshet_shadow_disagreements_total
// counts rows with an output differing by more than the shadow's tolerance, and
// freshet_shadow_score_diff observes |shadow - served| per output.
//
// Metrics, labelled (deployment, model, version, role = served | shadow):
// freshet_model_requests_total (calls that scored rows with the version), freshet_model_rows_total,
// freshet_model_errors_total (failed model calls) and freshet_model_predict_duration_seconds
// (one call's model scoring with the version).
//
// Thread-safety: thread-safe. Borrows spec, registry, models and metrics; all must outlive it.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "models/model_cache.h"
#include "models/registry.h"
#include "serving/micro_batcher.h"
#include "spec/project_spec.h"
#include "store/feature_store.h"

namespace freshet {

// A registered model version and its loaded runtime.
struct LoadedModel {
  ModelVersion version;
  std::shared_ptr<const ModelRuntime> runtime;
};

class TrafficRouter {
 public:
  static constexpr size_t kBuckets = 10000;
  static constexpr size_t kShadowQueue = 256;

  // The metric children of one (deployment, model, version, role).
  struct VersionMetrics {
    Counter* requests;
    Counter* rows;
    Counter* errors;
    Histogram* latency;
  };

  // One traffic entry (the alias without `traffic:`) or the shadow, as currently served.
  struct Arm {
    std::string ref;
    double weight = 0;  // as in the spec; 0 for the alias and the shadow
    double share = 0;   // fraction of the buckets routed to it; 0 for the shadow
    LoadedModel model;  // the version it serves
    const VersionMetrics* metrics = nullptr;
    // When the registry's target for `ref` cannot be served: why (model is the previous one).
    std::string load_error;
  };

  struct Deployment;  // per-deployment state, immutable after construction

  // A deployment's arms at one registry generation. Immutable.
  struct Route {
    const Deployment* deployment = nullptr;
    std::optional<uint64_t> generation;
    std::string pinned;         // Current()'s `pinned`; empty for the spec's alias or split
    std::vector<Arm> arms;      // traffic entries in spec order; one (the alias) without `traffic:`
    std::optional<Arm> shadow;  // none when the shadow's ref does not resolve or load
    std::string shadow_error;   // why there is no shadow
  };

  // What GET /v1/deployments/{d}/traffic shows: each arm with its counters.
  struct ArmReport {
    std::string role;  // "served" or "shadow"
    Arm arm;
    double requests = 0, rows = 0, errors = 0;
  };
  struct TrafficReport {
    std::string model;
    std::vector<std::string> sticky_keys;  // the entity keys a row's bucket is hashed from
    std::vector<ArmReport> arms;
    std::string shadow_error;  // Route::shadow_error
    double shadow_tolerance = 0;
    double shadow_disagreements = 0;
    double shadow_dropped = 0;
  };

  TrafficRouter(const ProjectSpec* spec, ModelRegistry* registry, ModelCache* models,
                MetricsRegistry* metrics);
  ~TrafficRouter();  // finishes the queued shadow calls
  TrafficRouter(const TrafficRouter&) = delete;
  TrafficRouter& operator=(const TrafficRouter&) = delete;

  // The deployment's current Route. With `pinned` (a version number or alias of the model: a
  // release's version, serving/release.h), one arm serving it for every row instead of the spec's
  // alias or split; the shadow stays. kNotFound for an unknown deployment or a ref that resolves
  // to no version; a version that cannot be served (see above) with no previous one: its load
  // error, or kFailedPrecondition naming the deployment when its input width is not the feature
  // service's.
  Result<std::shared_ptr<const Route>> Current(const std::string& deployment,
                                               const std::string& pinned = "");

  // Scores `rows` rows of `cols` features (row-major at `input`) of `entities`: each row with
  // its bucket's arm (all rows of one arm in one model call, through `batcher` when not null;
  // `announced` ends at the first call), then shadows the call. *scores gets the outputs in row
  // order (out->size() / rows per row), *versions the version that scored each row. Errors: a
  // runtime's; kFailedPrecondition when two versions give different numbers of outputs per row.
  Status Score(const std::shared_ptr<const Route>& route, const EntityColumns& entities,
               const float* input, size_t rows, size_t cols, MicroBatcher* batcher,
               MicroBatcher::Announcement* announced, std::vector<double>* scores,
               std::vector<int64_t>* versions);

  // An AliasCheck for `model` (ModelRegistry::SetAlias, Promote, Rollback): the deployments'
  // signature check (serving/model_signature.h), then, when a deployment scores with the alias,
  // loads the target into the ModelCache and warms it; a version that fails is refused with
  // kFailedPrecondition naming the alias, version and load error.
  AliasCheck CheckAndWarm(const std::string& model);

  // The deployment's split and per-arm counts; errors as Current().
  Result<TrafficReport> Describe(const std::string& deployment);

  // Waits until every queued shadow call was scored; false when `timeout` passed first.
  bool WaitForShadow(std::chrono::milliseconds timeout);

 private:
  struct ShadowJob {
    std::shared_ptr<const Route> route;
    std::vector<float> input;   // rows x cols
    std::vector<float> served;  // the served outputs, rows x per-row outputs
    size_t rows = 0, cols = 0;
  };

  Result<std::shared_ptr<const Route>> Build(const Deployment& d, std::optional<uint64_t> gen,
                                             const std::string& pinned, const Route* previous);
  // The version `ref` resolves to, loaded and of the service's width; `previous` (the arm
  // before) is kept, with load_error set, when the new target cannot be served.
  Result<Arm> BuildArm(const Deployment& d, const std::string& ref, const std::string& role,
                       const Arm* previous);
  const VersionMetrics* Metrics(const Deployment& d, const ModelVersion& v,
                                const std::string& role);
  // Scores rows with one arm through `batcher` (when not null), counting its metrics.
  static Status ScoreArm(const Arm& arm, const float* input, size_t rows, size_t cols,
                         MicroBatcher* batcher, MicroBatcher::Announcement* announced,
                         std::vector<float>* out);
  void Shadow(ShadowJob job);
  void ShadowLoop();
  void RunShadow(const ShadowJob& job);

  const ProjectSpec* spec_;
  ModelRegistry* registry_;
  ModelCache* models_;
  CounterFamily* requests_;
  CounterFamily* rows_;
  CounterFamily* errors_;
  HistogramFamily* latency_;
  CounterFamily* load_failures_;
  std::map<std::string, std::unique_ptr<Deployment>> deployments_;  // fixed at construction

  std::mutex metrics_mu_;  // guards version_metrics_
  std::map<std::array<std::string, 4>, std::unique_ptr<VersionMetrics>> version_metrics_;

  std::mutex shadow_mu_;               // guards the members below
  std::condition_variable shadow_cv_;  // a job queued, or stopping
  std::condition_variable idle_cv_;    // the queue emptied and no job runs
  std::deque<ShadowJob> shadow_queue_;
  bool shadow_busy_ = false;
  bool stopping_ = false;
  std::thread shadow_thread_;  // runs only when a deployment has a shadow
};

}  // namespace freshet
