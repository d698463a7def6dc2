#include "store/engine_online_store.h"

namespace freshet {

Status EngineOnlineStore::Read(const std::string& view, const std::vector<std::vector<Value>>& keys,
                               const std::vector<std::string>& features, int64_t as_of_ms,
                               std::vector<ViewRead>* out) {
  out->clear();
  out->reserve(keys.size());
  for (const std::vector<Value>& key : keys) {
    ASSIGN_OR_RETURN(ViewRead read, engine_->Read(view, key, features, as_of_ms));
    out->push_back(std::move(read));
  }
  return Status::Ok();
}

}  // namespace freshet
