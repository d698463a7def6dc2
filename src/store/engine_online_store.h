// EngineOnlineStore: the embedded OnlineStore, kind "embedded". Reads go straight to the
// stream engine's in-memory window state (StreamEngine::Read), so an acknowledged event is
// visible to the next read, and values are evaluated at the read time (they decay with no new
// events). With a GenerationRouter, each view's generation is read from the engine holding
// it. Thread-safe like the engine's reads. The engine and router are not owned.
#pragma once

#include "store/online_store.h"

namespace freshet {

class EngineOnlineStore final : public OnlineStore {
 public:
  static constexpr std::string_view kKind = "embedded";

  explicit EngineOnlineStore(StreamEngine* engine, const GenerationRouter* router = nullptr)
      : engine_(engine), router_(router) {}

  std::string_view kind() const override { return kKind; }
  Status Read(const std::string& view, const std::vector<std::vector<Value>>& keys,
              const std::vector<std::string>& features, int64_t as_of_ms,
              std::vector<ViewRead>* out, uint32_t generation = 0) override;

 private:
  StreamEngine* engine_;
  const GenerationRouter* router_;
};

}  // namespace freshet
