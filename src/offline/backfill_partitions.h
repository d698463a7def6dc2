// Where a backfill's labels and events wait for their sweep: hash partitions by entity, held
// in memory or spilled to files in a private temp directory, plus the small binary helpers the
// spill files are written with.
// Thread-safety: per class below.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/value.h"
#include "format/record.h"

namespace freshet {

// Spill files and partition buffers are written with core/byte_codec.h's fixed-width words
// (native byte order: they never leave the process) and PutBytes32.

Status AppendToFile(const std::string& path, std::string_view bytes);
// The whole file; empty when it does not exist.
Result<std::string> ReadFile(const std::string& path);

// kIoError naming a spill file that does not read back as written.
Status CorruptSpill(const std::string& path);

// An append-only byte log: a buffer, appended to a file whenever it passes `flush_bytes`
// once Init() gave it a path; memory only otherwise.
class SpillBuffer {
 public:
  void Init(std::string path, size_t flush_bytes) {
    path_ = std::move(path);
    flush_bytes_ = flush_bytes;
  }
  std::string* buffer() { return &buffer_; }
  Status MaybeFlush();
  // Everything appended so far, spilled part first; empties the log.
  Result<std::string> TakeAll();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  size_t flush_bytes_ = 0;
  std::string buffer_;
};

// A private directory for spill files, removed with its content.
class TempDir {
 public:
  TempDir() = default;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  // Creates "freshet-backfill-XXXXXX" under `parent` (Default: $TMPDIR or /tmp).
  Status Create(const std::string& parent);
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A label as a sweep takes it. `entity` numbers the partition's entities from 0.
struct SweepLabel {
  uint64_t row;  // in the labels file, from 0
  int64_t ts;
  uint32_t entity;
};

// An event as a sweep takes it: its EncodeRecord bytes.
struct SweepEvent {
  int64_t ts;
  uint32_t entity;
  std::string_view record;
};

// The hash partitions use for entity keys.
inline uint64_t KeyHash(std::string_view key) { return std::hash<std::string_view>{}(key); }

// Returned by Partitions::Route for events no label needs.
inline constexpr uint32_t kNoPartition = UINT32_MAX;

// One entity group's labels and events, partitioned by entity. Labels come first, then events
// in arrival order; then each partition is taken once, by any thread. Events are kept encoded
// (about 60 bytes each rather than 250 as Records), so a million take a few dozen MB and the
// parser's records can be reused block after block.
// Thread-safety: Route, Prefetch and EncodeEvent may run concurrently, and so may AddEvent
// calls for distinct partitions; the rest from one thread at a time.
class Partitions {
 public:
  virtual ~Partitions() = default;
  virtual size_t count() const = 0;
  // Adds label `row` of entity `key`; returns the partition that holds it.
  virtual Result<uint32_t> AddLabel(uint64_t row, int64_t ts, std::string key) = 0;
  // The partition of an event of entity `key` at time `ts` and the entity's number in it, or
  // kNoPartition when no label needs it: no label has the key, or (in memory) every label of
  // the key is at or before ts. A spilling store lets a few unneeded events through.
  // `hash` is KeyHash(key).
  virtual uint32_t Route(std::string_view key, uint64_t hash, int64_t ts,
                         uint32_t* entity) const = 0;
  // Starts loading what Route(key) will read: routing a batch calls it a few events ahead.
  virtual void Prefetch(uint64_t hash) const = 0;
  // Appends the entry of event `r` (its entity and key as Route gave them) to `out`.
  virtual void EncodeEvent(uint32_t entity, std::string_view key, const Record& r,
                           std::string* out) const = 0;
  // Adds an entry EncodeEvent wrote to `partition`.
  virtual Status AddEvent(uint32_t partition, std::string_view entry) = 0;
  // Partition p's labels and events (in the order added), and how many entities they number.
  // `events` views `*bytes`.
  virtual Status Take(size_t p, std::vector<SweepLabel>* labels, std::string* bytes,
                      std::vector<SweepEvent>* events, size_t* entities) = 0;
};

// Everything in memory. Entity numbers come from one index of the label keys, so events are
// routed by an exact lookup and carry their entity; keys are not stored.
// `event_bytes_hint`: about how many bytes of entries to expect, to size buffers.
std::unique_ptr<Partitions> NewResidentPartitions(size_t count, uint64_t event_bytes_hint);

// Labels and events in per-partition files under `dir`, appended whenever a partition's buffer
// passes `flush_bytes`. Events are routed by key hash through a filter of about `filter_bits`
// bits holding the label keys, and carry their key; Take() numbers entities by key.
std::unique_ptr<Partitions> NewSpilledPartitions(size_t count, const TempDir& dir,
                                                 const std::string& prefix, size_t flush_bytes,
                                                 uint64_t filter_bits);

}  // namespace freshet
