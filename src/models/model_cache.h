// ModelCache: loaded runtimes keyed by (model name, version), loaded on first use, shared, and
// evicted least recently used when their footprint exceeds a memory bound.
//
// Get() hands out shared_ptr<const ModelRuntime>: a caller keeps scoring with the instance it
// holds even after Evict(), an LRU eviction, or an alias moving to another version, so swapping
// models never breaks an in-flight prediction; the old model is freed when its last holder lets
// go. Versions are immutable (models/registry.h), so a cached runtime never goes stale. Keys are
// names and version numbers, so use one cache per registry.
//
// Memory bound. A loaded version is accounted by its artifact's size (ModelVersion::
// artifact_size): an estimate of what the runtime keeps in memory, the same order as an XGBoost
// or linear model's parsed form and above it for JSON artifacts. With
// Options::memory_limit_bytes > 0, a load that takes the accounted bytes over the limit evicts
// the least recently used (by Get) loaded versions until they fit again. A version also held
// outside the cache (a deployment's route, a request in flight) is not evicted: dropping the
// cache's reference would free nothing. So the bound holds unless the versions held elsewhere
// (or the one just loaded) exceed it alone; bytes() reports what the cache holds either way.
//
// Cost. A hit takes a shared lock, one hash lookup and one relaxed atomic increment, so
// concurrent hits do not serialize. An eviction scans the loaded versions for the least
// recently used under the exclusive lock: it happens only after a load, which costs far more.
//
// Metrics (when given a registry): freshet_model_cache_models, freshet_model_cache_bytes,
// freshet_model_cache_memory_limit_bytes (gauges), freshet_model_cache_loads_total,
// freshet_model_cache_load_errors_total, freshet_model_cache_evictions_total (counters) and
// freshet_model_cache_load_duration_seconds (verification plus runtime load of one version).
//
// Thread-safety: all methods are thread-safe. Concurrent Get()s of a version not yet loaded
// wait for a single load rather than each loading their own copy. A failed load is not cached:
// the next Get() retries.
#pragma once

#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/metrics.h"
#include "core/status.h"
#include "models/model_runtime.h"
#include "models/model_version.h"

namespace freshet {

struct ModelCacheOptions {
  // Bytes of loaded versions (by artifact size) the cache keeps; 0: no bound. Default: 0.
  int64_t memory_limit_bytes = 0;
};

class ModelCache {
 public:
  using Options = ModelCacheOptions;

  // `metrics` may be null (no metrics); otherwise it must outlive the cache.
  explicit ModelCache(Options options = {}, MetricsRegistry* metrics = nullptr);
  ModelCache(const ModelCache&) = delete;
  ModelCache& operator=(const ModelCache&) = delete;

  // The runtime for `version` (its runtime name and artifact path), loading it on first use.
  // Errors: VerifyArtifact's (models/registry.h: the file no longer matches its registered
  // SHA-256 and size), then those of ModelRuntime::Load.
  Result<std::shared_ptr<const ModelRuntime>> Get(const ModelVersion& version);

  // Drops the cached runtime, if any; holders of it are unaffected.
  void Evict(const std::string& name, int64_t version);

  // The number of versions cached or loading.
  size_t size() const;
  // The accounted bytes of the loaded versions the cache holds.
  int64_t bytes() const;
  // Whether (name, version) is loaded and held by the cache (not loading, not evicted).
  bool Contains(const std::string& name, int64_t version) const;

 private:
  using Loaded = Result<std::shared_ptr<const ModelRuntime>>;
  using Key = std::pair<std::string, int64_t>;
  struct KeyHash {
    size_t operator()(const Key& key) const {
      return std::hash<std::string>()(key.first) ^ (std::hash<int64_t>()(key.second) * 31);
    }
  };
  // One load in progress or done; shared by everyone who asked for the key meanwhile.
  struct Slot {
    std::shared_future<Status> loaded;  // the load's outcome; ready once `runtime` is set
    // Set once, under the exclusive lock, when the load succeeded; read under either lock, or
    // without one after `loaded` is ready. The cache's only reference to the runtime, so
    // use_count() > 1 means someone else holds it.
    std::shared_ptr<const ModelRuntime> runtime;
    int64_t bytes = 0;
    std::atomic<uint64_t> last_used{0};  // a tick of clock_ at the latest Get
  };
  struct Probe {
    Gauge* models = nullptr;
    Gauge* bytes = nullptr;
    Counter* loads = nullptr;
    Counter* load_errors = nullptr;
    Counter* evictions = nullptr;
    Histogram* load_latency = nullptr;
  };

  // Loads `version` into `slot` (outside the lock) and publishes or erases it.
  Loaded Load(const ModelVersion& version, const Key& key, const std::shared_ptr<Slot>& slot,
              std::promise<Status> promise);
  // The outcome of a load started by another caller.
  static Loaded Wait(const Slot& slot);
  // Evicts least recently used loaded versions other than `keep` while over the limit.
  // REQUIRES: mu_ held exclusively.
  void EvictOverLimit(const Slot* keep);
  void Erase(std::unordered_map<Key, std::shared_ptr<Slot>, KeyHash>::iterator it);

  const Options options_;
  Probe probe_;
  std::atomic<uint64_t> clock_{0};
  mutable std::shared_mutex mu_;
  std::unordered_map<Key, std::shared_ptr<Slot>, KeyHash> slots_;  // guarded by mu_
  int64_t bytes_ = 0;                                              // guarded by mu_
};

}  // namespace freshet
