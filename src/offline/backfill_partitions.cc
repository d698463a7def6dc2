#include "offline/backfill_partitions.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>

#include "core/byte_codec.h"
#include "stream/compiled_view.h"

namespace freshet {

using byte_codec::ByteReader;
using byte_codec::PutBytes32;
using byte_codec::PutFixed32;
using byte_codec::PutFixed64;

Status AppendToFile(const std::string& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "ab");
  if (!f) return Status::IoError(fmt::format("{}: {}", path, std::strerror(errno)));
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok &= std::fclose(f) == 0;
  return ok ? Status::Ok() : Status::IoError(path + ": write failed");
}

Result<std::string> ReadFile(const std::string& path) {
  std::string out;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    if (errno == ENOENT) return out;
    return Status::IoError(fmt::format("{}: {}", path, std::strerror(errno)));
  }
  char buf[1 << 16];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) out.append(buf, n);
  bool ok = !std::ferror(f);
  std::fclose(f);
  if (!ok) return Status::IoError(path + ": read error");
  return out;
}

Status SpillBuffer::MaybeFlush() {
  if (path_.empty() || buffer_.size() < flush_bytes_) return Status::Ok();
  RETURN_IF_ERROR(AppendToFile(path_, buffer_));
  buffer_.clear();
  return Status::Ok();
}

Result<std::string> SpillBuffer::TakeAll() {
  if (path_.empty()) return std::move(buffer_);
  ASSIGN_OR_RETURN(std::string all, ReadFile(path_));
  std::remove(path_.c_str());
  all.append(buffer_);
  buffer_ = {};
  return all;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

Status TempDir::Create(const std::string& parent) {
  std::string base = parent;
  if (base.empty()) {
    const char* env = std::getenv("TMPDIR");
    base = env && *env ? env : "/tmp";
  }
  std::string templ = base + "/freshet-backfill-XXXXXX";
  if (!mkdtemp(templ.data())) {
    return Status::IoError(fmt::format("{}: {}", templ, std::strerror(errno)));
  }
  path_ = templ;
  return Status::Ok();
}

Status CorruptSpill(const std::string& path) {
  return Status::IoError(path + ": corrupt backfill spill file");
}

namespace {

// A flat hash map from entity keys to dense numbers 0, 1, ...: routing looks up every event,
// so a lookup should cost one cache miss. Open addressing with linear probing; keys of up to
// 16 bytes sit in their slot, longer ones in one arena.
class KeyIndex {
 public:
  static constexpr uint32_t kNotFound = UINT32_MAX;

  KeyIndex() : slots_(1024) {}
  size_t size() const { return size_; }

  // The key's number, added when new.
  uint32_t Add(std::string_view key) {
    if (2 * (size_ + 1) > slots_.size()) Grow();
    uint64_t hash = KeyHash(key);
    Slot& slot = slots_[Probe(key, hash)];
    if (slot.id != kNotFound) return slot.id;
    slot.hash = hash;
    slot.id = static_cast<uint32_t>(size_++);
    slot.length = static_cast<uint32_t>(key.size());
    if (key.size() <= sizeof(slot.key)) {
      std::memcpy(slot.key, key.data(), key.size());
    } else {
      uint64_t offset = arena_.size();
      std::memcpy(slot.key, &offset, sizeof(offset));
      arena_.append(key);
    }
    return slot.id;
  }

  // `hash` is KeyHash(key).
  uint32_t Find(std::string_view key, uint64_t hash) const { return slots_[Probe(key, hash)].id; }
  void Prefetch(uint64_t hash) const { __builtin_prefetch(&slots_[hash & (slots_.size() - 1)]); }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t id = kNotFound;
    uint32_t length = 0;
    char key[16];  // the key, or the offset of a longer key in arena_
  };

  std::string_view KeyOf(const Slot& slot) const {
    if (slot.length <= sizeof(slot.key)) return std::string_view(slot.key, slot.length);
    uint64_t offset;
    std::memcpy(&offset, slot.key, sizeof(offset));
    return std::string_view(arena_).substr(offset, slot.length);
  }

  // The index of the slot holding `key`, or of the empty slot where it would go.
  size_t Probe(std::string_view key, uint64_t hash) const {
    size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (slot.id == kNotFound || (slot.hash == hash && KeyOf(slot) == key)) return i;
    }
  }

  void Grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    size_t mask = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.id == kNotFound) continue;
      size_t i = slot.hash & mask;
      while (slots_[i].id != kNotFound) i = (i + 1) & mask;
      slots_[i] = slot;
    }
  }

  std::vector<Slot> slots_;  // a power of two, at most half full
  std::string arena_;
  size_t size_ = 0;
};

// Event entries: [u32 entity][i64 ts][u32 n][key][u32 m][EncodeRecord].
void AppendEventEntry(uint32_t entity, std::string_view key, const Record& r, std::string* out) {
  PutFixed32(out, entity);
  PutFixed64(out, static_cast<uint64_t>(r.ts_ms));
  PutBytes32(out, key);
  size_t at = out->size();
  PutFixed32(out, 0);  // the record's length, filled in below
  EncodeRecord(r, out);
  uint32_t n = static_cast<uint32_t>(out->size() - at - 4);
  std::memcpy(out->data() + at, &n, 4);
}

struct EventEntry {
  uint32_t entity;
  int64_t ts;
  std::string_view key, record;
};

bool ReadEventEntry(ByteReader* in, EventEntry* e) {
  uint64_t ts;
  if (!in->GetFixed32(&e->entity) || !in->GetFixed64(&ts)) return false;
  e->ts = static_cast<int64_t>(ts);
  return in->GetBytes32(&e->key) && in->GetBytes32(&e->record);
}

class ResidentPartitions final : public Partitions {
 public:
  ResidentPartitions(size_t count, uint64_t event_bytes_hint) : labels_(count), events_(count) {
    for (std::string& bytes : events_) bytes.reserve(event_bytes_hint / count);
  }

  size_t count() const override { return labels_.size(); }

  Result<uint32_t> AddLabel(uint64_t row, int64_t ts, std::string key) override {
    uint32_t id = ids_.Add(key);
    if (id == last_label_ts_.size()) last_label_ts_.push_back(ts);
    last_label_ts_[id] = std::max(last_label_ts_[id], ts);
    labels_[id % count()].push_back({row, ts, static_cast<uint32_t>(id / count())});
    return static_cast<uint32_t>(id % count());
  }

  uint32_t Route(std::string_view key, uint64_t hash, int64_t ts, uint32_t* entity) const override {
    uint32_t id = ids_.Find(key, hash);
    if (id == KeyIndex::kNotFound || ts >= last_label_ts_[id]) return kNoPartition;
    *entity = static_cast<uint32_t>(id / count());
    return static_cast<uint32_t>(id % count());
  }

  void Prefetch(uint64_t hash) const override { ids_.Prefetch(hash); }

  void EncodeEvent(uint32_t entity, std::string_view key, const Record& r,
                   std::string* out) const override {
    AppendEventEntry(entity, {}, r, out);
  }

  Status AddEvent(uint32_t partition, std::string_view entry) override {
    events_[partition].append(entry);
    return Status::Ok();
  }

  Status Take(size_t p, std::vector<SweepLabel>* labels, std::string* bytes,
              std::vector<SweepEvent>* events, size_t* entities) override {
    *labels = std::move(labels_[p]);
    *bytes = std::move(events_[p]);
    EventEntry e;
    for (ByteReader in(*bytes); !in.empty();) {
      if (!ReadEventEntry(&in, &e)) return Status::Internal("corrupt partition buffer");
      events->push_back({e.ts, e.entity, e.record});
    }
    *entities = (ids_.size() + count() - 1) / count();
    return Status::Ok();
  }

 private:
  KeyIndex ids_;                                 // label key -> entity, numbered in label order
  std::vector<int64_t> last_label_ts_;           // per entity: its latest label's time
  std::vector<std::vector<SweepLabel>> labels_;  // per partition
  std::vector<std::string> events_;              // per partition: entries
};

// Which entity keys may have labels: one bit per key hash.
class KeyFilter {
 public:
  explicit KeyFilter(uint64_t bits_wanted) {
    uint64_t bits = 1024;
    while (bits < bits_wanted && bits < (uint64_t{1} << 33)) bits <<= 1;
    words_.assign(bits / 64, 0);
    mask_ = bits - 1;
  }
  void Add(uint64_t hash) { words_[Bit(hash) / 64] |= uint64_t{1} << (Bit(hash) % 64); }
  bool MayContain(uint64_t hash) const { return words_[Bit(hash) / 64] >> (Bit(hash) % 64) & 1; }

 private:
  // Partitions take the hash modulo their count: the filter uses other bits.
  uint64_t Bit(uint64_t hash) const { return (hash >> 17 | hash << 47) & mask_; }
  std::vector<uint64_t> words_;
  uint64_t mask_;
};

// Files hold labels as [u64 row][i64 ts][u32 n][key] and events as entries with their key.
class SpilledPartitions final : public Partitions {
 public:
  SpilledPartitions(size_t count, const TempDir& dir, const std::string& prefix, size_t flush_bytes,
                    uint64_t filter_bits)
      : labels_(count), events_(count), filter_(filter_bits) {
    for (size_t p = 0; p < count; ++p) {
      labels_[p].Init(dir.File(fmt::format("{}labels-{}", prefix, p)), flush_bytes);
      events_[p].Init(dir.File(fmt::format("{}events-{}", prefix, p)), flush_bytes);
    }
  }

  size_t count() const override { return labels_.size(); }

  Result<uint32_t> AddLabel(uint64_t row, int64_t ts, std::string key) override {
    uint64_t hash = KeyHash(key);
    filter_.Add(hash);
    const uint32_t p = static_cast<uint32_t>(hash % count());
    SpillBuffer& part = labels_[p];
    PutFixed64(part.buffer(), row);
    PutFixed64(part.buffer(), static_cast<uint64_t>(ts));
    PutBytes32(part.buffer(), key);
    RETURN_IF_ERROR(part.MaybeFlush());
    return p;
  }

  uint32_t Route(std::string_view key, uint64_t hash, int64_t ts, uint32_t* entity) const override {
    if (!filter_.MayContain(hash)) return kNoPartition;
    *entity = 0;  // numbered by Take()
    return static_cast<uint32_t>(hash % count());
  }

  void Prefetch(uint64_t hash) const override {}

  void EncodeEvent(uint32_t entity, std::string_view key, const Record& r,
                   std::string* out) const override {
    AppendEventEntry(entity, key, r, out);
  }

  Status AddEvent(uint32_t partition, std::string_view entry) override {
    events_[partition].buffer()->append(entry);
    return events_[partition].MaybeFlush();
  }

  Status Take(size_t p, std::vector<SweepLabel>* labels, std::string* bytes,
              std::vector<SweepEvent>* events, size_t* entities) override {
    ASSIGN_OR_RETURN(std::string label_bytes, labels_[p].TakeAll());
    KeyIndex ids;
    for (ByteReader in(label_bytes); !in.empty();) {
      uint64_t row, ts;
      std::string_view key;
      if (!in.GetFixed64(&row) || !in.GetFixed64(&ts) || !in.GetBytes32(&key)) {
        return CorruptSpill(labels_[p].path());
      }
      labels->push_back({row, static_cast<int64_t>(ts), ids.Add(key)});
    }
    ASSIGN_OR_RETURN(*bytes, events_[p].TakeAll());
    EventEntry e;
    for (ByteReader in(*bytes); !in.empty();) {
      if (!ReadEventEntry(&in, &e)) return CorruptSpill(events_[p].path());
      uint32_t entity = ids.Find(e.key, KeyHash(e.key));
      if (entity != KeyIndex::kNotFound) events->push_back({e.ts, entity, e.record});
    }
    *entities = ids.size();
    return Status::Ok();
  }

 private:
  std::vector<SpillBuffer> labels_;  // per partition
  std::vector<SpillBuffer> events_;  // per partition
  KeyFilter filter_;
};

}  // namespace

std::unique_ptr<Partitions> NewResidentPartitions(size_t count, uint64_t event_bytes_hint) {
  return std::make_unique<ResidentPartitions>(count, event_bytes_hint);
}

std::unique_ptr<Partitions> NewSpilledPartitions(size_t count, const TempDir& dir,
                                                 const std::string& prefix, size_t flush_bytes,
                                                 uint64_t filter_bits) {
  return std::make_unique<SpilledPartitions>(count, dir, prefix, flush_bytes, filter_bits);
}

}  // namespace freshet
