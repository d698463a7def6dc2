#include "models/model_cache.h"

#include "models/registry.h"

namespace freshet {

Result<std::shared_ptr<const ModelRuntime>> ModelCache::Get(const ModelVersion& version) {
  Key key(version.name, version.version);
  std::promise<Loaded> promise;
  std::shared_ptr<Slot> slot;
  bool load_here = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::shared_ptr<Slot>& entry = slots_[key];
    if (!entry) {
      entry = std::make_shared<Slot>(Slot{promise.get_future().share()});
      load_here = true;
    }
    slot = entry;
  }
  if (load_here) {
    // Loading happens outside the lock so other versions stay available meanwhile. The artifact
    // is checked against its registered hash first: a damaged file is never served.
    Status verified = VerifyArtifact(version);
    Result<std::unique_ptr<ModelRuntime>> runtime =
        verified.ok() ? LoadRuntime(version.runtime, version.artifact_path)
                      : Result<std::unique_ptr<ModelRuntime>>(verified);
    if (runtime.ok()) {
      promise.set_value(std::shared_ptr<const ModelRuntime>(std::move(runtime).value()));
    } else {
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = slots_.find(key);
        if (it != slots_.end() && it->second == slot) slots_.erase(it);
      }
      promise.set_value(runtime.status());
    }
  }
  return slot->loaded.get();
}

void ModelCache::Evict(const std::string& name, int64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  slots_.erase(Key(name, version));
}

size_t ModelCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return slots_.size();
}

}  // namespace freshet
