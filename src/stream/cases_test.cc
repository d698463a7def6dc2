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
#include <fstream>
#include <sstream>

#include "log/record_parser.h"
#include "spec/spec_loader.h"
#include "storage/db.h"
#include "stream/case_file.h"
#include "stream/engine.h"
#include "stream/memory_state_backend.h"
#include "stream/rocksdb_state_backend.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

// What a case needs from a way of computing features.
class CaseTarget {
 public:
  virtual ~CaseTarget() = default;
  virtual std::string name() const = 0;
  virtual Status Apply(const std::string& source, uint64_t offset,
                       const std::vector<Record>& records) = 0;
  // All features of the view, in spec order.
  virtual Result<ViewRead> Read(const std::string& view, const std::vector<Value>& key,
                                int64_t at_ms) = 0;
  virtual Result<uint64_t> Late() = 0;
};

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
      t->sources_[name].lateness_ms = source.allowed_lateness_ms;
    return t;
  }

  std::string name() const override { return "offline"; }

  Status Apply(const std::string& source, uint64_t, const std::vector<Record>& records) override {
    SourceState& src = sources_[source];
    for (const Record& r : records) {
      if (src.max_event_ms != INT64_MIN && r.ts_ms < src.max_event_ms - src.lateness_ms) {
        ++late_;
        continue;
      }
      src.max_event_ms = std::max(src.max_event_ms, r.ts_ms);
      for (const std::string& name : src.views) {
        ViewStates& view = views_[name];
        std::vector<Value> key;
        for (int field : view.compiled->key_field_indexes()) key.push_back(r.values[field]);
        auto& state = view.states[EncodeEntityKey(key)];
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
    int64_t lateness_ms = 0;
    int64_t max_event_ms = INT64_MIN;
    std::vector<std::string> views;
  };
  OfflineTarget() = default;
  std::map<std::string, ViewStates> views_;
  std::map<std::string, SourceState> sources_;
  uint64_t late_ = 0;
};

std::string OnlyOr(const std::vector<std::string>& names, const std::string& fallback) {
  return names.size() == 1 ? names[0] : fallback;
}

// A case with its spec loaded and its events parsed into records.
struct LoadedCase {
  CaseFile file;
  ProjectSpec spec;
  std::vector<std::vector<Record>> records;  // per step (events steps only)
  size_t total_records = 0;
  std::string default_view;
  std::string default_source;
};

Status ParseEvents(LoadedCase* c) {
  std::vector<std::string> views, sources;
  for (const auto& [name, unused] : c->spec.feature_views) views.push_back(name);
  for (const auto& [name, unused] : c->spec.sources) sources.push_back(name);
  c->default_view = OnlyOr(views, "v");
  c->default_source = OnlyOr(sources, "events");
  c->records.resize(c->file.steps.size());
  for (size_t i = 0; i < c->file.steps.size(); ++i) {
    CaseStep& step = c->file.steps[i];
    if (step.kind != CaseStep::Kind::kEvents) continue;
    if (step.source.empty()) step.source = c->default_source;
    auto source = c->spec.sources.find(step.source);
    if (source == c->spec.sources.end()) {
      return Status::InvalidArgument(
          fmt::format("{}:{}: unknown source '{}'", c->file.path, step.line, step.source));
    }
    RecordParser parser(source->second, RequiredFields(c->spec, step.source));
    std::vector<Record> parsed;
    for (const auto& [line, json] : step.events) {
      Status s = parser.Parse(json, &parsed);
      if (!s.ok())
        return Status::InvalidArgument(fmt::format("{}:{}: {}", c->file.path, line, s.message()));
      c->records[i].insert(c->records[i].end(), parsed.begin(), parsed.end());
    }
    c->total_records += c->records[i].size();
  }
  return Status::Ok();
}

// Runs every step against `target`; returns one message per mismatch.
std::vector<std::string> RunCase(LoadedCase& c, CaseTarget* target) {
  std::vector<std::string> failures;
  auto fail = [&](int line, const std::string& what) {
    failures.push_back(fmt::format("{}:{}: [{}] {}", c.file.path, line, target->name(), what));
  };
  std::map<std::string, uint64_t> offsets;
  for (size_t i = 0; i < c.file.steps.size(); ++i) {
    const CaseStep& step = c.file.steps[i];
    if (step.kind == CaseStep::Kind::kEvents) {
      Status s = target->Apply(step.source, offsets[step.source], c.records[i]);
      offsets[step.source] += c.records[i].size();
      if (!s.ok()) fail(step.line, "apply failed: " + s.ToString());
      continue;
    }
    if (step.kind == CaseStep::Kind::kLate) {
      auto late = target->Late();
      if (!late.ok() || *late != step.late) {
        fail(step.line, fmt::format("late events: expected {}, got {}", step.late,
                                    late.ok() ? std::to_string(*late) : late.status().ToString()));
      }
      continue;
    }
    const std::string view = step.view.empty() ? c.default_view : step.view;
    auto read = target->Read(view, step.key, step.at_ms);
    if (!read.ok()) {
      fail(step.line, "read failed: " + read.status().ToString());
      continue;
    }
    const std::string where = fmt::format("{} at {}", step.key_text, step.at_ms);
    if (step.kind == CaseStep::Kind::kStatus) {
      std::string_view actual = ReadStatusName(read->status);
      if (actual != step.status)
        fail(step.line, fmt::format("{}: status: expected {}, got {}", where, step.status, actual));
      continue;
    }
    const FeatureViewSpec& spec = c.spec.feature_views.at(view);
    for (const auto& [feature, expected] : step.values) {
      // By value: clang before 16 cannot capture a structured binding.
      auto f = std::find_if(spec.features.begin(), spec.features.end(),
                            [name = feature](const FeatureSpec& s) { return s.name == name; });
      if (f == spec.features.end()) {
        fail(step.line, fmt::format("{}: no feature '{}' in view '{}'", where, feature, view));
        continue;
      }
      const Value& actual = read->values[f - spec.features.begin()];
      if (!expected.Matches(actual)) {
        fail(step.line, fmt::format("{}: feature '{}': expected {}, got {}", where, feature,
                                    expected.ToString(), actual.ToString()));
      }
    }
  }
  return failures;
}

std::string CasesDir() { return FRESHET_CASES_DIR; }

std::vector<std::string> CaseFiles() {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(CasesDir(), ec)) {
    if (entry.path().extension() == ".case") files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string TempDir() {
  static std::atomic<int> counter{0};
  return (fs::temp_directory_path() / fmt::format("freshet_cases_{}_{}", getpid(), counter++))
      .string();
}

class CasesTest : public testing::TestWithParam<std::string> {};

TEST_P(CasesTest, MatchesExpectationsOnlineAndOffline) {
  const std::string path = CasesDir() + "/" + GetParam();
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot read " << path;
  std::stringstream text;
  text << in.rdbuf();
  auto file = ParseCaseFile("cases/" + GetParam(), text.str());
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  LoadedCase c;
  c.file = std::move(file).value();
  auto spec = ParseProject(c.file.spec_yaml, c.file.path);
  if (!c.file.expected_error.empty()) {
    Status error = spec.status();
    if (spec.ok()) error = MemoryEngineTarget::Create(*spec).status();
    ASSERT_FALSE(error.ok()) << c.file.path << ": expected an error containing '"
                             << c.file.expected_error << "'";
    EXPECT_NE(error.message().find(c.file.expected_error), std::string::npos)
        << c.file.path << ": expected an error containing '" << c.file.expected_error << "', got "
        << error.message();
    return;
  }
  ASSERT_TRUE(spec.ok()) << spec.status().ToString() << "\n" << c.file.spec_yaml;
  c.spec = std::move(spec).value();
  Status parsed = ParseEvents(&c);
  ASSERT_TRUE(parsed.ok()) << parsed.ToString();

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

std::string TestName(const testing::TestParamInfo<std::string>& info) {
  std::string name = fs::path(info.param).stem().string();
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Cases, CasesTest, testing::ValuesIn(CaseFiles()), TestName);

TEST(CasesInventory, HasAtLeast45Cases) { EXPECT_GE(CaseFiles().size(), 45u) << CasesDir(); }

}  // namespace
}  // namespace freshet
