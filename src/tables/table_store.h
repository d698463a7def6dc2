// TableStore: the rows of table sources (`kind: table`: attributes such as a user's plan or an
// item's category, keyed by the source's entity) with their full history, in the data
// directory's `tables` column family (docs/formats.md). Every upsert adds a version at the
// row's event time (its `timestamp` field); a delete adds a tombstone version. Nothing is
// overwritten except a version at the very same (entity, event time), so a backfill can read
// each attribute as it was at each label's time, and an as-of read is one RocksDB seek.
//
// Loads are all or nothing: the whole body is parsed and validated first (the first bad row
// fails the load with its line or record and field, via format/RecordParser or
// CsvRecordParser), then every version is written in ONE synced WriteBatch.
//
// Reads go through a bounded cache of rows' newest versions (tables/latest_versions.h), so a
// read as of a time after its row's last change costs no seek.
//
// Thread-safety: thread-safe. Does not own the spec or the Db; both must outlive the store, and
// the store must be the only writer of the `tables` column family (its cache trusts that).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "format/parse_error.h"
#include "format/record.h"
#include "spec/project_spec.h"
#include "storage/db.h"
#include "stream/attribute_lookup.h"
#include "tables/latest_versions.h"

namespace freshet {

enum class TableFormat {
  kJson,  // a JSON object, a JSON array of objects, or NDJSON (format/record_parser.h)
  kCsv,   // a header line naming the columns, then one row per line (format/csv.h)
};

class TableStore : public AttributeLookup {
 public:
  // Rows whose newest version the store keeps in memory. Default: 100,000.
  static constexpr size_t kDefaultCachedRows = 100'000;

  // `metrics` (the cache's, see tables/latest_versions.h) may be null; otherwise it must outlive
  // the store.
  TableStore(const ProjectSpec* spec, Db* db, MetricsRegistry* metrics = nullptr,
             size_t cached_rows = kDefaultCachedRows);

  // Parses `body` as rows of table source `source` and adds each as a version at its event
  // time. Every row needs the entity's key fields and the timestamp field; other fields are
  // typed by the schema, absent ones null, unknown ones ignored. Returns the number of rows.
  // Errors, with nothing written: kNotFound for an unknown source; kInvalidArgument for a
  // source that is not kind table, or naming the first bad row (`error`, when not null, gets
  // its position and field as data); kIoError from storage.
  Result<size_t> Upsert(const std::string& source, std::string_view body, TableFormat format,
                        ParseError* error = nullptr);
  // As Upsert, but each row (only its key fields and timestamp are read) deletes its entity's
  // row from its event time on: a tombstone version.
  Result<size_t> Delete(const std::string& source, std::string_view body, TableFormat format,
                        ParseError* error = nullptr);
  // Tombstones at `ts_ms` for each key (the key field values in the entity's key order).
  // kInvalidArgument for a key of the wrong arity.
  Result<size_t> DeleteKeys(const std::string& source, const std::vector<std::vector<Value>>& keys,
                            int64_t ts_ms);

  // The newest version before t_ms (AttributeLookup's rule); ReadLatest: the newest of all.
  Result<std::optional<AttributeVersion>> ReadAsOf(const std::string& source,
                                                   std::string_view entity_key, int64_t t_ms) const;
  Result<std::optional<AttributeVersion>> ReadLatest(const std::string& source,
                                                     std::string_view entity_key) const;
  // The table source called `source`: kNotFound for an unknown source, kInvalidArgument for a
  // source of another kind (naming how its records are ingested instead).
  Result<const SourceSpec*> Table(const std::string& source) const;

  // Every version of the row, oldest first (tools and tests).
  Result<std::vector<AttributeVersion>> History(const std::string& source,
                                                std::string_view entity_key) const;

  Result<std::optional<AttributeVersion>> VersionBefore(const std::string& table,
                                                        std::string_view entity_key,
                                                        int64_t t_ms) const override {
    return ReadAsOf(table, entity_key, t_ms);
  }
  // One iterator for the whole batch.
  Result<std::vector<std::optional<AttributeVersion>>> VersionsBefore(
      const std::string& table, const std::vector<std::string>& entity_keys,
      int64_t t_ms) const override;

 private:
  Status Parse(const SourceSpec& schema, std::string_view body, TableFormat format,
               std::vector<Record>* records, ParseError* error) const;
  Result<size_t> Write(const SourceSpec& table, const std::vector<Record>& records, bool deleted);
  // One read's iterator of the tables column family, opened on first use (a read answered from
  // the cache opens none).
  class TableIterator {
   public:
    explicit TableIterator(Db* db) : db_(db) {}
    rocksdb::Iterator* get() {
      if (!it_) it_ = db_->NewIterator(Cf::kTables);
      return it_.get();
    }

   private:
    Db* db_;
    std::unique_ptr<rocksdb::Iterator> it_;
  };

  // ReadAsOf of `table` (the spec of source `source`): from the cache, or through `rows`, whose
  // iterator it moves; `rows` must be created after `epoch` was taken (LatestVersions::Epoch).
  Result<std::optional<AttributeVersion>> ReadAsOf(TableIterator* rows, uint64_t epoch,
                                                   const SourceSpec& table,
                                                   const std::string& source,
                                                   std::string_view entity_key, int64_t t_ms) const;

  const ProjectSpec* spec_;
  Db* db_;
  mutable LatestVersions latest_;
};

}  // namespace freshet
