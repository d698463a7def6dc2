// StreamEngine: the online half of the feature engine. Consumes records of every source in log
// order, applies the watermark (late events go to the dead letter, counted), updates the window
// state of every view fed by the source, and checkpoints: dirty entity states, consumed offsets,
// watermarks and late events are committed in ONE atomic StateBackend::Commit, so after kill -9
// a restart reloads the checkpoint and replays the log from the committed offsets — no event
// lost, none counted twice (docs/exactly_once.md).
//
// Threading: one writer (Apply, Checkpoint) and any number of concurrent readers (Read*).
// State is sharded by entity; each shard has its own mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "log/record.h"
#include "spec/project_spec.h"
#include "stream/compiled_view.h"

namespace freshet {

// A late event kept in the dead letter.
struct LateEvent {
  std::string source;
  uint64_t offset = 0;
  int64_t watermark_ms = 0;  // the watermark it missed
  Record record;
};

// Per-source progress stored with each checkpoint.
struct SourceProgress {
  uint64_t next_offset = 0;          // first log offset not yet applied
  int64_t max_event_ms = INT64_MIN;  // newest event time seen; watermark = this - lateness
  uint64_t late_events = 0;
};

// Everything one checkpoint commits, atomically.
struct StateCommit {
  struct Put {
    uint32_t view_id;
    std::string entity_key;
    std::string state;  // empty string with `erase` set deletes
    bool erase = false;
  };
  std::vector<Put> puts;
  std::vector<LateEvent> late;
  std::map<std::string, SourceProgress> progress;  // by source name
};

// Where window state lives between restarts. Pluggable: RocksDbStateBackend (embedded, one
// WriteBatch per commit) here; a Redis/Kafka backend for scale-out later.
class StateBackend {
 public:
  virtual ~StateBackend() = default;
  virtual Result<std::optional<std::string>> LoadEntity(uint32_t view_id,
                                                        const std::string& entity_key) = 0;
  // Calls `fn` for every stored entity state (startup warm-load).
  virtual Status ForEachEntity(
      const std::function<void(uint32_t view_id, std::string_view key, std::string_view state)>&
          fn) = 0;
  virtual Result<std::map<std::string, SourceProgress>> LoadProgress() = 0;
  virtual Status Commit(const StateCommit& commit) = 0;
  // Most recent late events of `source`, newest first.
  virtual Result<std::vector<LateEvent>> ListLate(const std::string& source, size_t limit) = 0;
};

struct EngineOptions {
  // Entity shards (each with a mutex). Default: 64.
  size_t shards = 64;
  // Checkpoint when this many records were applied since the last one. Default: 200,000.
  size_t checkpoint_records = 200'000;
  // ... or when this much wall time passed since the last one. Default: 1000 ms.
  int64_t checkpoint_interval_ms = 1000;
  // Idle entities whose newest event is older than now - view TTL are dropped at checkpoint.
  // Default: true.
  bool expire_idle_entities = true;
};

struct ViewRead {
  std::vector<Value> values;  // one per requested feature
  ReadStatus status = ReadStatus::kNotFound;
  int64_t event_ms = 0;       // newest event time of the entity (0 when not found)
};

struct EngineStats {
  uint64_t events_applied = 0;
  uint64_t late_events = 0;
  uint64_t checkpoints = 0;
  uint64_t entities = 0;
  std::map<std::string, int64_t> watermark_ms;  // by source
};

class StreamEngine {
 public:
  // Compiles every view of `spec` and loads the committed progress from `backend`.
  static Result<std::unique_ptr<StreamEngine>> Create(const ProjectSpec& spec,
                                                      StateBackend* backend, const Clock* clock,
                                                      EngineOptions options = {});
  ~StreamEngine();

  // The next log offset to apply for `source` (replay starts here after a restart).
  uint64_t NextOffset(const std::string& source) const;

  // Applies records of `source` that sit at log offsets first_offset, first_offset + 1, ...
  // Records below NextOffset(source) are skipped (already applied), so a replay is idempotent.
  // Checkpoints when the options say it is time. Single writer.
  Status Apply(const std::string& source, uint64_t first_offset,
               const std::vector<Record>& records);
  // Commits now. Single writer.
  Status Checkpoint();

  // Reads `features` (names of the view's features; all when empty) of one entity at time
  // as_of_ms. Thread-safe against Apply.
  Result<ViewRead> Read(const std::string& view, const std::vector<Value>& key,
                        const std::vector<std::string>& features, int64_t as_of_ms);

  const CompiledView* view(const std::string& name) const;
  Result<std::vector<LateEvent>> ListLate(const std::string& source, size_t limit);
  EngineStats stats() const;

 private:
  struct Impl;
  explicit StreamEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace freshet
