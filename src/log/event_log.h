// EventLog: the embedded, durable, per-source append-only log of records in the "events" column
// family, with group commit and idempotency keys.
//
// Append() hands a batch to one committer thread, which gathers every batch waiting, assigns
// consecutive offsets per source in arrival order and writes them (plus the per-source next
// offset and any idempotency keys) in one synced RocksDB WriteBatch; an applier thread then runs
// the OnCommit hook on that group and acknowledges all of it, while the committer writes the
// next group. So: acknowledged means durable (it survives kill -9) and seen by the hook, offsets
// become visible in order, and the hook sees batches in offset order.
//
// An Idempotency-Key makes a retry safe: a batch whose key was committed before is not appended
// again; Append returns the original acknowledgement with `duplicate` set. Keys are kept for
// `idempotency_ttl_ms` (Default: 24 h).
//
// Thread-safety: all methods are thread-safe; destroy the log only when no Append() is running.
// Back-pressure: when accepting a batch would put more than `max_pending_records` records in
// flight, Append fails with kResourceExhausted (429); a batch arriving at an idle log is always
// taken, whatever its size (the HTTP layer bounds batch sizes).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "format/record.h"
#include "storage/db.h"

namespace freshet {

struct AppendAck {
  uint64_t first_offset = 0;
  uint64_t count = 0;
  bool duplicate = false;  // the idempotency key was seen before; nothing was appended
};

struct EventLogOptions {
  // Records waiting for the committer before Append refuses. Default: 1,000,000.
  size_t max_pending_records = 1'000'000;
  // How long idempotency keys are remembered. Default: 24 h.
  int64_t idempotency_ttl_ms = 24 * 3600 * 1000LL;
  // Sync each group commit to disk. Default: true (acknowledged = survives power loss/kill -9).
  bool sync = true;
};

// One committed batch, as seen by the commit hook.
struct CommittedBatch {
  uint32_t source_id;
  uint64_t first_offset;
  const std::vector<Record>* records;
};

class EventLog {
 public:
  // `sources`: the source names to serve. A name's id (used in keys) is fixed on first use and
  // kept in ingest_meta: on a new data directory it is the name's index in `sources`, later names
  // get the next unused id, and ids are never reused, so reordering or dropping sources in the
  // spec does not remap existing logs. `db` and `clock` must outlive the log.
  static Result<std::unique_ptr<EventLog>> Open(Db* db, const std::vector<std::string>& sources,
                                                const Clock* clock, EventLogOptions options = {});
  ~EventLog();  // stops the committer after draining pending batches

  // Called on the applier thread after each durable group commit, in offset order, before the
  // appenders are acknowledged. Set before the first Append. Must not throw nor call Append().
  // One call at a time; later groups may be written (durable, not yet acknowledged) while it
  // runs. Empty and duplicate batches are not passed.
  using CommitHook = std::function<void(const std::vector<CommittedBatch>&)>;
  void SetCommitHook(CommitHook hook);

  // Durably appends `records` to `source`. Blocks until committed. `idempotency_key` may be empty.
  Result<AppendAck> Append(const std::string& source, std::vector<Record> records,
                           const std::string& idempotency_key = "");

  // Reads up to `max` durable records of `source` from `offset` on, in offset order (none at or
  // past NextOffset(), even while a group is being written).
  Status Read(const std::string& source, uint64_t offset, size_t max, std::vector<Record>* out);
  // Retention: deletes the oldest records of `source`, in offset order, while their event time
  // is before `cutoff_ms` and their offset below `max_offset` (what some reader has not yet
  // applied stays). Stops at the first record at or after the cutoff, so the log keeps a
  // contiguous run of offsets; offsets are never reused. Returns how many were deleted.
  Result<uint64_t> DropBefore(const std::string& source, int64_t cutoff_ms, uint64_t max_offset);
  // The offset and event time of the oldest record of `source` still kept; nullopt when none.
  Result<std::optional<std::pair<uint64_t, int64_t>>> Oldest(const std::string& source);
  // The offset the next appended record of `source` will get (= number of records so far).
  Result<uint64_t> NextOffset(const std::string& source);
  Result<uint32_t> SourceId(const std::string& source) const;
  // Records accepted by Append() and not yet acknowledged (the queue depth back-pressure limits).
  size_t PendingRecords() const;

 private:
  struct Impl;
  explicit EventLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace freshet
