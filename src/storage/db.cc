#include "storage/db.h"

#include <fmt/format.h>
#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <mutex>
#include <vector>

#include "storage/capped_list.h"

namespace freshet {
namespace {

constexpr std::string_view kCfNames[kNumCfs] = {
    "default", "events",     "ingest_meta", "state", "registry",   "checkpoints",
    "late",    "quarantine", "tables",      "queue", "predictions"};
// Memtable size of the column families written at scattered keys (see Db::Open).
constexpr size_t kScatteredWriteMemtableBytes = 8u << 20;
// Created (empty) by earlier versions for features that were not built yet.
constexpr std::string_view kRetiredCfNames[] = {"online", "jobs"};

bool IsKnown(std::string_view name) {
  return std::find(std::begin(kCfNames), std::end(kCfNames), name) != std::end(kCfNames);
}
bool IsRetired(std::string_view name) {
  return std::find(std::begin(kRetiredCfNames), std::end(kRetiredCfNames), name) !=
         std::end(kRetiredCfNames);
}

// RocksDB's own log, into freshet's (warnings and errors only; RocksDB's info lines are many).
// Not the default LOG file in the data directory: when that disk is full, RocksDB's writer of
// that file trips an assertion (in builds that keep them, as Debian's does) instead of failing
// a write.
class RocksDbLogger : public rocksdb::Logger {
 public:
  RocksDbLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char line[1024];
    std::vsnprintf(line, sizeof(line), format, ap);
    spdlog::level::level_enum to = level >= rocksdb::InfoLogLevel::ERROR_LEVEL ? spdlog::level::err
                                   : level >= rocksdb::InfoLogLevel::WARN_LEVEL
                                       ? spdlog::level::warn
                                       : spdlog::level::debug;
    spdlog::log(to, "rocksdb: {}", line);
  }
};

bool IsLockError(const rocksdb::Status& s) {
  std::string m = s.ToString();
  return s.IsIOError() &&
         (m.find("lock") != std::string::npos || m.find("LOCK") != std::string::npos);
}

}  // namespace

// Drops what an ExpiryRule says is expired, for one compaction.
class ExpiryFilter : public rocksdb::CompactionFilter {
 public:
  explicit ExpiryFilter(std::shared_ptr<const Db::ExpiryRule> rule) : rule_(std::move(rule)) {}
  bool Filter(int /*level*/, const rocksdb::Slice& key, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    return (*rule_)(key.ToStringView(), value.ToStringView());
  }
  const char* Name() const override { return "freshet.expiry"; }

 private:
  const std::shared_ptr<const Db::ExpiryRule> rule_;
};

// Thread-safe: Set from any thread, CreateCompactionFilter from RocksDB's.
class ExpiryFilterFactory : public rocksdb::CompactionFilterFactory {
 public:
  void Set(Db::ExpiryRule rule) {
    std::lock_guard lock(mu_);
    rule_ = rule ? std::make_shared<const Db::ExpiryRule>(std::move(rule)) : nullptr;
  }
  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& /*context*/) override {
    std::lock_guard lock(mu_);
    if (!rule_) return nullptr;  // nothing to drop
    return std::make_unique<ExpiryFilter>(rule_);
  }
  const char* Name() const override { return "freshet.expiry"; }

 private:
  std::mutex mu_;
  std::shared_ptr<const Db::ExpiryRule> rule_;
};

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return Status::NotFound(fmt::format("{}: {}", what, s.ToString()));
  if (s.IsInvalidArgument())
    return Status::InvalidArgument(fmt::format("{}: {}", what, s.ToString()));
  return Status::IoError(fmt::format("{}: {}", what, s.ToString()));
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& dir, const DbOptions& options) {
  std::error_code ec;
  if (options.create_if_missing) std::filesystem::create_directories(dir, ec);
  if (ec)
    return Status::IoError(fmt::format("cannot create data directory {}: {}", dir, ec.message()));

  rocksdb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = options.create_if_missing;
  db_options.IncreaseParallelism(2);
  db_options.OptimizeLevelStyleCompaction();
  db_options.max_total_wal_size = 256u << 20;
  db_options.info_log = std::make_shared<RocksDbLogger>();

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.cache_index_and_filter_blocks = true;
  // Point lookups of absent keys (an entity's first event) must be cheap: bloom filters on
  // tables and on the memtable answer "absent" without reading blocks.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options(db_options);
  cf_options.memtable_prefix_bloom_size_ratio = 0.1;
  cf_options.memtable_whole_key_filtering = true;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  // Window state takes one write per dirty entity per checkpoint, keyed by a 4-byte view id
  // prefix: insertion hints by that prefix make the memtable inserts cheaper.
  rocksdb::ColumnFamilyOptions state_options = cf_options;
  state_options.memtable_insert_with_hint_prefix_extractor.reset(
      rocksdb::NewFixedPrefixTransform(4));
  std::array<std::shared_ptr<ExpiryFilterFactory>, kNumCfs> expiry;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (int i = 0; i < kNumCfs; ++i) {
    expiry[i] = std::make_shared<ExpiryFilterFactory>();
    rocksdb::ColumnFamilyOptions options_i =
        i == static_cast<int>(Cf::kState) ? state_options : cf_options;
    options_i.compaction_filter_factory = expiry[i];
    if (i == static_cast<int>(Cf::kQueue) || i == static_cast<int>(Cf::kPredictions)) {
      // Both take small writes at keys scattered over their memtable (a job's put and its
      // delete, an entity's merge): small memtables keep those skiplists in the CPU's cache,
      // which makes each insert cheaper, and each flush folds an entity's merges into one list.
      options_i.write_buffer_size = kScatteredWriteMemtableBytes;
    }
    if (i == static_cast<int>(Cf::kQueue)) {
      // Jobs ('j' + id) and done markers ('d' + id) are each written in id order: an insertion
      // hint per key prefix lets each continue where its last insert was.
      options_i.memtable_insert_with_hint_prefix_extractor.reset(
          rocksdb::NewFixedPrefixTransform(1));
    }
    if (i == static_cast<int>(Cf::kPredictions)) {
      options_i.merge_operator = capped_list::NewMergeOperator(kPredictionsKept);
      // A key merged more often than this between flushes is folded at write time, so a read
      // never applies more operands than a list holds.
      options_i.max_successive_merges = kPredictionsKept;
    }
    descriptors.emplace_back(std::string(kCfNames[i]), options_i);
  }
  // RocksDB opens a database only with every column family it holds.
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, dir, &existing).ok()) {
    for (const std::string& name : existing) {
      if (IsKnown(name)) continue;
      if (!IsRetired(name)) {
        return Status::FailedPrecondition(fmt::format(
            "data directory {} holds column family '{}', unknown to this version of freshet "
            "(written by a newer one?)",
            dir, name));
      }
      descriptors.emplace_back(name, cf_options);
    }
  }

  std::unique_ptr<Db> db(new Db());
  db->dir_ = dir;
  db->expiry_ = std::move(expiry);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (options.read_only) {
    s = rocksdb::DB::OpenForReadOnly(db_options, dir, descriptors, &handles, &raw);
  } else {
    s = rocksdb::DB::Open(db_options, dir, descriptors, &handles, &raw);
  }
  if (!s.ok()) {
    if (IsLockError(s)) {
      return Status::FailedPrecondition(fmt::format(
          "data directory {} is in use by another freshet process (stop it, or talk to it over "
          "HTTP with --server)",
          dir));
    }
    return FromRocks(s, fmt::format("opening data directory {}", dir));
  }
  db->db_.reset(raw);
  for (int i = 0; i < kNumCfs; ++i) db->handles_[i] = handles[i];
  for (size_t i = kNumCfs; i < handles.size(); ++i) {
    rocksdb::Status dropped =
        options.read_only ? rocksdb::Status::OK() : raw->DropColumnFamily(handles[i]);
    raw->DestroyColumnFamilyHandle(handles[i]);
    if (!dropped.ok()) return FromRocks(dropped, "dropping a retired column family");
  }
  return db;
}

Db::~Db() {
  if (!db_) return;
  for (auto* h : handles_) {
    if (h) db_->DestroyColumnFamilyHandle(h);
  }
  db_->Close();
}

Result<std::optional<std::string>> Db::Get(Cf which, std::string_view key) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(which), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "read");
  return std::optional<std::string>(std::move(value));
}

Result<std::vector<std::optional<std::string>>> Db::MultiGet(Cf which,
                                                             const std::vector<std::string>& keys) {
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), cf(which), keys.size(), slices.data(), values.data(),
                statuses.data());
  std::vector<std::optional<std::string>> out(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return FromRocks(statuses[i], "read");
    out[i] = values[i].ToString();
  }
  return out;
}

Status Db::Put(Cf which, std::string_view key, std::string_view value, bool sync) {
  RETURN_IF_ERROR(FromRocks(db_->Put(rocksdb::WriteOptions(), cf(which), key, value), "write"));
  return sync ? SyncWal() : Status::Ok();
}

Status Db::Delete(Cf which, std::string_view key, bool sync) {
  RETURN_IF_ERROR(FromRocks(db_->Delete(rocksdb::WriteOptions(), cf(which), key), "delete"));
  return sync ? SyncWal() : Status::Ok();
}

Status Db::Write(rocksdb::WriteBatch* batch, bool sync) {
  RETURN_IF_ERROR(FromRocks(db_->Write(rocksdb::WriteOptions(), batch), "write batch"));
  return sync ? SyncWal() : Status::Ok();
}

// A write with WriteOptions::sync holds RocksDB's single write queue through its fsync, so every
// other writer waits for it; SyncWAL syncs the log (every write before it included) while other
// threads go on writing.
Status Db::SyncWal() { return FromRocks(db_->SyncWAL(), "syncing the write-ahead log"); }

void Db::SetExpiry(Cf which, ExpiryRule rule) {
  expiry_[static_cast<int>(which)]->Set(std::move(rule));
}

Status Db::Resume() { return FromRocks(db_->Resume(), "resuming writes"); }

std::unique_ptr<rocksdb::Iterator> Db::NewIterator(Cf which) {
  return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(rocksdb::ReadOptions(), cf(which)));
}

void AppendBigEndian64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
void AppendBigEndian32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
uint64_t ReadBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
uint32_t ReadBigEndian32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

}  // namespace freshet
