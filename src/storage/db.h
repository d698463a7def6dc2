// Db: the embedded default's single RocksDB instance in the data directory, with one column
// family per kind of data. Every module that persists in embedded mode goes through it, so one
// WriteBatch can span kinds (e.g. window state + consumed offsets, atomically).
//
// Opening takes an exclusive lock on the directory (RocksDB's LOCK file); a second process gets
// kFailedPrecondition "data directory DIR is in use by another freshet process" — never a crash.
// Thread-safety: all methods are thread-safe (RocksDB is).
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace freshet {

// Column families. Their names are part of the on-disk format (docs/formats.md); the numbers
// are not (they index handles in memory). A kind of data gets its column family with the code
// that writes it.
enum class Cf : int {
  kDefault = 0,       // "default": metadata (format version)
  kEvents = 1,        // "events": the event log, key = source id + offset
  kIngestMeta = 2,    // "ingest_meta": per-source next offset, idempotency keys
  kState = 3,         // "state": window state per (view, entity)
  kRegistry = 4,      // "registry": models, versions, aliases
  kCheckpoints = 5,   // "checkpoints": consumed offsets and watermarks per source
  kLate = 6,          // "late": dead letter of events later than the watermark allowed
  kQuarantine = 7,    // "quarantine": records failing a quarantine expectation; violation counts
  kTables = 8,        // "tables": versions of table sources' rows, key = source + entity + time
  kQueue = 9,         // "queue": durable prediction jobs, their leases and the dead letter
  kPredictions = 10,  // "predictions": each entity's latest predictions per deployment
};
inline constexpr int kNumCfs = 11;

// The `predictions` column family's values are capped lists (storage/capped_list.h) of at most
// this many entries, grown by merges (rocksdb::WriteBatch::Merge with one new entry).
inline constexpr size_t kPredictionsKept = 10;

struct DbOptions {
  // Create the directory and column families when missing. Default: true.
  bool create_if_missing = true;
  // Block cache for reads. Default: 256 MiB.
  size_t block_cache_bytes = 256u << 20;
  // Open read-only (no lock taken; sees the state as of opening). Default: false.
  bool read_only = false;
};

class ExpiryFilterFactory;  // db.cc

class Db {
 public:
  // Opens or creates the database under `dir`. Column families that earlier versions created
  // empty and nothing uses ("online", "jobs") are dropped on a writable open;
  // any other column family this version does not know is refused (kFailedPrecondition: the
  // directory was written by a newer freshet), so nothing is silently ignored.
  static Result<std::unique_ptr<Db>> Open(const std::string& dir, const DbOptions& options = {});
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  rocksdb::DB* raw() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(Cf which) { return handles_[static_cast<int>(which)]; }
  const std::string& dir() const { return dir_; }

  // Point read; nullopt when absent.
  Result<std::optional<std::string>> Get(Cf cf, std::string_view key);
  // Point reads of `keys` in one call (RocksDB's batched MultiGet, cheaper than a Get each): one
  // value per key, in order, nullopt when absent. The first failed read fails the whole call.
  Result<std::vector<std::optional<std::string>>> MultiGet(Cf cf,
                                                           const std::vector<std::string>& keys);
  // Writes: durable against kill -9 of the process once they return (the write-ahead log is
  // written, not synced). With `sync` they return only once they (and every write before them)
  // are on stable storage; other threads may read them a moment before that, and other writers
  // are not held up by the sync.
  Status Put(Cf cf, std::string_view key, std::string_view value, bool sync = false);
  Status Delete(Cf cf, std::string_view key, bool sync = false);
  // Applies `batch` atomically.
  Status Write(rocksdb::WriteBatch* batch, bool sync);
  // Puts every write made so far on stable storage.
  Status SyncWal();
  std::unique_ptr<rocksdb::Iterator> NewIterator(Cf cf);

  // Which records of a column family compactions drop: asked of each record (key, value) a
  // compaction rewrites, on RocksDB's background threads; true drops it. A record is dropped only
  // if and when it is compacted: readers must still treat what the rule drops as absent. The
  // rule must be thread-safe and own (or share) what it uses: a compaction may still hold it
  // after it is replaced.
  using ExpiryRule = std::function<bool(std::string_view key, std::string_view value)>;
  // Sets the rule of `cf` (empty: none), for the compactions that start from now on.
  void SetExpiry(Cf cf, ExpiryRule rule);

  // After a failed write (e.g. the disk was full) RocksDB refuses every write until it has
  // recovered; it retries by itself when space comes back, and this asks it to now. Ok when
  // writes are accepted again (or were never refused); the error while the cause lasts.
  Status Resume();

 private:
  Db() = default;
  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, kNumCfs> handles_{};
  // Per column family: hands each compaction the ExpiryRule set then.
  std::array<std::shared_ptr<ExpiryFilterFactory>, kNumCfs> expiry_{};
};

// Converts a RocksDB status; `what` names the operation for the message.
Status FromRocks(const rocksdb::Status& s, std::string_view what);

// Big-endian fixed-width integer keys, so RocksDB's bytewise order is numeric order.
void AppendBigEndian64(std::string* out, uint64_t v);
void AppendBigEndian32(std::string* out, uint32_t v);
uint64_t ReadBigEndian64(const char* p);
uint32_t ReadBigEndian32(const char* p);

}  // namespace freshet
