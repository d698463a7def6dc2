#include "store/online_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "store/engine_online_store.h"

namespace freshet {
namespace {

struct StoreEntry {
  std::string_view kind;
  Result<std::unique_ptr<OnlineStore>> (*create)(const OnlineStoreContext& context);
};

Result<std::unique_ptr<OnlineStore>> MakeEngineStore(const OnlineStoreContext& context) {
  if (context.engine == nullptr && context.generations == nullptr) {
    return Status::InvalidArgument("online store 'embedded' needs the stream engine");
  }
  return std::unique_ptr<OnlineStore>(
      std::make_unique<EngineOnlineStore>(context.engine, context.generations));
}

// Adding a store is one line here (plus its files).
constexpr std::array<StoreEntry, 1> kStores = {{
    {EngineOnlineStore::kKind, &MakeEngineStore},
}};

}  // namespace

Result<std::unique_ptr<OnlineStore>> CreateOnlineStore(std::string_view kind,
                                                       const OnlineStoreContext& context) {
  for (const StoreEntry& entry : kStores) {
    if (entry.kind == kind) return entry.create(context);
  }
  return Status::InvalidArgument(fmt::format("unknown online store '{}' (known: {})", kind,
                                             fmt::join(KnownOnlineStores(), ", ")));
}

std::vector<std::string> KnownOnlineStores() {
  std::vector<std::string> names;
  for (const StoreEntry& entry : kStores) names.emplace_back(entry.kind);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace freshet
