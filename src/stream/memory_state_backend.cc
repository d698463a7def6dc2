#include "stream/memory_state_backend.h"

namespace freshet {

Result<uint32_t> MemoryStateBackend::ViewId(const std::string& view) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = view_ids_.emplace(view, static_cast<uint32_t>(view_ids_.size() + 1));
  return it->second;
}

Result<std::optional<std::string>> MemoryStateBackend::LoadEntity(uint32_t view_id,
                                                                  const std::string& entity_key) {
  std::lock_guard lock(mu_);
  auto it = states_.find({view_id, entity_key});
  if (it == states_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status MemoryStateBackend::ForEachEntity(
    const std::function<void(uint32_t, std::string_view, std::string_view)>& fn) {
  std::lock_guard lock(mu_);
  for (const auto& [key, state] : states_) fn(key.first, key.second, state);
  return Status::Ok();
}

Result<std::map<std::string, SourceProgress>> MemoryStateBackend::LoadProgress() {
  std::lock_guard lock(mu_);
  return progress_;
}

Status MemoryStateBackend::Commit(const StateCommit& commit) {
  std::lock_guard lock(mu_);
  for (const StateCommit::Put& put : commit.puts) {
    std::pair<uint32_t, std::string> key(put.view_id, put.entity_key);
    if (put.erase) {
      states_.erase(key);
    } else {
      states_[std::move(key)] = std::string(put.state);
    }
  }
  for (const LateEvent& e : commit.late) late_[e.source][e.offset] = e;
  for (const auto& [source, progress] : commit.progress) progress_[source] = progress;
  ++commits_;
  return Status::Ok();
}

Result<std::vector<LateEvent>> MemoryStateBackend::ListLate(const std::string& source,
                                                            size_t limit) {
  std::lock_guard lock(mu_);
  std::vector<LateEvent> out;
  auto it = late_.find(source);
  if (it == late_.end()) return out;
  for (auto e = it->second.rbegin(); e != it->second.rend() && out.size() < limit; ++e) {
    out.push_back(e->second);
  }
  return out;
}

size_t MemoryStateBackend::commits() const {
  std::lock_guard lock(mu_);
  return commits_;
}

size_t MemoryStateBackend::entity_count() const {
  std::lock_guard lock(mu_);
  return states_.size();
}

}  // namespace freshet
