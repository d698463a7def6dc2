// MemoryStateBackend: a StateBackend in process memory, for tests and for tools that replay
// without persisting. Commits are atomic under one mutex; nothing survives the object.
// Thread-safety: all methods are thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "stream/engine.h"

namespace freshet {

class MemoryStateBackend : public StateBackend {
 public:
  Result<uint32_t> ViewId(const std::string& view) override;
  Result<std::optional<std::string>> LoadEntity(uint32_t view_id,
                                                const std::string& entity_key) override;
  Status ForEachEntity(const std::function<void(uint32_t view_id, std::string_view key,
                                                std::string_view state)>& fn) override;
  Result<std::map<std::string, SourceProgress>> LoadProgress() override;
  Result<std::unique_ptr<StateCommitWriter>> BeginCommit(size_t puts) override;
  Result<std::vector<LateEvent>> ListLate(const std::string& source, size_t limit) override;
  Status Drop(const std::vector<uint32_t>& view_ids,
              const std::vector<std::string>& progress_sources) override;

  size_t commits() const;
  size_t entity_count() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint32_t> view_ids_;
  std::map<std::pair<uint32_t, std::string>, std::string> states_;
  std::map<std::string, SourceProgress> progress_;
  // By source, by offset and partition.
  std::map<std::string, std::map<std::pair<uint64_t, int32_t>, LateEvent>> late_;
  size_t commits_ = 0;

  class Writer;
};

}  // namespace freshet
