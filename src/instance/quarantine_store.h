// QuarantineStore: the quarantine dead letter — records kept out of their source because they
// failed an expectation whose policy is quarantine (quality/expectation.h) — and the persisted
// violation counts of every checked batch, in the data directory's `quarantine` column family
// (docs/formats.md). Like the late-event dead letter, quarantined records are listed newest
// first (GET /v1/quarantine/{source}, `freshet events quarantine`); the counts survive restarts
// and feed `freshet quality report` and GET /v1/quality.
//
// Thread-safety: all methods are thread-safe. `db` must outlive the store.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "format/record.h"
#include "quality/expectation.h"
#include "quality/quality_report.h"
#include "storage/db.h"

namespace freshet {

struct QuarantinedRecord {
  // Its place in the source's dead letter: for an http source a sequence number counting from
  // 0; for a file or kafka source the record's offset (so reading it again keeps it once).
  uint64_t id = 0;
  // A partitioned source's (kafka) partition of the record; `id` is its offset there.
  std::optional<int32_t> partition;
  int64_t quarantined_ms = 0;           // when it was quarantined (wall clock)
  std::vector<std::string> violations;  // Violation::ToString() of each, in check order
  Record record;
  // A record the source could not parse (KeepRejected): its bytes as read; `record` is empty
  // and `violations` holds the parse error.
  std::optional<std::string> payload;
};

class QuarantineStore {
 public:
  // Loads the persisted counts. kIoError or kInternal when they cannot be read.
  static Result<std::unique_ptr<QuarantineStore>> Open(Db* db);

  // In one synced write: the records of `records` listed in `result.quarantined` (under the
  // ids `offsets` gives them, one per record of `records`; null: the next sequence numbers)
  // with their violations, and every violation of `result` added to the counts. With
  // `offsets`, a record already kept under its offset is skipped, its violations uncounted.
  // `partition`: the records' partition in a partitioned source (kafka; requires `offsets`).
  Status Keep(const std::string& source, const std::vector<Record>& records,
              const CheckResult& result, int64_t now_ms,
              const std::vector<uint64_t>* offsets = nullptr,
              std::optional<int32_t> partition = std::nullopt);
  // Keeps a record `source` could not parse (bad JSON, a wrong type) under its partition and
  // offset, with `error` as its violation, in one synced write; kept already: nothing.
  Status KeepRejected(const std::string& source, int32_t partition, uint64_t offset,
                      std::string_view payload, const std::string& error, int64_t now_ms);
  // Adds `batch` (the violations of one batch) to the persisted counts; for a rejected batch,
  // whose records are not kept.
  Status Count(const QualityReport& batch);

  // The most recent quarantined records of `source`, newest first (a partitioned source's:
  // by partition, highest first, then offset, highest first).
  Result<std::vector<QuarantinedRecord>> List(const std::string& source, size_t limit);
  // Every violation counted so far.
  QualityReport Counts() const;

 private:
  explicit QuarantineStore(Db* db) : db_(db) {}
  // Puts the counts of `batch` added to the current ones into `write`; the caller merges them
  // into counts_ once the write succeeded. REQUIRES: mu_ held.
  void PutCounts(const QualityReport& batch, rocksdb::WriteBatch* write);
  Result<uint64_t> NextSeq(const std::string& source);  // REQUIRES: mu_ held

  Db* db_;
  mutable std::mutex mu_;
  QualityReport counts_;                  // guarded by mu_
  std::map<std::string, uint64_t> next_;  // guarded by mu_: next sequence number per source
};

}  // namespace freshet
