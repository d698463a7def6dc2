// LatestVersions: a bounded in-memory cache of table rows' newest versions, in front of
// TableStore's reads. A read as of t whose row's newest version is older than t (every online
// read of a row not changed since it was cached, and most point-in-time reads of rows that
// rarely change) is answered without a RocksDB seek.
//
// Rows are keyed by TableStore's row prefix (source + entity key). Only the store fills and
// invalidates it: a read caches a version after learning from its own iterator that no later
// version exists; every write invalidates its rows once RocksDB has applied it (before the write
// returns). A read captures Epoch() before it opens its iterator and passes it to Insert, which
// drops the entry if any write invalidated rows since: so a read that raced a write never caches
// what that write superseded.
//
// Bounded by a number of rows; when full, an insert evicts an arbitrary row. Metrics (when given
// a registry): freshet_table_cache_hits_total and _misses_total (reads answered from memory, and
// not), freshet_table_cache_rows (rows held).
// Thread-safety: all methods are thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/metrics.h"
#include "stream/attribute_lookup.h"

namespace freshet {

class LatestVersions {
 public:
  // REQUIRES: capacity > 0. `metrics` may be null (no metrics); otherwise it must outlive this.
  explicit LatestVersions(size_t capacity, MetricsRegistry* metrics = nullptr);

  // The answer to a read of `row` as of t_ms, if the cache holds it: the row's newest version,
  // as a copy, when it is older than t_ms. Counts a hit or a miss.
  std::optional<AttributeVersion> Find(const std::string& row, int64_t t_ms) const;
  // A token for Insert; capture it before reading the store.
  uint64_t Epoch() const;
  // Caches `latest` as the newest version of `row`, unless a write invalidated rows since
  // `epoch` was taken.
  void Insert(const std::string& row, const AttributeVersion& latest, uint64_t epoch);
  // Forgets `rows`: called by each write once it is applied.
  void Invalidate(const std::vector<std::string>& rows);
  size_t size() const;

 private:
  const size_t capacity_;
  Counter* hits_ = nullptr;
  Counter* misses_ = nullptr;
  Gauge* rows_held_ = nullptr;
  mutable std::mutex mu_;
  uint64_t epoch_ = 0;  // incremented by every Invalidate
  std::unordered_map<std::string, AttributeVersion> rows_;
};

}  // namespace freshet
