// StreamEngine: the online half of the feature engine. Consumes records of every source in log
// order, applies the watermark (late events go to the dead letter, counted), updates the window
// state of every view fed by the source, and checkpoints: dirty entity states, consumed offsets,
// watermarks and late events are committed in ONE atomic commit (StateBackend::BeginCommit),
// so after kill -9 a restart reloads the checkpoint and replays the log from the committed
// offsets — no event lost, none counted twice (docs/exactly_once.md).
//
// Entity states load lazily: Create reads only the per-source progress, and an entity's state
// is fetched from the backend the first time an event or a read touches it (a fresh start skips
// even that), so startup is instant with millions of entities. With max_resident_bytes set,
// committed states are dropped from memory after checkpoints and reload on demand.
//
// Threading: one writer (Apply, Checkpoint) and any number of concurrent readers (Read,
// NextOffset, ListLate, stats). State is sharded by entity; each shard has its own mutex, taken
// once per shard per batch by Apply. `backend` and `clock` are not owned and must outlive the
// engine. Destroying the engine does not checkpoint (call Checkpoint first to save replay).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "format/record.h"
#include "spec/project_spec.h"
#include "stream/attribute_lookup.h"
#include "stream/compiled_view.h"

namespace freshet {

// Partition -> offset of the next record to apply there. A source read as one stream (http,
// file) has partition 0 only; a Kafka source has its topic's partitions.
using PartitionOffsets = std::map<int32_t, uint64_t>;

// A late event kept in the dead letter.
struct LateEvent {
  std::string source;
  uint64_t offset = 0;
  int64_t watermark_ms = 0;  // the watermark it missed
  Record record;
  int32_t partition = 0;
};

// Per-source progress stored with each checkpoint.
struct SourceProgress {
  PartitionOffsets next_offsets;     // per partition, first offset not yet applied (absent: 0)
  int64_t max_event_ms = INT64_MIN;  // newest event time seen; watermark = this - lateness
  uint64_t late_events = 0;

  uint64_t NextOffset(int32_t partition = 0) const {
    auto it = next_offsets.find(partition);
    return it == next_offsets.end() ? 0 : it->second;
  }
};

// One commit being written: the states as the engine's checkpoint produces them, then the late
// events and progress with Finish. The states go straight to the backend's storage, so a
// checkpoint of a million entities buffers none of them.
class StateCommitWriter {
 public:
  virtual ~StateCommitWriter() = default;
  // The serialized state of one entity, or its deletion (`state` null). Puts come in state key
  // order: ascending view id, then HashBytes(entity_key), then entity_key (bytewise), each key
  // once; a put out of that order is refused (kInvalidArgument).
  virtual Status Put(uint32_t view_id, std::string_view entity_key, const std::string* state) = 0;
  // Commits the puts, `late` and `progress` (by source name) atomically. A writer destroyed
  // without a successful Finish commits nothing.
  virtual Status Finish(const std::vector<LateEvent>& late,
                        const std::map<std::string, SourceProgress>& progress) = 0;
};

// The state key order a StateCommitWriter requires, checked put by put; for implementations.
class StateKeyOrderCheck {
 public:
  // `hash` is HashBytes(entity_key). kInvalidArgument, naming the put, unless it comes after
  // the previous one.
  Status Next(uint32_t view_id, uint64_t hash, std::string_view entity_key);

 private:
  bool any_ = false;
  uint32_t view_id_ = 0;
  uint64_t hash_ = 0;
  std::string key_;
};

// Where window state lives between restarts. Pluggable: RocksDbStateBackend (embedded) here; a
// Redis/Kafka backend for scale-out later.
//
// Contract: a commit applies all of its puts, late events and progress or none of them, and
// later loads see either the whole commit or none of it. Implementations are thread-safe: the
// engine's writer commits while readers load entities lazily.
class StateBackend {
 public:
  virtual ~StateBackend() = default;
  // The stable id of a view name (keys of its states), assigned and persisted on first use.
  virtual Result<uint32_t> ViewId(const std::string& view) = 0;
  virtual Result<std::optional<std::string>> LoadEntity(uint32_t view_id,
                                                        const std::string& entity_key) = 0;
  // Calls `fn` for every stored entity state (tools, warm-loads; the engine loads lazily).
  virtual Status ForEachEntity(const std::function<void(uint32_t view_id, std::string_view key,
                                                        std::string_view state)>& fn) = 0;
  virtual Result<std::map<std::string, SourceProgress>> LoadProgress() = 0;
  // Starts a commit of about `puts` states (the backend may write a large one differently).
  virtual Result<std::unique_ptr<StateCommitWriter>> BeginCommit(size_t puts) = 0;
  // Most recent late events of `source`, newest first.
  virtual Result<std::vector<LateEvent>> ListLate(const std::string& source, size_t limit) = 0;
  // Deletes, in one atomic write, every stored state of `view_ids` and the progress of
  // `progress_sources` (a retired feature generation). No commit may write them afterwards.
  virtual Status Drop(const std::vector<uint32_t>& view_ids,
                      const std::vector<std::string>& progress_sources) = 0;
};

// How often state is checkpointed by default: at most this long (and this many records) of the
// log is replayed after a crash. Reads never wait for checkpoints (they see memory), and the
// log itself is durable on every acknowledged write, so the period only trades replay length
// against write volume.
inline constexpr int64_t kDefaultCheckpointIntervalMs = 5000;
inline constexpr size_t kDefaultCheckpointRecords = 5'000'000;

struct EngineOptions {
  // Entity shards (each with a mutex). Default: 64.
  size_t shards = 64;
  // Checkpoint when this many records were applied since the last one. Each checkpoint writes
  // every entity touched since the last, so rarer checkpoints write far fewer states per event
  // (with 1M entities: ~0.9 per event at 200K records, ~0.6 at 1M, ~0.2 at 5M); a crash
  // replays at most this many records. Default: kDefaultCheckpointRecords.
  size_t checkpoint_records = kDefaultCheckpointRecords;
  // ... or when this much wall time (the clock) passed since the last one, checked on Apply:
  // an idle engine checkpoints on its next Apply, or when its owner calls Checkpoint.
  // Default: kDefaultCheckpointIntervalMs.
  int64_t checkpoint_interval_ms = kDefaultCheckpointIntervalMs;
  // Entities of a view with a TTL whose newest event is older than the source's watermark
  // minus the TTL are deleted at checkpoints (reads would give OUTSIDE_MAX_AGE; afterwards they
  // give NOT_FOUND). Event time, not wall time, so a replay expires the same entities.
  // Default: true.
  bool expire_idle_entities = true;
  // Resident entity-state bytes above which, after a checkpoint, clean (committed) entities are
  // dropped from memory, least recently touched first (second chance); they reload from the
  // backend on their next event or read. 0 = unbounded. Default: 0.
  size_t max_resident_bytes = 0;
  // Reads with as_of down to (watermark - as_of_history_ms) stay exact; checkpoints evict the
  // state that only older reads would need (EntityState::Evict with horizon = watermark -
  // as_of_history_ms), which keeps memory bounded. Default: 0 (reads at or after the
  // watermark, i.e. "now" minus up to allowed_lateness, are exact).
  int64_t as_of_history_ms = 0;
  // Checkpoints also sweep this fraction of the shards' clean entities (evict, expire), so idle
  // entities do not hold memory forever: a full pass every `1 / sweep_fraction` checkpoints.
  // Default: 1/16.
  double sweep_fraction = 1.0 / 16;
  // Where views with `lookups` read table rows (stream/view_lookups.h): each event is
  // enriched as of its time when it is applied. Not owned; must outlive the engine. Required
  // when a view declares lookups (Create fails with kInvalidArgument otherwise). Default: none.
  const AttributeLookup* tables = nullptr;
  // Called on the writer's thread at the start of every checkpoint, before anything is
  // committed: what the owner derives from applied records and must make durable before the
  // progress passes them (the instance's trigger jobs) is made durable here. Default: none.
  std::function<void()> before_checkpoint;
};

struct ViewRead {
  std::vector<Value> values;  // one per requested feature
  ReadStatus status = ReadStatus::kNotFound;
  int64_t event_ms = 0;  // newest event time of the entity (0 when not found)
};

struct EngineStats {
  uint64_t events_applied = 0;  // since Create
  uint64_t late_events = 0;     // all time (SourceProgress.late_events summed)
  uint64_t checkpoints = 0;
  double checkpoint_seconds = 0;  // wall time spent in them, since Create
  uint64_t entities = 0;          // resident entity states (all views)
  uint64_t resident_bytes = 0;    // their approximate memory, as of the last checkpoint
  uint64_t entity_loads = 0;      // states loaded from the backend on demand
  std::map<std::string, int64_t> watermark_ms;  // by source
};

class StreamEngine {
 public:
  // Compiles every view of `spec` (errors name the spec line, feature and expression column),
  // assigns view ids and loads the committed progress from `backend`.
  static Result<std::unique_ptr<StreamEngine>> Create(const ProjectSpec& spec,
                                                      StateBackend* backend, const Clock* clock,
                                                      EngineOptions options = {});
  ~StreamEngine();

  // The next offset to apply in `partition` of `source` (replay starts here after a restart).
  uint64_t NextOffset(const std::string& source, int32_t partition = 0) const;
  // Every partition's next offset of `source` (partitions never applied are absent).
  PartitionOffsets Position(const std::string& source) const;

  // Applies records of `source` (its partition 0) that sit at offsets first_offset,
  // first_offset + 1, ... Records below NextOffset(source) are skipped (already applied), so a
  // replay is idempotent; a gap above it is accepted (offsets need not be dense, as in Kafka).
  // Each record is checked against the source's watermark in order (one watermark per source,
  // across its partitions); late ones go to the dead letter. Checkpoints when the options say
  // it is time. Single writer.
  Status Apply(const std::string& source, uint64_t first_offset,
               const std::vector<Record>& records) {
    return Apply(source, 0, first_offset, records);
  }
  // The same for records of `partition`, whose offsets are counted apart from the others'.
  Status Apply(const std::string& source, int32_t partition, uint64_t first_offset,
               const std::vector<Record>& records);
  // Moves `partition` of `source` to `next_offset` without applying anything: the offsets
  // below it hold no record for the engine (a record kept out of the source). Never rewinds.
  // Single writer.
  Status Advance(const std::string& source, int32_t partition, uint64_t next_offset);
  // Commits now. Single writer. A failed Checkpoint commits nothing and leaves the engine
  // serving and applying: every resident state is marked dirty again (and the late events
  // queued again), so the next successful Checkpoint commits all of it. A failed Apply (a
  // backend error while loading state) is final: the engine refuses further writes with that
  // error, as memory may hold part of the batch, and only a restart (reload the checkpoint,
  // replay the log) restores exactly-once. Apply returns the error of the checkpoint it
  // triggers too; the batch was applied then (NextOffset has moved past it).
  Status Checkpoint();

  // Reads `features` (names of the view's features; all when empty) of one entity at time
  // as_of_ms. Statuses and values follow CompiledView::ReadEntity. Errors: kNotFound for an
  // unknown view or feature, kInvalidArgument for a key of the wrong arity. Thread-safe
  // against Apply and other reads.
  Result<ViewRead> Read(const std::string& view, const std::vector<Value>& key,
                        const std::vector<std::string>& features, int64_t as_of_ms);
  // Read for a batch of entities of one view: out[i] is the read of keys[i] (`out` is resized
  // to keys.size() and its vectors reused). The view and feature names are resolved once.
  // Same errors, checked before anything is read; on error *out is unspecified.
  Status ReadBatch(const std::string& view, const std::vector<std::vector<Value>>& keys,
                   const std::vector<std::string>& features, int64_t as_of_ms,
                   std::vector<ViewRead>* out);

  // Stops maintaining `view` and frees its resident state: later Applies skip it, reads answer
  // kNotFound, checkpoints write nothing of it (its stored states are the caller's to delete,
  // StateBackend::Drop). Single writer. kNotFound for an unknown view.
  Status DropView(const std::string& view);
  // The backend's id of `view` (kNotFound when unknown or dropped).
  Result<uint32_t> ViewIdOf(const std::string& view) const;

  // The compiled view, or null. Valid as long as the engine.
  const CompiledView* view(const std::string& name) const;
  // Most recent late events of `source`, newest first: those not yet checkpointed, then the
  // backend's. Thread-safe.
  Result<std::vector<LateEvent>> ListLate(const std::string& source, size_t limit);
  EngineStats stats() const;  // thread-safe

 private:
  struct Impl;
  explicit StreamEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace freshet
