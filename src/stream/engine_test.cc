#include "stream/engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "spec/spec_loader.h"
#include "storage/db.h"
#include "stream/memory_state_backend.h"
#include "stream/rocksdb_state_backend.h"

namespace freshet {
namespace {

constexpr char kSpec[] = R"yaml(project: t
entities:
  user: {key: user_id}
sources:
  events:
    kind: http
    timestamp: ts
    allowed_lateness: 10s
    fields: {user_id: string, ts: timestamp, category: string, amount: double}
feature_views:
  v:
    entity: user
    source: events
    ttl: 1h
    features:
      n_1m: {agg: count, window: 1m}
      sum_10m: {agg: sum, of: amount, window: 10m}
      hop_mean: {agg: mean, of: amount, window: 10m, hop: 1m}
      day: {agg: count, window: 1d, tumbling: true}
      session_n: {agg: count, session_gap: 5m}
      cats: {agg: distinct_count, of: category}
      last_cat: {agg: last, of: category}
      recent: {agg: last_n, of: amount, n: 3, window: 10m}
      ratio: {expr: "n_1m / nullif(session_n, 0)"}
)yaml";

ProjectSpec Spec() {
  auto spec = ParseProject(kSpec, "freshet.yaml");
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  return std::move(spec).value();
}

Record Event(const std::string& user, int64_t ts, const std::string& category, double amount) {
  Record r;
  r.ts_ms = ts;
  r.values = {Value::String(user), Value::Int(ts), Value::String(category), Value::Double(amount)};
  return r;
}

// A deterministic stream over `users` entities, mostly in order with some jitter (so some
// events are out of order and a few late).
std::vector<Record> Stream(size_t n, int users, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Record> out;
  int64_t t = 1'000'000;
  for (size_t i = 0; i < n; ++i) {
    t += rng() % 2000;
    int64_t jitter = static_cast<int64_t>(rng() % 15'000);
    out.push_back(Event("u" + std::to_string(rng() % users), t - jitter,
                        "c" + std::to_string(rng() % 5), static_cast<double>(rng() % 100)));
  }
  return out;
}

EngineOptions ManualOptions() {
  EngineOptions options;
  options.shards = 8;
  options.checkpoint_records = 1'000'000'000;
  options.checkpoint_interval_ms = INT64_MAX;
  return options;
}

std::unique_ptr<StreamEngine> MakeEngine(const ProjectSpec& spec, StateBackend* backend,
                                         const Clock* clock,
                                         EngineOptions options = ManualOptions()) {
  auto engine = StreamEngine::Create(spec, backend, clock, options);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return std::move(engine).value();
}

// Every feature of every user at `at`, as text, for whole-state comparisons.
std::string Snapshot(StreamEngine* engine, int users, int64_t at) {
  std::string out;
  for (int u = 0; u < users; ++u) {
    auto read = engine->Read("v", {Value::String("u" + std::to_string(u))}, {}, at);
    EXPECT_TRUE(read.ok()) << read.status().ToString();
    out += "u" + std::to_string(u) + " " + std::string(ReadStatusName(read->status)) + ":";
    for (const Value& v : read->values) out += " " + v.ToString();
    out += "\n";
  }
  return out;
}

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = (std::filesystem::temp_directory_path() /
             ("freshet_engine_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++)))
                .string();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(StreamEngineTest, ApplySkipsRecordsBelowNextOffset) {
  ProjectSpec spec = Spec();
  ManualClock clock(0);
  MemoryStateBackend backend;
  auto engine = MakeEngine(spec, &backend, &clock);
  std::vector<Record> records = {Event("u1", 1000, "a", 1), Event("u1", 2000, "b", 2),
                                 Event("u1", 3000, "c", 4)};
  ASSERT_TRUE(engine->Apply("events", 0, records).ok());
  EXPECT_EQ(engine->NextOffset("events"), 3u);
  // The same batch again, and an overlapping one: only offset 3 is new.
  ASSERT_TRUE(engine->Apply("events", 0, records).ok());
  std::vector<Record> overlap = {Event("u1", 3000, "c", 4), Event("u1", 4000, "d", 8)};
  ASSERT_TRUE(engine->Apply("events", 2, overlap).ok());
  EXPECT_EQ(engine->NextOffset("events"), 4u);
  EXPECT_EQ(engine->stats().events_applied, 4u);
  auto read = engine->Read("v", {Value::String("u1")}, {"sum_10m", "cats"}, 5000);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->values[0], Value::Double(15));
  EXPECT_EQ(read->values[1], Value::Int(4));
}

TEST(StreamEngineTest, CrashAndReplayEqualsUninterruptedRun) {
  ProjectSpec spec = Spec();
  ManualClock clock(0);
  const int kUsers = 50;
  std::vector<Record> stream = Stream(4000, kUsers, 7);
  const int64_t end = stream.back().ts_ms + 20'000;

  MemoryStateBackend reference_backend;
  auto reference = MakeEngine(spec, &reference_backend, &clock);
  for (size_t i = 0; i < stream.size(); i += 100) {
    std::vector<Record> batch(stream.begin() + i,
                              stream.begin() + std::min(stream.size(), i + 100));
    ASSERT_TRUE(reference->Apply("events", i, batch).ok());
  }
  std::string expected = Snapshot(reference.get(), kUsers, end);

  TempDir dir;
  {
    auto db = Db::Open(dir.path());
    ASSERT_TRUE(db.ok());
    RocksDbStateBackend backend(db->get());
    auto engine = MakeEngine(spec, &backend, &clock);
    std::vector<Record> first(stream.begin(), stream.begin() + 2500);
    ASSERT_TRUE(engine->Apply("events", 0, first).ok());
    ASSERT_TRUE(engine->Checkpoint().ok());
    std::vector<Record> more(stream.begin() + 2500, stream.begin() + 3300);
    ASSERT_TRUE(engine->Apply("events", 2500, more).ok());
    // Crash: engine and database dropped without a checkpoint of the last 800 records.
  }
  auto db = Db::Open(dir.path());
  ASSERT_TRUE(db.ok());
  RocksDbStateBackend backend(db->get());
  auto engine = MakeEngine(spec, &backend, &clock);
  EXPECT_EQ(engine->NextOffset("events"), 2500u);
  ASSERT_TRUE(engine->Apply("events", 0, stream).ok());  // replay everything from 0
  EXPECT_EQ(engine->NextOffset("events"), stream.size());
  EXPECT_EQ(engine->stats().late_events, reference->stats().late_events);
  EXPECT_GT(engine->stats().entity_loads, 0u);
  EXPECT_EQ(Snapshot(engine.get(), kUsers, end), expected);
}

TEST(StreamEngineTest, LateEventsGoToTheDeadLetterNewestFirst) {
  ProjectSpec spec = Spec();
  ManualClock clock(0);
  MemoryStateBackend backend;
  auto engine = MakeEngine(spec, &backend, &clock);
  // Lateness 10 s: after 100 s the watermark is 90 s.
  ASSERT_TRUE(
      engine->Apply("events", 0, {Event("u1", 100'000, "a", 1), Event("u1", 50'000, "late1", 1)})
          .ok());
  ASSERT_TRUE(engine->Checkpoint().ok());
  ASSERT_TRUE(
      engine->Apply("events", 2, {Event("u2", 95'000, "ok", 1), Event("u2", 80'000, "late2", 1)})
          .ok());

  EXPECT_EQ(engine->stats().late_events, 2u);
  auto late = engine->ListLate("events", 10);  // one pending, one committed
  ASSERT_TRUE(late.ok());
  ASSERT_EQ(late->size(), 2u);
  EXPECT_EQ((*late)[0].offset, 3u);
  EXPECT_EQ((*late)[0].watermark_ms, 90'000);
  EXPECT_EQ((*late)[0].record.values[2], Value::String("late2"));
  EXPECT_EQ((*late)[1].offset, 1u);
  ASSERT_TRUE(engine->Checkpoint().ok());
  auto limited = engine->ListLate("events", 1);
  ASSERT_TRUE(limited.ok());
  ASSERT_EQ(limited->size(), 1u);
  EXPECT_EQ((*limited)[0].offset, 3u);
  EXPECT_FALSE(engine->ListLate("nope", 1).ok());

  auto u2 = engine->Read("v", {Value::String("u2")}, {"cats"}, 100'000);
  ASSERT_TRUE(u2.ok());
  EXPECT_EQ(u2->values[0], Value::Int(1));  // the late event is not applied
}

TEST(StreamEngineTest, CheckpointCommitsDirtyStatesProgressAndLateTogether) {
  ProjectSpec spec = Spec();
  ManualClock clock(0);
  MemoryStateBackend backend;
  auto engine = MakeEngine(spec, &backend, &clock);
  ASSERT_TRUE(engine
                  ->Apply("events", 0,
                          {Event("u1", 100'000, "a", 1), Event("u2", 100'000, "b", 1),
                           Event("u1", 1'000, "late", 1)})
                  .ok());
  EXPECT_EQ(backend.commits(), 0u);
  ASSERT_TRUE(engine->Checkpoint().ok());
  EXPECT_EQ(backend.commits(), 1u);
  EXPECT_EQ(backend.entity_count(), 2u);
  auto progress = backend.LoadProgress();
  ASSERT_TRUE(progress.ok());
  EXPECT_EQ(progress->at("events").NextOffset(), 3u);
  EXPECT_EQ(progress->at("events").max_event_ms, 100'000);
  EXPECT_EQ(progress->at("events").late_events, 1u);
  auto late = backend.ListLate("events", 5);
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->size(), 1u);
}

TEST(StreamEngineTest, CheckpointsByRecordCountAndTime) {
  ProjectSpec spec = Spec();
  ManualClock clock(0);
  MemoryStateBackend backend;
  EngineOptions options = ManualOptions();
  options.checkpoint_records = 3;
  options.checkpoint_interval_ms = 1000;
  auto engine = MakeEngine(spec, &backend, &clock, options);
  ASSERT_TRUE(
      engine->Apply("events", 0, {Event("u1", 1000, "a", 1), Event("u1", 2000, "a", 1)}).ok());
  EXPECT_EQ(backend.commits(), 0u);
  ASSERT_TRUE(engine->Apply("events", 2, {Event("u1", 3000, "a", 1)}).ok());
  EXPECT_EQ(backend.commits(), 1u);
  clock.Advance(1000);
  ASSERT_TRUE(engine->Apply("events", 3, {Event("u1", 4000, "a", 1)}).ok());
  EXPECT_EQ(backend.commits(), 2u);
  EXPECT_EQ(engine->stats().checkpoints, 2u);
  EXPECT_GT(engine->stats().checkpoint_seconds, 0.0);
}

// before_checkpoint runs at the start of every checkpoint, the ones Apply triggers too, while
// the backend still holds the previous one.
TEST(StreamEngineTest, BeforeCheckpointRunsBeforeEachCommit) {
  ProjectSpec spec = Spec();
  ManualClock clock(0);
  MemoryStateBackend backend;
  EngineOptions options = ManualOptions();
  options.checkpoint_records = 2;
  std::vector<size_t> commits_seen;
  options.before_checkpoint = [&] { commits_seen.push_back(backend.commits()); };
  auto engine = MakeEngine(spec, &backend, &clock, options);
  ASSERT_TRUE(engine->Apply("events", 0, {Event("u1", 1000, "a", 1)}).ok());
  EXPECT_TRUE(commits_seen.empty());
  ASSERT_TRUE(engine->Apply("events", 1, {Event("u1", 2000, "a", 1)}).ok());  // triggers one
  ASSERT_TRUE(engine->Checkpoint().ok());
  EXPECT_EQ(commits_seen, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(backend.commits(), 2u);
}

TEST(StreamEngineTest, ReadsRunConcurrentlyWithApply) {
  ProjectSpec spec = Spec();
  ManualClock clock(0);
  MemoryStateBackend backend;
  EngineOptions options = ManualOptions();
  options.checkpoint_records = 500;
  auto engine = MakeEngine(spec, &backend, &clock, options);
  const int kUsers = 20;
  std::vector<Record> stream = Stream(20'000, kUsers, 11);
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      int64_t last_lifetime = 0;  // a lifetime distinct count never shrinks
      while (!done.load()) {
        auto read =
            engine->Read("v", {Value::String("u" + std::to_string(r))}, {"cats"}, 1LL << 40);
        ASSERT_TRUE(read.ok());
        int64_t cats = read->values[0].is_int() ? read->values[0].as_int() : 0;
        EXPECT_GE(cats, last_lifetime);
        last_lifetime = cats;
        ++reads;
      }
    });
  }
  for (size_t i = 0; i < stream.size(); i += 50) {
    std::vector<Record> batch(stream.begin() + i, stream.begin() + std::min(stream.size(), i + 50));
    ASSERT_TRUE(engine->Apply("events", i, batch).ok());
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(engine->NextOffset("events"), stream.size());
}

TEST(StreamEngineTest, IdleEntitiesPastTtlAreDeletedAtCheckpoint) {
  ProjectSpec spec = Spec();  // ttl 1h
  ManualClock clock(0);
  MemoryStateBackend backend;
  EngineOptions options = ManualOptions();
  options.sweep_fraction = 1.0;
  auto engine = MakeEngine(spec, &backend, &clock, options);
  ASSERT_TRUE(engine->Apply("events", 0, {Event("idle", 1000, "a", 1)}).ok());
  ASSERT_TRUE(engine->Checkpoint().ok());
  EXPECT_EQ(backend.entity_count(), 1u);
  auto stale = engine->Read("v", {Value::String("idle")}, {"cats"}, 2 * 3600'000);
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(stale->status, ReadStatus::kOutsideMaxAge);
  EXPECT_TRUE(stale->values[0].is_null());

  // Another entity moves the watermark past idle's newest event + ttl.
  ASSERT_TRUE(engine->Apply("events", 1, {Event("busy", 2 * 3600'000, "a", 1)}).ok());
  ASSERT_TRUE(engine->Checkpoint().ok());
  EXPECT_EQ(backend.entity_count(), 1u);  // only busy
  auto gone = engine->Read("v", {Value::String("idle")}, {"cats"}, 2 * 3600'000);
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->status, ReadStatus::kNotFound);
  EXPECT_EQ(engine->stats().entities, 1u);
}

TEST(StreamEngineTest, CheckpointsCommitInStateKeyOrder) {
  // Two views, and a second checkpoint that both rewrites entities and deletes expired ones.
  std::string yaml = kSpec;
  yaml += R"yaml(  w:
    entity: user
    source: events
    ttl: 30m
    features:
      total: {agg: sum, of: amount}
)yaml";
  auto spec = ParseProject(yaml, "freshet.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ManualClock clock(0);
  MemoryStateBackend backend;  // refuses puts out of state key order, as every backend does
  EngineOptions options = ManualOptions();
  options.sweep_fraction = 1.0;
  auto engine = MakeEngine(*spec, &backend, &clock, options);
  std::vector<Record> early;
  for (int u = 0; u < 500; ++u) early.push_back(Event("u" + std::to_string(u), 1000, "a", 1));
  ASSERT_TRUE(engine->Apply("events", 0, early).ok());
  ASSERT_TRUE(engine->Checkpoint().ok());
  EXPECT_EQ(backend.entity_count(), 1000u);  // 500 entities in each view
  // Two hours later: every third user comes back, the others expire from both views.
  std::vector<Record> late;
  for (int u = 0; u < 500; u += 3) {
    late.push_back(Event("u" + std::to_string(u), 2 * 3600'000, "a", 1));
  }
  ASSERT_TRUE(engine->Apply("events", early.size(), late).ok());
  ASSERT_TRUE(engine->Checkpoint().ok());
  EXPECT_EQ(backend.entity_count(), 2 * late.size());
}

TEST(StreamEngineTest, MemoryBoundDropsCleanEntitiesThatReloadOnDemand) {
  ProjectSpec spec = Spec();
  ManualClock clock(0);
  MemoryStateBackend backend;
  EngineOptions options = ManualOptions();
  options.max_resident_bytes = 20'000;
  auto engine = MakeEngine(spec, &backend, &clock, options);
  MemoryStateBackend unbounded_backend;
  auto unbounded = MakeEngine(spec, &unbounded_backend, &clock);
  const int kUsers = 200;
  std::vector<Record> stream = Stream(3000, kUsers, 3);
  for (size_t i = 0; i < stream.size(); i += 300) {
    std::vector<Record> batch(stream.begin() + i, stream.begin() + i + 300);
    ASSERT_TRUE(engine->Apply("events", i, batch).ok());
    ASSERT_TRUE(engine->Checkpoint().ok());
    ASSERT_TRUE(unbounded->Apply("events", i, batch).ok());
    EXPECT_LE(engine->stats().resident_bytes, 20'000u);
  }
  EXPECT_LT(engine->stats().entities, static_cast<uint64_t>(kUsers));
  const int64_t end = stream.back().ts_ms + 1;
  EXPECT_EQ(Snapshot(engine.get(), kUsers, end), Snapshot(unbounded.get(), kUsers, end));
  EXPECT_GT(engine->stats().entity_loads, 0u);
}

TEST(StreamEngineTest, ReadErrorsAndUnknownEntities) {
  ProjectSpec spec = Spec();
  ManualClock clock(0);
  MemoryStateBackend backend;
  auto engine = MakeEngine(spec, &backend, &clock);
  EXPECT_EQ(engine->Read("nope", {Value::String("u")}, {}, 0).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(engine->Read("v", {Value::String("u")}, {"nope"}, 0).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(engine->Read("v", {}, {}, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->Apply("nope", 0, {}).code(), StatusCode::kNotFound);
  auto read = engine->Read("v", {Value::String("ghost")}, {"n_1m", "ratio", "last_cat"}, 0);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->status, ReadStatus::kNotFound);
  EXPECT_EQ(read->values[0], Value::Int(0));
  EXPECT_TRUE(read->values[1].is_null());
  EXPECT_TRUE(read->values[2].is_null());
  ASSERT_NE(engine->view("v"), nullptr);
  EXPECT_EQ(engine->view("w"), nullptr);
}

// A backend whose commits fail on demand: at the start, or at the very end, after every state
// was handed over (so the engine has already taken its entries for written).
class FailingBackend : public MemoryStateBackend {
 public:
  enum class Fail { kNever, kAtBegin, kAtFinish };

  Result<std::unique_ptr<StateCommitWriter>> BeginCommit(size_t puts) override {
    if (fail == Fail::kAtBegin) return Status::IoError("disk on fire");
    ASSIGN_OR_RETURN(auto writer, MemoryStateBackend::BeginCommit(puts));
    if (fail != Fail::kAtFinish) return writer;
    return std::unique_ptr<StateCommitWriter>(new FailingWriter(std::move(writer)));
  }
  Fail fail = Fail::kNever;

 private:
  class FailingWriter : public StateCommitWriter {
   public:
    explicit FailingWriter(std::unique_ptr<StateCommitWriter> inner) : inner_(std::move(inner)) {}
    Status Put(uint32_t view_id, std::string_view key, const std::string* state) override {
      return inner_->Put(view_id, key, state);
    }
    Status Finish(const std::vector<LateEvent>&,
                  const std::map<std::string, SourceProgress>&) override {
      return Status::IoError("no space left on device");  // inner_ dies unfinished
    }

   private:
    std::unique_ptr<StateCommitWriter> inner_;
  };
};

TEST(StreamEngineTest, FailedCheckpointIsRetriedAndLosesNothing) {
  for (auto fail : {FailingBackend::Fail::kAtBegin, FailingBackend::Fail::kAtFinish}) {
    ProjectSpec spec = Spec();
    ManualClock clock(0);
    FailingBackend backend;
    auto engine = MakeEngine(spec, &backend, &clock);
    ASSERT_TRUE(engine->Apply("events", 0, {Event("u1", 100'000, "a", 1)}).ok());
    ASSERT_TRUE(engine->Checkpoint().ok());
    // u1 again, a new u2, and one event later than the 10 s allowed: the dead letter.
    ASSERT_TRUE(engine
                    ->Apply("events", 1,
                            {Event("u1", 101'000, "b", 2), Event("u2", 102'000, "a", 5),
                             Event("u3", 50'000, "a", 7)})
                    .ok());
    backend.fail = fail;
    EXPECT_EQ(engine->Checkpoint().code(), StatusCode::kIoError);
    EXPECT_EQ(engine->Checkpoint().code(), StatusCode::kIoError);
    // The engine keeps serving and applying meanwhile.
    ASSERT_TRUE(engine->Apply("events", 4, {Event("u2", 103'000, "c", 1)}).ok());
    auto read = engine->Read("v", {Value::String("u2")}, {"cats"}, 103'000);
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(read->values[0], Value::Int(2));
    backend.fail = FailingBackend::Fail::kNever;
    ASSERT_TRUE(engine->Checkpoint().ok());

    // A restart from the backend sees everything: states, offsets and the late event.
    auto restarted = MakeEngine(spec, &backend, &clock);
    EXPECT_EQ(restarted->NextOffset("events"), 5u);
    auto u1 = restarted->Read("v", {Value::String("u1")}, {"cats", "sum_10m"}, 102'000);
    ASSERT_TRUE(u1.ok());
    EXPECT_EQ(u1->values[0], Value::Int(2));
    EXPECT_EQ(u1->values[1], Value::Double(3));
    auto u2 = restarted->Read("v", {Value::String("u2")}, {"cats"}, 103'000);
    ASSERT_TRUE(u2.ok());
    EXPECT_EQ(u2->values[0], Value::Int(2));
    auto late = restarted->ListLate("events", 10);
    ASSERT_TRUE(late.ok());
    ASSERT_EQ(late->size(), 1u);
    EXPECT_EQ((*late)[0].offset, 3u);
  }
}

TEST(EngineLookupsTest, AViewWithLookupsNeedsTheTables) {
  auto spec = ParseProject(R"yaml(project: p
entities:
  user: {key: user_id}
  item: {key: item_id}
sources:
  ev: {timestamp: ts, fields: {user_id: string, item_id: int64}}
  items: {kind: table, entity: item, timestamp: at, fields: {item_id: int64, cat: string}}
feature_views:
  sv:
    entity: user
    source: ev
    lookups: {items: {by: item_id, fields: [cat]}}
    features: {top: {agg: top_k, of: cat, k: 2}}
)yaml",
                           "freshet.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  MemoryStateBackend backend;
  ManualClock clock(0);
  auto engine = StreamEngine::Create(*spec, &backend, &clock);
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().message(),
            "view 'sv' looks up table 'items', and the engine has no tables");
}

}  // namespace
}  // namespace freshet
