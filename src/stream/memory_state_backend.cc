#include "stream/memory_state_backend.h"

#include <optional>

#include "stream/value_ops.h"

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

Status MemoryStateBackend::Drop(const std::vector<uint32_t>& view_ids,
                                const std::vector<std::string>& progress_sources) {
  std::lock_guard lock(mu_);
  for (uint32_t id : view_ids) {
    states_.erase(states_.lower_bound({id, std::string()}),
                  states_.lower_bound({id + 1, std::string()}));
  }
  for (const std::string& source : progress_sources) progress_.erase(source);
  return Status::Ok();
}

Result<std::map<std::string, SourceProgress>> MemoryStateBackend::LoadProgress() {
  std::lock_guard lock(mu_);
  return progress_;
}

// Collects the puts and applies everything at Finish, under the backend's mutex.
class MemoryStateBackend::Writer final : public StateCommitWriter {
 public:
  explicit Writer(MemoryStateBackend* backend) : backend_(backend) {}

  Status Put(uint32_t view_id, std::string_view entity_key, const std::string* state) override {
    RETURN_IF_ERROR(order_.Next(view_id, HashBytes(entity_key), entity_key));
    puts_.emplace_back(std::pair<uint32_t, std::string>(view_id, entity_key),
                       state ? std::optional<std::string>(*state) : std::nullopt);
    return Status::Ok();
  }

  Status Finish(const std::vector<LateEvent>& late,
                const std::map<std::string, SourceProgress>& progress) override {
    std::lock_guard lock(backend_->mu_);
    for (auto& [key, state] : puts_) {
      if (state) {
        backend_->states_[key] = std::move(*state);
      } else {
        backend_->states_.erase(key);
      }
    }
    for (const LateEvent& e : late) backend_->late_[e.source][{e.offset, e.partition}] = e;
    for (const auto& [source, p] : progress) backend_->progress_[source] = p;
    ++backend_->commits_;
    return Status::Ok();
  }

 private:
  MemoryStateBackend* backend_;
  StateKeyOrderCheck order_;
  std::vector<std::pair<std::pair<uint32_t, std::string>, std::optional<std::string>>> puts_;
};

Result<std::unique_ptr<StateCommitWriter>> MemoryStateBackend::BeginCommit(size_t) {
  return std::unique_ptr<StateCommitWriter>(std::make_unique<Writer>(this));
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
