#include "store/engine_online_store.h"

#include <fmt/format.h>

namespace freshet {

Status EngineOnlineStore::Read(const std::string& view, const std::vector<std::vector<Value>>& keys,
                               const std::vector<std::string>& features, int64_t as_of_ms,
                               std::vector<ViewRead>* out, uint32_t generation) {
  if (router_ == nullptr) {
    if (generation != 0) {
      return Status::NotFound(
          fmt::format("feature view '{}' has no generation {}: this store has no generations", view,
                      generation));
    }
    return engine_->ReadBatch(view, keys, features, as_of_ms, out);
  }
  ASSIGN_OR_RETURN(RoutedEngine routed, router_->Route(view, generation));
  return routed.engine->ReadBatch(view, keys, features, as_of_ms, out);
}

}  // namespace freshet
