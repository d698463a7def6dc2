// ScopedStateBackend: a namespace inside another StateBackend, so a second engine (a feature
// generation, instance/generations.h) checkpoints over the same storage without touching the
// first one's keys. View names become "<view>@g<N>" (their own ids, hence their own state
// keys) and progress is stored under "<source>@g<N>"; LoadProgress answers only this
// namespace's progress, by plain source name. Late events are not kept: the primary engine
// keeps the dead letter of every source. Commits are atomic as the base backend's are.
// Thread-safety: as the base backend. The base backend is not owned and must outlive this.
#pragma once

#include <mutex>
#include <set>
#include <string>

#include "stream/engine.h"

namespace freshet {

class ScopedStateBackend final : public StateBackend {
 public:
  ScopedStateBackend(StateBackend* base, uint32_t generation);

  // The name `view` or `source` has in the base backend.
  std::string Scoped(const std::string& name) const { return name + suffix_; }

  Result<uint32_t> ViewId(const std::string& view) override;
  Result<std::optional<std::string>> LoadEntity(uint32_t view_id,
                                                const std::string& entity_key) override;
  // Only the states of the views this namespace gave ids to (ViewId).
  Status ForEachEntity(const std::function<void(uint32_t view_id, std::string_view key,
                                                std::string_view state)>& fn) override;
  Result<std::map<std::string, SourceProgress>> LoadProgress() override;
  Result<std::unique_ptr<StateCommitWriter>> BeginCommit(size_t puts) override;
  // Always empty (see above).
  Result<std::vector<LateEvent>> ListLate(const std::string& source, size_t limit) override;
  // `progress_sources` by plain name.
  Status Drop(const std::vector<uint32_t>& view_ids,
              const std::vector<std::string>& progress_sources) override;

 private:
  StateBackend* base_;
  const std::string suffix_;
  std::mutex mu_;
  std::set<uint32_t> ids_;  // handed out by ViewId; under mu_
};

}  // namespace freshet
