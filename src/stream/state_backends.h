// State backends created by name, so an option picks where window state lives:
//   "rocksdb" (default)  RocksDbStateBackend over the data directory's RocksDB: checkpoints
//                        survive restarts, replay resumes from the committed offsets.
//   "memory"             MemoryStateBackend: nothing survives the process, so each start
//                        replays every source from its beginning (the event log and files still
//                        hold the records). For tests, tools and throwaway runs.
// Adding a backend is its class plus one line in state_backends.cc.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "storage/db.h"
#include "stream/engine.h"

namespace freshet {

inline constexpr std::string_view kDefaultStateBackend = "rocksdb";

// Creates the backend called `name`, owned by the caller. `db` (not owned) must outlive it;
// backends that keep nothing on disk ignore it. Unknown name: kInvalidArgument naming it and
// the known ones.
Result<std::unique_ptr<StateBackend>> CreateStateBackend(std::string_view name, Db* db);

// The names CreateStateBackend accepts, sorted.
std::vector<std::string> KnownStateBackends();

}  // namespace freshet
