#include "stream/rocksdb_state_backend.h"

#include <fmt/format.h>
#include <rocksdb/sst_file_writer.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include "stream/codec.h"
#include "stream/value_ops.h"

namespace freshet {
namespace rocksdb_state_internal {

// A put's position in key order: (view id, key hash) as integers, so sorting a million puts
// compares in cache instead of chasing pointers to their keys.
struct SortItem {
  uint32_t view_id;
  uint64_t hash;
  const StateCommit::Put* put;
};

}  // namespace rocksdb_state_internal

namespace {

using rocksdb_state_internal::SortItem;

using stream_codec::ByteReader;
using stream_codec::PutSigned;
using stream_codec::PutVarint;

// Key prefixes and value versions: part of the on-disk format (docs/exactly_once.md).
constexpr std::string_view kViewPrefix = "view:";
constexpr std::string_view kProgressPrefix = "progress:";
// The layout of state keys, stored with every commit. Layout 1 (before the key hash) had no
// record of its own.
constexpr std::string_view kStateKeysKey = "state_keys";
constexpr std::string_view kStateKeysV2 = "2";
constexpr uint8_t kProgressV1 = 1;
constexpr uint8_t kLateV1 = 1;

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

std::string EncodeProgress(const SourceProgress& p) {
  std::string out(1, static_cast<char>(kProgressV1));
  PutVarint(&out, p.next_offset);
  PutSigned(&out, p.max_event_ms);
  PutVarint(&out, p.late_events);
  return out;
}

bool DecodeProgress(std::string_view bytes, SourceProgress* p) {
  ByteReader in(bytes);
  uint8_t version;
  return in.GetByte(&version) && version == kProgressV1 && in.GetVarint(&p->next_offset) &&
         in.GetSigned(&p->max_event_ms) && in.GetVarint(&p->late_events) && in.empty();
}

std::string EncodeLate(const LateEvent& e) {
  std::string out(1, static_cast<char>(kLateV1));
  PutSigned(&out, e.watermark_ms);
  EncodeRecord(e.record, &out);
  return out;
}

Status DecodeLate(std::string_view source, std::string_view key, std::string_view value,
                  LateEvent* e) {
  ByteReader in(value);
  uint8_t version;
  if (key.size() != source.size() + 9 || !in.GetByte(&version) || version != kLateV1 ||
      !in.GetSigned(&e->watermark_ms)) {
    return Status::IoError(fmt::format("corrupt late event of source '{}'", source));
  }
  e->source = std::string(source);
  e->offset = ReadBigEndian64(key.data() + source.size() + 1);
  return DecodeRecord(in.rest(), &e->record);
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string_view View(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

SortItem MakeSortItem(const StateCommit::Put& put) {
  return SortItem{put.view_id, HashBytes(put.entity_key), &put};
}

bool KeyOrder(const SortItem& a, const SortItem& b) {
  if (a.view_id != b.view_id) return a.view_id < b.view_id;
  if (a.hash != b.hash) return a.hash < b.hash;
  return a.put->entity_key < b.put->entity_key;
}

// The puts of `commit` in key order, in `ordered`. The engine commits its puts in key order
// already: then one pass checks it and `ordered` follows the puts.
void SortPuts(const StateCommit& commit, std::vector<SortItem>* ordered) {
  ordered->clear();
  ordered->reserve(commit.puts.size());
  bool sorted = true;
  for (const StateCommit::Put& put : commit.puts) {
    ordered->push_back(MakeSortItem(put));
    sorted = sorted && (ordered->size() < 2 || KeyOrder((*ordered)[ordered->size() - 2],
                                                         ordered->back()));
  }
  if (!sorted) std::sort(ordered->begin(), ordered->end(), KeyOrder);
}

// Calls fn(key, put) for the puts in `ordered`, key = the put's state key.
template <typename Fn>
Status ForEachStateKey(const std::vector<SortItem>& ordered, Fn&& fn) {
  std::string key;
  constexpr size_t kAhead = 8;  // unless the puts came sorted, they are scattered in memory
  for (size_t i = 0; i < ordered.size(); ++i) {
    if (i + 2 * kAhead < ordered.size()) __builtin_prefetch(ordered[i + 2 * kAhead].put);
    if (i + kAhead < ordered.size()) {
      __builtin_prefetch(ordered[i + kAhead].put->entity_key.data());
      __builtin_prefetch(ordered[i + kAhead].put->state.data());
    }
    const StateCommit::Put& put = *ordered[i].put;
    key.clear();
    AppendStateKey(put.view_id, ordered[i].hash, put.entity_key, &key);
    RETURN_IF_ERROR(fn(key, put));
  }
  return Status::Ok();
}

using KeyValue = std::pair<std::string, std::string>;

Status CommitByBatch(Db* db, const std::vector<SortItem>& ordered,
                     const std::vector<KeyValue>& late, const std::vector<KeyValue>& meta) {
  size_t bytes = 1024;
  for (const SortItem& item : ordered)
    bytes += item.put->entity_key.size() + item.put->state.size() + 16;
  rocksdb::WriteBatch batch(bytes);
  auto check = [](const rocksdb::Status& s) { return FromRocks(s, "building checkpoint batch"); };
  rocksdb::ColumnFamilyHandle* state = db->cf(Cf::kState);
  RETURN_IF_ERROR(ForEachStateKey(ordered, [&](const std::string& key,
                                               const StateCommit::Put& put) {
    return check(put.erase
                     ? batch.Delete(state, key)
                     : batch.Put(state, key, rocksdb::Slice(put.state.data(), put.state.size())));
  }));
  for (const auto& [key, value] : late)
    RETURN_IF_ERROR(check(batch.Put(db->cf(Cf::kLate), key, value)));
  for (const auto& [key, value] : meta)
    RETURN_IF_ERROR(check(batch.Put(db->cf(Cf::kCheckpoints), key, value)));
  return db->Write(&batch, /*sync=*/false);
}

// Each column family's entries go into one table file; IngestExternalFiles adds them all to
// the database in one atomic MANIFEST record (all or, after a crash, none), placed above
// whatever the memtables and older files hold for the same keys.
Status CommitByIngest(Db* db, const std::vector<SortItem>& ordered,
                      const std::vector<KeyValue>& late, const std::vector<KeyValue>& meta) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(db->dir()) / "ingest";
  std::error_code ec;
  fs::remove_all(dir, ec);  // what a crash mid-commit left behind
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError(fmt::format("{}: {}", dir.string(), ec.message()));
  std::vector<rocksdb::IngestExternalFileArg> args;
  auto write = [&](Cf cf, const char* name, const auto& fill) -> Status {
    rocksdb::ColumnFamilyHandle* handle = db->cf(cf);
    // Uncompressed: compaction compresses the data later, off the engine's thread. The writer
    // would otherwise take the bottommost or last per-level compression of the column family.
    rocksdb::Options options = db->raw()->GetOptions(handle);
    options.compression = rocksdb::kNoCompression;
    options.compression_per_level.clear();
    options.bottommost_compression = rocksdb::kDisableCompressionOption;
    std::string path = (dir / name).string();
    auto check = [&](const rocksdb::Status& s) {
      return FromRocks(s, fmt::format("writing checkpoint file {}", path));
    };
    // Direct writes: the file goes from the writer's buffer to the disk without passing through
    // the page cache, which would take fresh pages for all of it (bench/README.md). A file
    // system without O_DIRECT (tmpfs before Linux 6.6) gets a buffered writer, which keeps the
    // file's pages cached: dropping them while writing would start their writeback on this
    // thread, 1 MB at a time.
    std::optional<rocksdb::SstFileWriter> writer;
    rocksdb::EnvOptions direct;
    direct.use_direct_writes = true;
    writer.emplace(direct, options, handle);
    if (!writer->Open(path).ok()) {
      writer.emplace(rocksdb::EnvOptions(), options, handle, /*invalidate_page_cache=*/false);
      RETURN_IF_ERROR(check(writer->Open(path)));
    }
    RETURN_IF_ERROR(fill(*writer, check));
    RETURN_IF_ERROR(check(writer->Finish()));
    rocksdb::IngestExternalFileArg& arg = args.emplace_back();
    arg.column_family = handle;
    arg.external_files = {path};
    arg.options.move_files = true;
    arg.options.write_global_seqno = false;
    return Status::Ok();
  };
  auto entries = [](const std::vector<KeyValue>& kvs) {
    return [&kvs](rocksdb::SstFileWriter& writer, const auto& check) -> Status {
      for (const auto& [key, value] : kvs) RETURN_IF_ERROR(check(writer.Put(key, value)));
      return Status::Ok();
    };
  };
  RETURN_IF_ERROR(
      write(Cf::kState, "state.sst", [&](rocksdb::SstFileWriter& writer, const auto& check) {
        return ForEachStateKey(ordered, [&](const std::string& key, const StateCommit::Put& put) {
          return check(put.erase
                           ? writer.Delete(key)
                           : writer.Put(key, rocksdb::Slice(put.state.data(), put.state.size())));
        });
      }));
  if (!late.empty()) RETURN_IF_ERROR(write(Cf::kLate, "late.sst", entries(late)));
  if (!meta.empty()) RETURN_IF_ERROR(write(Cf::kCheckpoints, "checkpoints.sst", entries(meta)));
  return FromRocks(db->raw()->IngestExternalFiles(args), "ingesting checkpoint files");
}

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
    if (!DecodeProgress(View(it->value()), &out[source])) {
      return Status::IoError(fmt::format("corrupt checkpoint of source '{}'", source));
    }
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

Status RocksDbStateBackend::Commit(const StateCommit& commit) {
  // Puts go in key order: the memtable's skip list then finds each insert position next to the
  // previous one instead of searching from the top, and a table file needs sorted keys.
  std::lock_guard lock(commit_mu_);
  std::vector<SortItem>& ordered = ordered_;
  SortPuts(commit, &ordered);
  std::vector<KeyValue> late, meta;
  for (const LateEvent& e : commit.late) {
    std::string key = LatePrefix(e.source);
    AppendBigEndian64(&key, e.offset);
    late.emplace_back(std::move(key), EncodeLate(e));
  }
  std::sort(late.begin(), late.end());
  for (const auto& [source, progress] : commit.progress) {
    meta.emplace_back(std::string(kProgressPrefix) + source, EncodeProgress(progress));
  }
  meta.emplace_back(kStateKeysKey, kStateKeysV2);
  std::sort(meta.begin(), meta.end());
  if (!ordered.empty() && ordered.size() >= ingest_min_puts_) {
    return CommitByIngest(db_, ordered, late, meta);
  }
  return CommitByBatch(db_, ordered, late, meta);
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
