#include "stream/rocksdb_state_backend.h"

#include <fmt/format.h>
#include <rocksdb/sst_file_writer.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <tuple>

#include "stream/checkpoint_records.h"
#include "stream/value_ops.h"

namespace freshet {
namespace {

// Key prefixes and value versions: part of the on-disk format (docs/exactly_once.md).
constexpr std::string_view kViewPrefix = "view:";
constexpr std::string_view kProgressPrefix = "progress:";
// The layout of state keys, stored with every commit. Layout 1 (before the key hash) had no
// record of its own.
constexpr std::string_view kStateKeysKey = "state_keys";
constexpr std::string_view kStateKeysV2 = "2";

// BE32(view id) + BE64(HashBytes(entity key)) + entity key: in key order, a view's states are
// in the order of the engine's shards (docs/exactly_once.md).
void AppendStateKey(uint32_t view_id, uint64_t hash, std::string_view entity_key,
                    std::string* key) {
  AppendBigEndian32(key, view_id);
  AppendBigEndian64(key, hash);
  key->append(entity_key);
}

constexpr size_t kStateKeyPrefix = 12;  // view id and hash

std::string LatePrefix(std::string_view source) {
  std::string key(source);
  key.push_back('\0');
  return key;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string_view View(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

using KeyValue = std::pair<std::string, std::string>;

// A table file under <data>/ingest/ for one column family. Written with direct I/O: the file
// goes from the writer's buffer to the disk without passing through the page cache, which
// would take fresh pages for all of it (bench/README.md). A file system without O_DIRECT
// (tmpfs before Linux 6.6) gets a buffered writer, which keeps the file's pages cached:
// dropping them while writing would start their writeback on this thread, 1 MB at a time.
class TableFile {
 public:
  TableFile(Db* db, Cf cf, std::string path) : db_(db), cf_(db->cf(cf)), path_(std::move(path)) {}

  Status Open() {
    // Uncompressed: compaction compresses the data later, off the engine's thread. The writer
    // would otherwise take the bottommost or last per-level compression of the column family.
    rocksdb::Options options = db_->raw()->GetOptions(cf_);
    options.compression = rocksdb::kNoCompression;
    options.compression_per_level.clear();
    options.bottommost_compression = rocksdb::kDisableCompressionOption;
    rocksdb::EnvOptions direct;
    direct.use_direct_writes = true;
    writer_.emplace(direct, options, cf_);
    if (writer_->Open(path_).ok()) return Status::Ok();
    writer_.emplace(rocksdb::EnvOptions(), options, cf_, /*invalidate_page_cache=*/false);
    return Check(writer_->Open(path_));
  }
  Status Put(const std::string& key, const std::string* value) {
    ++entries_;
    return Check(value ? writer_->Put(key, *value) : writer_->Delete(key));
  }
  // Finishes the file and adds it to `args` for the ingest; a file without entries is left out.
  Status Finish(std::vector<rocksdb::IngestExternalFileArg>* args) {
    if (entries_ == 0) return Status::Ok();
    RETURN_IF_ERROR(Check(writer_->Finish()));
    rocksdb::IngestExternalFileArg& arg = args->emplace_back();
    arg.column_family = cf_;
    arg.external_files = {path_};
    arg.options.move_files = true;
    arg.options.write_global_seqno = false;
    return Status::Ok();
  }

 private:
  Status Check(const rocksdb::Status& s) const {
    return FromRocks(s, fmt::format("writing checkpoint file {}", path_));
  }

  Db* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  std::string path_;
  std::optional<rocksdb::SstFileWriter> writer_;
  size_t entries_ = 0;
};

// Writes one commit, holding the backend's commit lock. Small commits go into ONE WriteBatch,
// written without sync at Finish. Large ones stream into table files (one per column family),
// added at Finish by one IngestExternalFiles call, a single MANIFEST record: a million states
// then cost a sequential file write instead of a million memtable inserts.
class RocksDbCommitWriter final : public StateCommitWriter {
 public:
  RocksDbCommitWriter(Db* db, std::unique_lock<std::mutex> lock, bool ingest)
      : db_(db), lock_(std::move(lock)), ingest_(ingest) {}

  Status Start() {
    if (!ingest_) return Status::Ok();
    std::error_code ec;
    std::filesystem::remove_all(dir(), ec);  // what a crash mid-commit left behind
    std::filesystem::create_directories(dir(), ec);
    if (ec) return Status::IoError(fmt::format("{}: {}", dir().string(), ec.message()));
    state_.emplace(db_, Cf::kState, (dir() / "state.sst").string());
    return state_->Open();
  }

  Status Put(uint32_t view_id, std::string_view entity_key, const std::string* state) override {
    const uint64_t hash = HashBytes(entity_key);
    RETURN_IF_ERROR(order_.Next(view_id, hash, entity_key));
    key_.clear();
    AppendStateKey(view_id, hash, entity_key, &key_);
    if (ingest_) return state_->Put(key_, state);
    rocksdb::ColumnFamilyHandle* cf = db_->cf(Cf::kState);
    return Check(state ? batch_.Put(cf, key_, *state) : batch_.Delete(cf, key_));
  }

  Status Finish(const std::vector<LateEvent>& late_events,
                const std::map<std::string, SourceProgress>& progress) override {
    std::vector<KeyValue> late, meta;
    for (const LateEvent& e : late_events) {
      late.emplace_back(LateKey(e), EncodeLate(e));
    }
    std::sort(late.begin(), late.end());
    for (const auto& [source, p] : progress) {
      meta.emplace_back(std::string(kProgressPrefix) + source, EncodeProgress(p));
    }
    meta.emplace_back(kStateKeysKey, kStateKeysV2);
    std::sort(meta.begin(), meta.end());
    if (!ingest_) {
      for (const auto& [key, value] : late)
        RETURN_IF_ERROR(Check(batch_.Put(db_->cf(Cf::kLate), key, value)));
      for (const auto& [key, value] : meta)
        RETURN_IF_ERROR(Check(batch_.Put(db_->cf(Cf::kCheckpoints), key, value)));
      return db_->Write(&batch_, /*sync=*/false);
    }
    // Each file sits above every older version of its keys (RocksDB flushes an overlapping
    // memtable first), and after a crash either all files are in the database or none.
    std::vector<rocksdb::IngestExternalFileArg> args;
    RETURN_IF_ERROR(state_->Finish(&args));
    for (auto& [cf, name, kvs] : {std::tuple(Cf::kLate, "late.sst", &late),
                                  std::tuple(Cf::kCheckpoints, "checkpoints.sst", &meta)}) {
      if (kvs->empty()) continue;
      TableFile file(db_, cf, (dir() / name).string());
      RETURN_IF_ERROR(file.Open());
      for (const auto& [key, value] : *kvs) RETURN_IF_ERROR(file.Put(key, &value));
      RETURN_IF_ERROR(file.Finish(&args));
    }
    return FromRocks(db_->raw()->IngestExternalFiles(args), "ingesting checkpoint files");
  }

 private:
  std::filesystem::path dir() const { return std::filesystem::path(db_->dir()) / "ingest"; }
  static Status Check(const rocksdb::Status& s) {
    return FromRocks(s, "building checkpoint batch");
  }

  Db* db_;
  std::unique_lock<std::mutex> lock_;
  const bool ingest_;
  StateKeyOrderCheck order_;
  std::string key_;
  rocksdb::WriteBatch batch_;
  std::optional<TableFile> state_;
};

}  // namespace

Result<uint32_t> RocksDbStateBackend::ViewId(const std::string& view) {
  std::lock_guard lock(ids_mu_);
  if (auto it = ids_.find(view); it != ids_.end()) return it->second;
  std::string key = std::string(kViewPrefix) + view;
  ASSIGN_OR_RETURN(auto stored, db_->Get(Cf::kCheckpoints, key));
  if (stored) {
    if (stored->size() != 4) return Status::IoError(fmt::format("corrupt id of view '{}'", view));
    return ids_[view] = ReadBigEndian32(stored->data());
  }
  uint32_t max_id = 0;
  auto it = db_->NewIterator(Cf::kCheckpoints);
  for (it->Seek(kViewPrefix); it->Valid() && StartsWith(View(it->key()), kViewPrefix); it->Next()) {
    if (it->value().size() == 4) max_id = std::max(max_id, ReadBigEndian32(it->value().data()));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading view ids"));
  std::string value;
  AppendBigEndian32(&value, max_id + 1);
  // Not synced: a state commit using the id comes later in the WAL, so a recovered commit
  // always has its id.
  RETURN_IF_ERROR(db_->Put(Cf::kCheckpoints, key, value));
  return ids_[view] = max_id + 1;
}

Result<std::optional<std::string>> RocksDbStateBackend::LoadEntity(uint32_t view_id,
                                                                   const std::string& entity_key) {
  std::string key;
  AppendStateKey(view_id, HashBytes(entity_key), entity_key, &key);
  return db_->Get(Cf::kState, key);
}

Status RocksDbStateBackend::ForEachEntity(
    const std::function<void(uint32_t, std::string_view, std::string_view)>& fn) {
  auto it = db_->NewIterator(Cf::kState);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key = View(it->key());
    if (key.size() < kStateKeyPrefix) return Status::IoError("corrupt state key");
    fn(ReadBigEndian32(key.data()), key.substr(kStateKeyPrefix), View(it->value()));
  }
  return FromRocks(it->status(), "reading entity states");
}

Result<std::map<std::string, SourceProgress>> RocksDbStateBackend::LoadProgress() {
  std::map<std::string, SourceProgress> out;
  auto it = db_->NewIterator(Cf::kCheckpoints);
  for (it->Seek(kProgressPrefix); it->Valid() && StartsWith(View(it->key()), kProgressPrefix);
       it->Next()) {
    std::string source(View(it->key()).substr(kProgressPrefix.size()));
    RETURN_IF_ERROR(DecodeProgress(source, View(it->value()), &out[source]));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading checkpoints"));
  if (!out.empty()) {
    ASSIGN_OR_RETURN(auto layout, db_->Get(Cf::kCheckpoints, std::string(kStateKeysKey)));
    if (layout != std::optional<std::string>(kStateKeysV2)) {
      return Status::FailedPrecondition(fmt::format(
          "{}: the entity states were written by an older freshet, with state keys of layout "
          "{} (this one reads layout {}); move the directory away to rebuild them from the "
          "event log",
          db_->dir(), layout ? *layout : "1", kStateKeysV2));
    }
  }
  return out;
}

RocksDbStateBackend::RocksDbStateBackend(Db* db, size_t ingest_min_puts)
    : db_(db), ingest_min_puts_(ingest_min_puts) {}

RocksDbStateBackend::~RocksDbStateBackend() = default;

Result<std::unique_ptr<StateCommitWriter>> RocksDbStateBackend::BeginCommit(size_t puts) {
  auto writer = std::make_unique<RocksDbCommitWriter>(db_, std::unique_lock(commit_mu_),
                                                      puts > 0 && puts >= ingest_min_puts_);
  RETURN_IF_ERROR(writer->Start());
  return std::unique_ptr<StateCommitWriter>(std::move(writer));
}

Status RocksDbStateBackend::Drop(const std::vector<uint32_t>& view_ids,
                                 const std::vector<std::string>& progress_sources) {
  std::lock_guard lock(commit_mu_);  // not between a commit's puts and its Finish
  rocksdb::WriteBatch batch;
  for (uint32_t id : view_ids) {
    std::string begin, end;
    AppendBigEndian32(&begin, id);
    AppendBigEndian32(&end, id + 1);
    RETURN_IF_ERROR(
        FromRocks(batch.DeleteRange(db_->cf(Cf::kState), begin, end), "dropping entity states"));
  }
  for (const std::string& source : progress_sources) {
    RETURN_IF_ERROR(
        FromRocks(batch.Delete(db_->cf(Cf::kCheckpoints), std::string(kProgressPrefix) + source),
                  "dropping progress"));
  }
  return db_->Write(&batch, /*sync=*/true);
}

Result<std::vector<LateEvent>> RocksDbStateBackend::ListLate(const std::string& source,
                                                             size_t limit) {
  std::vector<LateEvent> out;
  std::string prefix = LatePrefix(source);
  std::string last = prefix;
  AppendBigEndian64(&last, UINT64_MAX);
  auto it = db_->NewIterator(Cf::kLate);
  for (it->SeekForPrev(last);
       it->Valid() && out.size() < limit && StartsWith(View(it->key()), prefix); it->Prev()) {
    LateEvent e;
    RETURN_IF_ERROR(DecodeLate(source, View(it->key()), View(it->value()), &e));
    out.push_back(std::move(e));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading late events"));
  return out;
}

}  // namespace freshet
