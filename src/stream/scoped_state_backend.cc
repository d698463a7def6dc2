#include "stream/scoped_state_backend.h"

#include <fmt/format.h>

#include <mutex>
#include <set>

namespace freshet {
namespace {

// Renames the progress of a commit into the namespace and drops its late events.
class ScopedCommitWriter final : public StateCommitWriter {
 public:
  ScopedCommitWriter(std::unique_ptr<StateCommitWriter> base, const ScopedStateBackend* scope)
      : base_(std::move(base)), scope_(scope) {}

  Status Put(uint32_t view_id, std::string_view entity_key, const std::string* state) override {
    return base_->Put(view_id, entity_key, state);
  }
  Status Finish(const std::vector<LateEvent>& /*late*/,
                const std::map<std::string, SourceProgress>& progress) override {
    std::map<std::string, SourceProgress> scoped;
    for (const auto& [source, p] : progress) scoped[scope_->Scoped(source)] = p;
    return base_->Finish({}, scoped);
  }

 private:
  std::unique_ptr<StateCommitWriter> base_;
  const ScopedStateBackend* scope_;
};

}  // namespace

ScopedStateBackend::ScopedStateBackend(StateBackend* base, uint32_t generation)
    : base_(base), suffix_(fmt::format("@g{}", generation)) {}

Result<uint32_t> ScopedStateBackend::ViewId(const std::string& view) {
  ASSIGN_OR_RETURN(uint32_t id, base_->ViewId(Scoped(view)));
  std::lock_guard lock(mu_);
  ids_.insert(id);
  return id;
}

Result<std::optional<std::string>> ScopedStateBackend::LoadEntity(uint32_t view_id,
                                                                  const std::string& entity_key) {
  return base_->LoadEntity(view_id, entity_key);
}

Status ScopedStateBackend::ForEachEntity(
    const std::function<void(uint32_t, std::string_view, std::string_view)>& fn) {
  std::set<uint32_t> ids;
  {
    std::lock_guard lock(mu_);
    ids = ids_;
  }
  return base_->ForEachEntity([&](uint32_t id, std::string_view key, std::string_view state) {
    if (ids.count(id)) fn(id, key, state);
  });
}

Result<std::map<std::string, SourceProgress>> ScopedStateBackend::LoadProgress() {
  ASSIGN_OR_RETURN(auto all, base_->LoadProgress());
  std::map<std::string, SourceProgress> out;
  for (auto& [name, p] : all) {
    if (name.size() > suffix_.size() &&
        name.compare(name.size() - suffix_.size(), suffix_.size(), suffix_) == 0) {
      out[name.substr(0, name.size() - suffix_.size())] = p;
    }
  }
  return out;
}

Result<std::unique_ptr<StateCommitWriter>> ScopedStateBackend::BeginCommit(size_t puts) {
  ASSIGN_OR_RETURN(auto base, base_->BeginCommit(puts));
  return std::unique_ptr<StateCommitWriter>(new ScopedCommitWriter(std::move(base), this));
}

Result<std::vector<LateEvent>> ScopedStateBackend::ListLate(const std::string&, size_t) {
  return std::vector<LateEvent>();
}

Status ScopedStateBackend::Drop(const std::vector<uint32_t>& view_ids,
                                const std::vector<std::string>& progress_sources) {
  std::vector<std::string> scoped;
  for (const std::string& source : progress_sources) scoped.push_back(Scoped(source));
  return base_->Drop(view_ids, scoped);
}

}  // namespace freshet
