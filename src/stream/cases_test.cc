// The declarative stream-semantics tests: every testdata/cases/*.case file (format in
// case_file.h) runs through three targets, and each must give the expected values:
//   online-memory   StreamEngine over MemoryStateBackend, a checkpoint after every events block
//                   (so eviction runs between reads);
//   online-rocksdb  StreamEngine over RocksDbStateBackend with max_resident_bytes = 1 (every
//                   checkpoint drops all entities, so reads reload them); at the middle record
//                   it checkpoints, applies the rest of the block WITHOUT a checkpoint, "crashes"
//                   (drops engine and database), reopens and replays every source from offset 0
//                   — restart equality and skip-below-offset idempotency on every case;
//   offline         a plain replay: a fresh EntityState per entity from CompiledView::NewState,
//                   events filtered by the same watermark rule, inserted and read in order.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>

#include "spec/spec_loader.h"
#include "storage/db.h"
#include "stream/case_runner.h"
#include "stream/engine.h"
#include "stream/entity_key.h"
#include "stream/memory_state_backend.h"
#include "stream/rocksdb_state_backend.h"
#include "stream/watermark.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

class MemoryEngineTarget : public CaseTarget {
 public:
  static Result<std::unique_ptr<MemoryEngineTarget>> Create(const ProjectSpec& spec) {
    auto t = std::unique_ptr<MemoryEngineTarget>(new MemoryEngineTarget());
    ASSIGN_OR_RETURN(t->engine_, StreamEngine::Create(spec, &t->backend_, &t->clock_, Options()));
    return t;
  }
  static EngineOptions Options() {
    EngineOptions options;
    options.shards = 4;
    options.checkpoint_records = 1'000'000;
    options.checkpoint_interval_ms = INT64_MAX;
    options.expire_idle_entities = false;  // expiry turns OUTSIDE_MAX_AGE into NOT_FOUND
    return options;
  }

  std::string name() const override { return "online-memory"; }
  Status Apply(const std::string& source, uint64_t offset,
               const std::vector<Record>& records) override {
    RETURN_IF_ERROR(engine_->Apply(source, offset, records));
    return engine_->Checkpoint();
  }
  Result<ViewRead> Read(const std::string& view, const std::vector<Value>& key,
                        int64_t at_ms) override {
    return engine_->Read(view, key, {}, at_ms);
  }
  Result<uint64_t> Late() override { return engine_->stats().late_events; }

 private:
  MemoryEngineTarget() = default;
  ManualClock clock_{0};
  MemoryStateBackend backend_;
  std::unique_ptr<StreamEngine> engine_;
};

class RocksDbRestartTarget : public CaseTarget {
 public:
  RocksDbRestartTarget(const ProjectSpec& spec, std::string dir, size_t total_records)
      : spec_(spec), dir_(std::move(dir)), midpoint_(total_records / 2) {}
  ~RocksDbRestartTarget() override {
    Close();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Status Open() {
    ASSIGN_OR_RETURN(db_, Db::Open(dir_));
    backend_ = std::make_unique<RocksDbStateBackend>(db_.get());
    EngineOptions options = MemoryEngineTarget::Options();
    options.max_resident_bytes = 1;
    ASSIGN_OR_RETURN(engine_, StreamEngine::Create(spec_, backend_.get(), &clock_, options));
    return Status::Ok();
  }

  std::string name() const override { return "online-rocksdb"; }

  Status Apply(const std::string& source, uint64_t offset,
               const std::vector<Record>& records) override {
    RETURN_IF_ERROR(RecoverIfCrashed());
    auto& log = log_[source];
    log.insert(log.end(), records.begin(), records.end());
    size_t before = applied_;
    applied_ += records.size();
    if (crashed_ || applied_ <= midpoint_) {
      RETURN_IF_ERROR(engine_->Apply(source, offset, records));
      return engine_->Checkpoint();
    }
    // The block crossing the middle: checkpoint there, apply the rest, then crash.
    size_t head = midpoint_ - before;
    std::vector<Record> first(records.begin(), records.begin() + head);
    std::vector<Record> rest(records.begin() + head, records.end());
    RETURN_IF_ERROR(engine_->Apply(source, offset, first));
    RETURN_IF_ERROR(engine_->Checkpoint());
    RETURN_IF_ERROR(engine_->Apply(source, offset + head, rest));
    crash_pending_ = true;
    return Status::Ok();
  }

  Result<ViewRead> Read(const std::string& view, const std::vector<Value>& key,
                        int64_t at_ms) override {
    RETURN_IF_ERROR(RecoverIfCrashed());
    return engine_->Read(view, key, {}, at_ms);
  }

  Result<uint64_t> Late() override {
    RETURN_IF_ERROR(RecoverIfCrashed());
    return engine_->stats().late_events;
  }

 private:
  void Close() {
    engine_.reset();
    backend_.reset();
    db_.reset();
  }

  // Drops everything in memory, reopens and replays every source's whole log; the engine must
  // skip what its checkpoint already holds.
  Status RecoverIfCrashed() {
    if (!crash_pending_) return Status::Ok();
    crash_pending_ = false;
    crashed_ = true;
    Close();
    RETURN_IF_ERROR(Open());
    for (const auto& [source, log] : log_) RETURN_IF_ERROR(engine_->Apply(source, 0, log));
    return Status::Ok();
  }

  const ProjectSpec& spec_;
  std::string dir_;
  size_t midpoint_;
  size_t applied_ = 0;
  bool crash_pending_ = false;
  bool crashed_ = false;
  std::map<std::string, std::vector<Record>> log_;
  ManualClock clock_{0};
  std::unique_ptr<Db> db_;
  std::unique_ptr<RocksDbStateBackend> backend_;
  std::unique_ptr<StreamEngine> engine_;
};

class OfflineTarget : public CaseTarget {
 public:
  static Result<std::unique_ptr<OfflineTarget>> Create(const ProjectSpec& spec) {
    auto t = std::unique_ptr<OfflineTarget>(new OfflineTarget());
    for (const auto& [name, view] : spec.feature_views) {
      ASSIGN_OR_RETURN(t->views_[name].compiled, CompiledView::Compile(spec, view));
      t->sources_[view.source].views.push_back(name);
    }
    for (const auto& [name, source] : spec.sources)
      t->sources_[name].watermark = WatermarkTracker(source.allowed_lateness_ms);
    return t;
  }

  std::string name() const override { return "offline"; }

  Status Apply(const std::string& source, uint64_t, const std::vector<Record>& records) override {
    SourceState& src = sources_[source];
    for (const Record& r : records) {
      if (!src.watermark.Accept(r.ts_ms)) {
        ++late_;
        continue;
      }
      for (const std::string& name : src.views) {
        ViewStates& view = views_[name];
        EncodeRecordKey(r, view.compiled->key_field_indexes(), &key_);
        auto& state = view.states[key_];
        if (!state) state = view.compiled->NewState();
        state->Insert(r);
      }
    }
    return Status::Ok();
  }

  Result<ViewRead> Read(const std::string& view, const std::vector<Value>& key,
                        int64_t at_ms) override {
    auto it = views_.find(view);
    if (it == views_.end()) return Status::NotFound(view);
    auto state = it->second.states.find(EncodeEntityKey(key));
    EntityState* s = state == it->second.states.end() ? nullptr : state->second.get();
    ViewRead read;
    read.status = it->second.compiled->ReadEntity(s, at_ms, {}, &read.values);
    return read;
  }

  Result<uint64_t> Late() override { return late_; }

 private:
  struct ViewStates {
    std::shared_ptr<const CompiledView> compiled;
    std::map<std::string, std::unique_ptr<EntityState>> states;
  };
  struct SourceState {
    WatermarkTracker watermark{0};
    std::vector<std::string> views;
  };
  OfflineTarget() = default;
  std::map<std::string, ViewStates> views_;
  std::map<std::string, SourceState> sources_;
  uint64_t late_ = 0;
  std::string key_;  // scratch
};

std::string TempDir() {
  static std::atomic<int> counter{0};
  return (fs::temp_directory_path() / fmt::format("freshet_cases_{}_{}", getpid(), counter++))
      .string();
}

class CasesTest : public testing::TestWithParam<std::string> {};

TEST_P(CasesTest, MatchesExpectationsOnlineAndOffline) {
  auto loaded = LoadCase(GetParam());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  LoadedCase& c = *loaded;
  if (!c.file.expected_error.empty()) {
    auto spec = ParseProject(c.file.spec_yaml, c.file.path);
    Status error = spec.status();
    if (spec.ok()) error = MemoryEngineTarget::Create(*spec).status();
    ASSERT_FALSE(error.ok()) << c.file.path << ": expected an error containing '"
                             << c.file.expected_error << "'";
    EXPECT_NE(error.message().find(c.file.expected_error), std::string::npos)
        << c.file.path << ": expected an error containing '" << c.file.expected_error << "', got "
        << error.message();
    return;
  }

  auto memory = MemoryEngineTarget::Create(c.spec);
  ASSERT_TRUE(memory.ok()) << memory.status().ToString();
  auto offline = OfflineTarget::Create(c.spec);
  ASSERT_TRUE(offline.ok()) << offline.status().ToString();
  RocksDbRestartTarget rocks(c.spec, TempDir(), c.total_records);
  Status opened = rocks.Open();
  ASSERT_TRUE(opened.ok()) << opened.ToString();

  for (CaseTarget* target : std::vector<CaseTarget*>{memory->get(), &rocks, offline->get()}) {
    for (const std::string& failure : RunCase(c, target)) ADD_FAILURE() << failure;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, CasesTest, testing::ValuesIn(CaseFiles()), CaseTestName);

TEST(CasesInventory, HasAtLeast45Cases) { EXPECT_GE(CaseFiles().size(), 45u) << CasesDir(); }

}  // namespace
}  // namespace freshet
