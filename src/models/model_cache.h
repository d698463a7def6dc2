// ModelCache: loaded runtimes keyed by (model name, version), loaded once and shared.
//
// Get() hands out shared_ptr<const ModelRuntime>: a caller keeps scoring with the instance it
// holds even after Evict() or after an alias moves to another version, so swapping models never
// breaks an in-flight prediction; the old model is freed when its last holder lets go. Versions
// are immutable (models/registry.h), so a cached runtime never goes stale. Keys are names and
// version numbers, so use one cache per registry.
//
// Thread-safety: all methods are thread-safe. Concurrent Get()s of a version not yet loaded
// wait for a single load rather than each loading their own copy. A failed load is not cached:
// the next Get() retries.
#pragma once

#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "core/status.h"
#include "models/model_runtime.h"
#include "models/model_version.h"

namespace freshet {

class ModelCache {
 public:
  // The runtime for `version` (its runtime name and artifact path), loading it on first use.
  // Errors: VerifyArtifact's (models/registry.h: the file no longer matches its registered
  // SHA-256 and size), then those of ModelRuntime::Load.
  Result<std::shared_ptr<const ModelRuntime>> Get(const ModelVersion& version);

  // Drops the cached runtime, if any; holders of it are unaffected.
  void Evict(const std::string& name, int64_t version);

  // The number of versions cached or loading.
  size_t size() const;

 private:
  using Loaded = Result<std::shared_ptr<const ModelRuntime>>;
  using Key = std::pair<std::string, int64_t>;
  // One load in progress or done; shared by everyone who asked for the key meanwhile.
  struct Slot {
    std::shared_future<Loaded> loaded;
  };

  mutable std::mutex mu_;
  std::map<Key, std::shared_ptr<Slot>> slots_;
};

}  // namespace freshet
