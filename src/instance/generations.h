// FeatureGenerations: blue-green feature generations. A stream view's state is kept per
// (view, generation); generation numbers are unique across the project (1, 2, ...), so a
// number alone names one view's generation.
//
// Where they come from: the first Open gives every stream view generation 1. At each Open a view
// whose definition changed (its state fingerprint: aggregations, windows, filters, input types,
// lookups — a derived feature's expression alone does not count) gets a new generation, and so
// does a view new to the spec and `Rebuild` (freshet features rebuild). A new generation is
// BUILDING: a background thread replays the retained event log into it (table lookups read the
// table history as of each event), from the start of retention or `since`, while the older
// generations keep serving and keep up with new events. Once it has caught up it is LIVE: every
// new event is applied to every live generation. RETIRED generations have no state left. A
// view over a kafka source (whose records are not in the log) is built by the live path: the
// source's consumer resumes at the lowest offsets of the engines it feeds, so it reads the topic
// again from what Kafka keeps into the new generation (the others skip what they applied), and
// the generation becomes LIVE at the first checkpoint that finds it at the live ones' offsets.
//
// Engines: generation 1 of every view lives in the primary StreamEngine, whose checkpoint keys
// are those of a data directory without generations (so older directories open unchanged); it
// also keeps the dead letter. Each later generation has its own engine over a
// ScopedStateBackend (stream/scoped_state_backend.h): its own view id, its own per-source
// offsets, committed atomically with its states — the exactly-once contract holds per
// generation. A generation keeps the definition it was built with (the spec text is stored with
// it), so the old one serves the old definition until it is retired.
//
// Reads: the router (store/generation_router.h) answers each (view, generation); a view's
// default generation is its newest live one (the newest building one when none is live yet).
//
// Records (docs/formats.md), column family `checkpoints`:
//   "generation/<view>/" + BE32(generation) -> u8 1, u8 state, zigzag created_ms,
//        zigzag since_ms, fixed64 fingerprint, bytes spec text
//   "generation_next"                       -> BE32 next generation number
//
// Thread-safety: Route and List are thread-safe. ApplyLive and CheckpointLive are the engines'
// single writer: REQUIRES the writer mutex given at Open. Rebuild, Retire, BuildPending and
// WaitCaughtUp are thread-safe (they take the writer mutex themselves).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "log/event_log.h"
#include "sources/source.h"
#include "spec/project_spec.h"
#include "storage/db.h"
#include "store/generation_router.h"
#include "stream/engine.h"

namespace freshet {

// Applies a batch read from source `name` to `engine`.
using FeatureGenerationsApply =
    std::function<Status(StreamEngine* engine, const std::string& name, SourceBatch* batch)>;

// Part of the on-disk format: never renumber.
enum class GenerationState : uint8_t { kBuilding = 1, kLive = 2, kRetired = 3 };
// "building", "caught-up", "retired".
std::string_view GenerationStateName(GenerationState state);

struct GenerationInfo {
  std::string view;
  uint32_t generation = 0;
  GenerationState state = GenerationState::kBuilding;
  int64_t created_ms = 0;
  int64_t since_ms = INT64_MIN;  // the replay starts at events of this time (MIN: all kept)
  uint64_t fingerprint = 0;
  // Not stored; filled by List.
  bool is_default = false;  // plain feature reads of the view read this one
  uint64_t applied = 0;     // log records consumed so far (the view's source)
  uint64_t log_end = 0;     // the source's log end: applied == log_end once caught up
};

// Reads `source` into `engine` from the engine's next offset (for a pushed source at least the
// log's oldest kept record: retention may have dropped older ones) to the source's end,
// skipping records with event times before `since_ms`; each batch goes through `apply`. Stops
// early (progress kept) when `stop` is set.
Status ReplaySource(StreamEngine* engine, Source* source, EventLog* log, const std::string& name,
                    int64_t since_ms, const FeatureGenerationsApply& apply,
                    const std::atomic<bool>* stop = nullptr);

class FeatureGenerations final : public GenerationRouter {
 public:
  // A fresh cursor over source `name` (the builder's own; the instance's serve the live path).
  using OpenSource = std::function<Result<std::unique_ptr<Source>>(const std::string& name)>;
  // Checks expectations where the instance does, without recording them again.
  using ApplyBatch = FeatureGenerationsApply;

  struct Context {
    const ProjectSpec* spec = nullptr;  // the current spec; required
    Db* db = nullptr;                   // required
    StateBackend* backend = nullptr;    // required
    EventLog* log = nullptr;            // required
    const Clock* clock = nullptr;       // required
    EngineOptions engine;               // every generation's engine options
    std::mutex* writer_mu = nullptr;    // the engines' writer lock; required
    OpenSource open_source;             // required
    ApplyBatch apply;                   // required
    // Build BUILDING generations on a background thread; otherwise only BuildPending builds.
    bool build_in_background = true;
  };

  // Loads the generations, creates the ones the spec's changes need (see above) and every
  // non-retired generation's engine. Does not replay: the caller replays the live engines
  // (LiveEngines) and then calls Start. kInvalidArgument naming the view and generation when a
  // kept generation's definition no longer compiles against the spec's sources.
  static Result<std::unique_ptr<FeatureGenerations>> Open(Context context);
  ~FeatureGenerations() override;  // stops the builder (checkpointing its progress)

  // Starts the background builder (when configured).
  void Start();
  // Stops the builder; its generation keeps its committed progress for the next Open.
  void Stop();

  // The primary engine (generation 1; the dead letter).
  StreamEngine* primary() const { return primary_.get(); }
  // The engine of a LIVE generation and the sources its views read (the primary: all).
  struct LiveEngine {
    StreamEngine* engine;
    std::vector<std::string> sources;
  };
  // Engines of LIVE generations, primary first. REQUIRES writer mutex (or before Start).
  std::vector<LiveEngine> LiveEngines() const;
  // Applies a committed batch (of `partition` of `source`) to every live generation that reads
  // the source. REQUIRES writer mutex. The first error.
  Status ApplyLive(const std::string& source, int32_t partition, uint64_t first_offset,
                   const std::vector<Record>& records);
  // Moves every live generation that reads `source` past `partition`'s offsets below
  // `next_offset` (a record kept out). REQUIRES writer mutex. The first error.
  Status AdvanceLive(const std::string& source, int32_t partition, uint64_t next_offset);
  // Checkpoints every live generation (and those building from a kafka topic, which become
  // live here once they reached the live ones' offsets). REQUIRES writer mutex. The first error.
  Status CheckpointLive();
  // Per partition, the lowest next offset of `source` among the live engines reading it (`all`:
  // building ones too); a partition one of them has not seen counts as 0. Partition 0 is
  // always present.
  SourcePosition MinPosition(const std::string& source, bool all) const;

  Result<RoutedEngine> Route(const std::string& view, uint32_t generation) const override;

  // Every generation of `view` (all views when empty), by view then number.
  Result<std::vector<GenerationInfo>> List(const std::string& view) const;
  // Starts a new generation of stream view `view` with its current definition, replaying events
  // from max(`since_ms`, now - the source's retention). kNotFound for an unknown view,
  // kInvalidArgument for a table view.
  Result<GenerationInfo> Rebuild(const std::string& view, std::optional<int64_t> since_ms);
  // Frees `generation` of `view`: its resident and stored state. kNotFound when it has none;
  // kFailedPrecondition when `in_use` names deployments, or when it is the view's last
  // generation.
  Status Retire(const std::string& view, uint32_t generation,
                const std::vector<std::string>& in_use);
  // Builds every BUILDING generation to LIVE on this thread (without background building).
  Status BuildPending();
  // Waits until `generation` is LIVE (or retired), at most `timeout_ms`. kDeadlineExceeded.
  Status WaitCaughtUp(uint32_t generation, int64_t timeout_ms);

  // A generation's record: what List shows, and the spec its definition is read from.
  struct Generation {
    GenerationInfo info;
    std::string spec_text;
  };

 private:
  struct Routes;
  struct EngineSlot {
    std::shared_ptr<StreamEngine> engine;
    StateBackend* backend;             // the engine's (scoped) backend, owned with the engine
    std::vector<std::string> sources;  // the sources its views read
  };
  explicit FeatureGenerations(Context context) : ctx_(std::move(context)) {}
  Status Load();
  Status Reconcile();
  Status Persist(const Generation& g);
  Status CreateEngine(uint32_t number);
  void PublishRoutes();
  void BuilderLoop();
  int64_t RetentionStart(const std::string& source) const;
  // Builds the lowest BUILDING generation; false when none is left.
  Result<bool> BuildOne();
  // The non-retired record of `generation` of `view`, or null. REQUIRES records_mu_.
  Generation* Find(const std::string& view, uint32_t generation) const;
  // Whether generation `number` is live (the primary always is). REQUIRES records_mu_.
  bool IsLive(uint32_t number) const;
  // Whether `info` is a generation of a view over a kafka source: its records are not in the
  // log, so it is built by the live path (the consumer reads the topic again into it).
  bool FromTopic(const GenerationInfo& info) const;
  // Whether the live path applies batches to generation `number`: live, or building from the
  // topic. REQUIRES records_mu_.
  bool Fed(uint32_t number) const;
  // Per partition, the lowest next offset of `source` among the engines `take` selects (by
  // generation number). REQUIRES records_mu_.
  SourcePosition MinPositionOf(const std::string& source,
                               const std::function<bool(uint32_t)>& take) const;
  // Marks generations building from the topic live once each has reached the live
  // generations' offsets. REQUIRES writer mutex.
  Status PromoteCaughtUp();

  Context ctx_;
  std::string spec_text_;
  uint32_t next_ = 1;
  // Generation records by number, and engines by number (the primary at 1). Changed under
  // build_mu_ + writer mutex; read under either.
  mutable std::mutex records_mu_;  // records_ for List and Route's tables
  // By (generation, view): generation 1 has a record per view.
  std::map<std::pair<uint32_t, std::string>, std::unique_ptr<Generation>> records_;
  std::map<uint32_t, EngineSlot> engines_;
  std::shared_ptr<StreamEngine> primary_;
  // The engines of live generations, rebuilt by PublishRoutes; changed under the writer mutex
  // and records_mu_, so the writer reads it without records_mu_.
  std::vector<LiveEngine> live_;
  std::shared_ptr<const Routes> routes_;  // atomic_load / atomic_store

  std::mutex build_mu_;  // held by the builder while it works on a generation, and by Retire
  std::condition_variable caught_cv_;  // with records_mu_: a generation became live or retired
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool wake_ = false;  // under wake_mu_
  std::atomic<bool> stopping_{false};
  std::thread builder_;
};

}  // namespace freshet
