#include "models/model_cache.h"

#include <chrono>
#include <mutex>

#include "models/registry.h"

namespace freshet {

ModelCache::ModelCache(Options options, MetricsRegistry* metrics) : options_(options) {
  if (metrics == nullptr) return;
  probe_.models = metrics
                      ->GetGauge("freshet_model_cache_models",
                                 "Model versions loaded and held by the model cache")
                      ->WithLabels({});
  probe_.bytes = metrics
                     ->GetGauge("freshet_model_cache_bytes",
                                "Accounted size (artifact bytes) of the model versions held")
                     ->WithLabels({});
  metrics
      ->GetGauge("freshet_model_cache_memory_limit_bytes",
                 "The model cache's memory bound in accounted bytes (0: none)")
      ->WithLabels({})
      ->Set(static_cast<double>(options_.memory_limit_bytes));
  probe_.loads = metrics
                     ->GetCounter("freshet_model_cache_loads_total",
                                  "Model versions loaded into the model cache")
                     ->WithLabels({});
  probe_.load_errors =
      metrics
          ->GetCounter("freshet_model_cache_load_errors_total", "Model version loads that failed")
          ->WithLabels({});
  probe_.evictions = metrics
                         ->GetCounter("freshet_model_cache_evictions_total",
                                      "Model versions evicted from the model cache")
                         ->WithLabels({});
  probe_.load_latency =
      metrics
          ->GetHistogram("freshet_model_cache_load_duration_seconds",
                         "Time to verify and load one model version into the model cache")
          ->WithLabels({});
}

Result<std::shared_ptr<const ModelRuntime>> ModelCache::Get(const ModelVersion& version) {
  Key key(version.name, version.version);
  std::shared_ptr<Slot> slot;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = slots_.find(key);
    if (it != slots_.end()) {
      slot = it->second;
      slot->last_used.store(clock_.fetch_add(1, std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
      if (slot->runtime) return slot->runtime;
    }
  }
  if (slot) return Wait(*slot);  // loading elsewhere
  std::promise<Status> promise;
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    std::shared_ptr<Slot>& entry = slots_[key];
    if (entry) {
      slot = entry;  // another caller started meanwhile
    } else {
      entry = std::make_shared<Slot>();
      entry->loaded = promise.get_future().share();
      slot = entry;
      lock.unlock();
      return Load(version, key, slot, std::move(promise));
    }
  }
  return Wait(*slot);
}

ModelCache::Loaded ModelCache::Wait(const Slot& slot) {
  const Status& loaded = slot.loaded.get();
  if (!loaded.ok()) return loaded;
  return slot.runtime;
}

ModelCache::Loaded ModelCache::Load(const ModelVersion& version, const Key& key,
                                    const std::shared_ptr<Slot>& slot,
                                    std::promise<Status> promise) {
  // Loading happens outside the lock so other versions stay available meanwhile. The artifact
  // is checked against its registered hash first: a damaged file is never served.
  auto start = std::chrono::steady_clock::now();
  Status verified = VerifyArtifact(version);
  Result<std::unique_ptr<ModelRuntime>> runtime =
      verified.ok() ? LoadRuntime(version.runtime, version.artifact_path)
                    : Result<std::unique_ptr<ModelRuntime>>(verified);
  if (probe_.load_latency != nullptr) {
    probe_.load_latency->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  Loaded loaded = runtime.status();
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    auto it = slots_.find(key);
    const bool ours = it != slots_.end() && it->second == slot;  // not Evict()ed meanwhile
    if (runtime.ok()) {
      slot->runtime = std::shared_ptr<const ModelRuntime>(std::move(runtime).value());
      loaded = slot->runtime;
      if (ours) {
        slot->bytes = version.artifact_size;
        slot->last_used.store(clock_.fetch_add(1, std::memory_order_relaxed) + 1,
                              std::memory_order_relaxed);
        bytes_ += slot->bytes;
        if (probe_.models != nullptr) {
          probe_.models->Add(1);
          probe_.bytes->Add(static_cast<double>(slot->bytes));
        }
        EvictOverLimit(slot.get());
      }
      if (probe_.loads != nullptr) probe_.loads->Increment();
    } else {
      if (ours) slots_.erase(it);
      if (probe_.load_errors != nullptr) probe_.load_errors->Increment();
    }
  }
  promise.set_value(loaded.status());
  return loaded;
}

void ModelCache::EvictOverLimit(const Slot* keep) {
  while (options_.memory_limit_bytes > 0 && bytes_ > options_.memory_limit_bytes) {
    auto victim = slots_.end();
    uint64_t oldest = 0;
    for (auto it = slots_.begin(); it != slots_.end(); ++it) {
      const Slot& s = *it->second;
      // Loading, just loaded, or held outside the cache (use_count counts the cache's own
      // reference): evicting it would free nothing.
      if (&s == keep || !s.runtime || s.runtime.use_count() > 1) continue;
      uint64_t used = s.last_used.load(std::memory_order_relaxed);
      if (victim == slots_.end() || used < oldest) {
        victim = it;
        oldest = used;
      }
    }
    if (victim == slots_.end()) return;
    Erase(victim);
    if (probe_.evictions != nullptr) probe_.evictions->Increment();
  }
}

void ModelCache::Erase(std::unordered_map<Key, std::shared_ptr<Slot>, KeyHash>::iterator it) {
  const Slot& s = *it->second;
  if (s.runtime) {
    bytes_ -= s.bytes;
    if (probe_.models != nullptr) {
      probe_.models->Add(-1);
      probe_.bytes->Add(-static_cast<double>(s.bytes));
    }
  }
  slots_.erase(it);
}

void ModelCache::Evict(const std::string& name, int64_t version) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = slots_.find(Key(name, version));
  if (it != slots_.end()) Erase(it);
}

size_t ModelCache::size() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return slots_.size();
}

int64_t ModelCache::bytes() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return bytes_;
}

bool ModelCache::Contains(const std::string& name, int64_t version) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = slots_.find(Key(name, version));
  return it != slots_.end() && it->second->runtime != nullptr;
}

}  // namespace freshet
