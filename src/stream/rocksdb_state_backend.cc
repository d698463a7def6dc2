#include "stream/rocksdb_state_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "stream/codec.h"

namespace freshet {
namespace {

using stream_codec::ByteReader;
using stream_codec::PutSigned;
using stream_codec::PutVarint;

// Key prefixes and value versions: part of the on-disk format (docs/exactly_once.md).
constexpr std::string_view kViewPrefix = "view:";
constexpr std::string_view kProgressPrefix = "progress:";
constexpr uint8_t kProgressV1 = 1;
constexpr uint8_t kLateV1 = 1;

std::string StateKey(uint32_t view_id, std::string_view entity_key) {
  std::string key;
  key.reserve(4 + entity_key.size());
  AppendBigEndian32(&key, view_id);
  key.append(entity_key);
  return key;
}

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

// A put's position in key order: (view id, first 16 key bytes) as integers, so sorting a
// million puts compares in cache instead of chasing pointers to their keys.
struct SortItem {
  uint32_t view_id;
  uint64_t head[2];
  const StateCommit::Put* put;
};

SortItem MakeSortItem(const StateCommit::Put& put) {
  SortItem item{put.view_id, {0, 0}, &put};
  unsigned char bytes[16] = {};
  std::memcpy(bytes, put.entity_key.data(), std::min<size_t>(16, put.entity_key.size()));
  for (int i = 0; i < 16; ++i) item.head[i / 8] = (item.head[i / 8] << 8) | bytes[i];
  return item;
}

bool KeyOrder(const SortItem& a, const SortItem& b) {
  if (a.view_id != b.view_id) return a.view_id < b.view_id;
  if (a.head[0] != b.head[0]) return a.head[0] < b.head[0];
  if (a.head[1] != b.head[1]) return a.head[1] < b.head[1];
  return a.put->entity_key < b.put->entity_key;
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
  return db_->Get(Cf::kState, StateKey(view_id, entity_key));
}

Status RocksDbStateBackend::ForEachEntity(
    const std::function<void(uint32_t, std::string_view, std::string_view)>& fn) {
  auto it = db_->NewIterator(Cf::kState);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key = View(it->key());
    if (key.size() < 4) return Status::IoError("corrupt state key");
    fn(ReadBigEndian32(key.data()), key.substr(4), View(it->value()));
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
  return out;
}

Status RocksDbStateBackend::Commit(const StateCommit& commit) {
  // Puts go in key order: the memtable's skip list then finds each insert position next to the
  // previous one instead of searching from the top (several times faster for big commits).
  std::vector<SortItem> ordered;
  ordered.reserve(commit.puts.size());
  size_t bytes = 0;
  for (const StateCommit::Put& put : commit.puts) {
    ordered.push_back(MakeSortItem(put));
    bytes += put.entity_key.size() + put.state.size() + 16;
  }
  std::sort(ordered.begin(), ordered.end(), KeyOrder);
  rocksdb::WriteBatch batch(bytes + 1024);
  auto check = [](const rocksdb::Status& s) { return FromRocks(s, "building checkpoint batch"); };
  std::string key;
  constexpr size_t kAhead = 8;  // puts are visited in key order, scattered in memory
  for (size_t i = 0; i < ordered.size(); ++i) {
    if (i + 2 * kAhead < ordered.size()) __builtin_prefetch(ordered[i + 2 * kAhead].put);
    if (i + kAhead < ordered.size()) {
      __builtin_prefetch(ordered[i + kAhead].put->entity_key.data());
      __builtin_prefetch(ordered[i + kAhead].put->state.data());
    }
    const StateCommit::Put* put = ordered[i].put;
    key.clear();
    AppendBigEndian32(&key, put->view_id);
    key.append(put->entity_key);
    RETURN_IF_ERROR(check(put->erase
                              ? batch.Delete(db_->cf(Cf::kState), key)
                              : batch.Put(db_->cf(Cf::kState), key,
                                          rocksdb::Slice(put->state.data(), put->state.size()))));
  }
  for (const LateEvent& e : commit.late) {
    key = LatePrefix(e.source);
    AppendBigEndian64(&key, e.offset);
    RETURN_IF_ERROR(check(batch.Put(db_->cf(Cf::kLate), key, EncodeLate(e))));
  }
  for (const auto& [source, progress] : commit.progress) {
    RETURN_IF_ERROR(
        check(batch.Put(db_->cf(Cf::kCheckpoints), std::string(kProgressPrefix) + source,
                        EncodeProgress(progress))));
  }
  return db_->Write(&batch, /*sync=*/false);
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
