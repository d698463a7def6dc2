#include "store/engine_online_store.h"

namespace freshet {

Status EngineOnlineStore::Read(const std::string& view, const std::vector<std::vector<Value>>& keys,
                               const std::vector<std::string>& features, int64_t as_of_ms,
                               std::vector<ViewRead>* out) {
  return engine_->ReadBatch(view, keys, features, as_of_ms, out);
}

}  // namespace freshet
