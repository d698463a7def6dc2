#include "stream/state_backends.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "stream/memory_state_backend.h"
#include "stream/rocksdb_state_backend.h"

namespace freshet {
namespace {

struct BackendEntry {
  std::string_view name;
  std::unique_ptr<StateBackend> (*create)(Db* db);
};

// Adding a backend is one line here (plus its files).
constexpr std::array<BackendEntry, 2> kBackends = {{
    {"memory",
     [](Db*) -> std::unique_ptr<StateBackend> { return std::make_unique<MemoryStateBackend>(); }},
    {"rocksdb",
     [](Db* db) -> std::unique_ptr<StateBackend> {
       return std::make_unique<RocksDbStateBackend>(db);
     }},
}};

}  // namespace

Result<std::unique_ptr<StateBackend>> CreateStateBackend(std::string_view name, Db* db) {
  for (const BackendEntry& entry : kBackends) {
    if (entry.name != name) continue;
    if (db == nullptr && entry.name == "rocksdb") {
      return Status::InvalidArgument("state backend 'rocksdb' needs a data directory");
    }
    return entry.create(db);
  }
  return Status::InvalidArgument(fmt::format("unknown state backend '{}' (known: {})", name,
                                             fmt::join(KnownStateBackends(), ", ")));
}

std::vector<std::string> KnownStateBackends() {
  std::vector<std::string> names;
  for (const BackendEntry& entry : kBackends) names.emplace_back(entry.name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace freshet
