// RocksDbStateBackend: the embedded StateBackend over the data directory's RocksDB (storage/db.h).
//   state        BE32(view id) + BE64(key hash) + key    -> EntityState::Serialize bytes
//   checkpoints  "view:" + view name                     -> BE32 view id (stable per name)
//                "progress:" + source name               -> SourceProgress (v1/v2 varints)
//                "state_keys"                            -> "2", the state key layout
//   late         source + '\0' + BE64(offset) [+ BE32(partition) unless 0]
//                                                        -> watermark + EncodeRecord bytes
// (docs/exactly_once.md). A commit is atomic either way it is written:
//  - small ones as ONE WriteBatch without sync: the event log is the durable source, and
//    RocksDB's WAL recovers a prefix of batches;
//  - from `ingest_min_puts` puts up (BeginCommit's estimate), as table files (one per column
//    family; the states stream into theirs as they come) added by one IngestExternalFiles
//    call, a single MANIFEST record: a million states then cost a sequential file write
//    instead of a million memtable inserts, and no buffer.
// So after a crash the stored progress and states are always from the same checkpoint, and
// replay redoes the rest.
// Thread-safety: all methods are thread-safe; commits are serialized (BeginCommit waits until
// the previous writer is destroyed). The Db is not owned and must outlive this.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/db.h"
#include "stream/engine.h"

namespace freshet {

class RocksDbStateBackend final : public StateBackend {
 public:
  // Default for `ingest_min_puts`: below it, a table file costs more than the memtable.
  static constexpr size_t kIngestMinPuts = 20'000;

  explicit RocksDbStateBackend(Db* db, size_t ingest_min_puts = kIngestMinPuts);
  ~RocksDbStateBackend() override;

  Result<uint32_t> ViewId(const std::string& view) override;
  Result<std::optional<std::string>> LoadEntity(uint32_t view_id,
                                                const std::string& entity_key) override;
  Status ForEachEntity(const std::function<void(uint32_t view_id, std::string_view key,
                                                std::string_view state)>& fn) override;
  Result<std::map<std::string, SourceProgress>> LoadProgress() override;
  Result<std::unique_ptr<StateCommitWriter>> BeginCommit(size_t puts) override;
  Result<std::vector<LateEvent>> ListLate(const std::string& source, size_t limit) override;
  // One synced WriteBatch: a DeleteRange per view id, a Delete per progress key.
  Status Drop(const std::vector<uint32_t>& view_ids,
              const std::vector<std::string>& progress_sources) override;

 private:
  Db* db_;
  const size_t ingest_min_puts_;
  std::mutex ids_mu_;  // serializes view id assignment
  std::map<std::string, uint32_t> ids_;
  std::mutex commit_mu_;  // serializes commits: held by each commit's writer
};

}  // namespace freshet
