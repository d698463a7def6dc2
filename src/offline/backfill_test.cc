#include "offline/backfill.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "offline/backfill_io.h"

namespace freshet {
namespace {

constexpr int64_t kMin = 60'000;
constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

FeatureSpec Agg(std::string name, AggKind agg, std::string of, int64_t window_ms,
                std::string where = "") {
  FeatureSpec f;
  f.name = std::move(name);
  f.agg = agg;
  f.of = std::move(of);
  f.where = std::move(where);
  f.window = window_ms > 0 ? WindowKind::kSliding : WindowKind::kLifetime;
  f.window_ms = window_ms;
  return f;
}

// The meditation app's project (PRODUCT.md), plus a second entity with a composite key whose
// view reuses a feature name.
ProjectSpec MakeSpec(int64_t lateness_ms) {
  ProjectSpec spec;
  spec.project = "test";
  spec.spec_path = "freshet.yaml";
  spec.entities["user"] = {"user", {"user_id"}, 1};
  spec.entities["device"] = {"device", {"user_id", "device"}, 2};
  SourceSpec app;
  app.name = "app_events";
  app.timestamp_field = "ts_ms";
  app.fields = {{"user_id", FieldType::kString, 3},
                {"event", FieldType::kString, 3},
                {"category", FieldType::kString, 3},
                {"duration_s", FieldType::kDouble, 3}};
  app.allowed_lateness_ms = lateness_ms;
  spec.sources["app_events"] = app;
  SourceSpec taps;
  taps.name = "taps";
  taps.timestamp_field = "ts_ms";
  taps.fields = {{"user_id", FieldType::kString, 4},
                 {"device", FieldType::kInt64, 4},
                 {"x", FieldType::kDouble, 4}};
  taps.allowed_lateness_ms = lateness_ms;
  spec.sources["taps"] = taps;
  FeatureViewSpec activity;
  activity.name = "user_activity";
  activity.entity = "user";
  activity.source = "app_events";
  activity.features = {
      Agg("events_10m", AggKind::kCount, "", 10 * kMin),
      Agg("sleep_exits_10m", AggKind::kCount, "", 10 * kMin,
          "event = 'exit' and category = 'sleep'"),
      Agg("listen_s_1h", AggKind::kSum, "duration_s", 60 * kMin),
      Agg("last_category", AggKind::kLast, "category", 0),
  };
  activity.features.push_back(Agg("last_2", AggKind::kLastN, "category", 0));
  activity.features.back().n = 2;
  spec.feature_views["user_activity"] = activity;
  FeatureViewSpec device;
  device.name = "device_taps";
  device.entity = "device";
  device.source = "taps";
  device.features = {Agg("events_10m", AggKind::kCount, "", 10 * kMin),
                     Agg("x_sum", AggKind::kSum, "x", 0)};
  spec.feature_views["device_taps"] = device;
  return spec;
}

std::vector<FeatureRef> ActivityFeatures() {
  return {{"user_activity", "events_10m"},
          {"user_activity", "sleep_exits_10m"},
          {"user_activity", "listen_s_1h"},
          {"user_activity", "last_category"}};
}

std::string Event(const std::string& user, int64_t ts, const std::string& event,
                  const std::string& category, double duration) {
  return fmt::format(
             R"({{"user_id":"{}","ts_ms":{},"event":"{}","category":"{}","duration_s":{}}})", user,
             ts, event, category, duration) +
         "\n";
}

class BackfillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "backfill_test_XXXXXX";
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    spec_ = MakeSpec(/*lateness_ms=*/10 * kMin);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  BackfillOptions Options(const std::string& labels, const std::string& events) {
    BackfillOptions o;
    o.labels_path = Write("labels.csv", labels);
    o.out_path = dir_ + "/out.csv";
    o.event_files = {Write(events.front() == '{' ? "events.ndjson" : "events.csv", events)};
    o.features = ActivityFeatures();
    o.temp_dir = dir_;
    return o;
  }
  // Runs the backfill and returns the output CSV.
  std::string Run(const BackfillOptions& o, BackfillStats* stats = nullptr) {
    Result<BackfillStats> r = RunBackfill(spec_, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok() && stats) *stats = *r;
    return Read(o.out_path);
  }
  Status Fail(const BackfillOptions& o) {
    Result<BackfillStats> r = RunBackfill(spec_, o);
    EXPECT_FALSE(std::filesystem::exists(o.out_path));
    return r.ok() ? Status::Internal("backfill succeeded") : r.status();
  }

  std::string dir_;
  ProjectSpec spec_;
};

// Events in a scrambled arrival order (within the allowed lateness).
std::string ScrambledEvents() {
  return Event("u1", kT0 + 5 * kMin, "exit", "sleep", 30) +
         Event("u1", kT0 + 1 * kMin, "start", "focus", 10) +
         Event("u2", kT0 + 2 * kMin, "exit", "sleep", 7.5) +
         Event("u1", kT0 + 12 * kMin, "exit", "sleep", 0.25) +
         Event("u1", kT0 + 70 * kMin, "start", "move", 1);
}

TEST_F(BackfillTest, ValuesAtEachLabelTimeFromUnsortedEvents) {
  BackfillOptions o = Options(
      "user_id,ts_ms,label,note\n"
      "u1,1767226500000,1,\"a, b\"\n"    // +15m: sees 1m, 5m, 12m; 10m window holds 5m, 12m
      "u1,1767225900000,0,x\n"           // +5m exactly: the 5m event is not before t
      "u2,1767225900000,1,\n"            // +5m
      "u3,1767225900000,0,no events\n"   // unknown entity: empty-window values
      "u1,1767230400000,1,\"q\"\"q\"\n"  // +80m: both windows hold only 70m
      "u1,1767225600000,0,first\n",      // +0: nothing before
      ScrambledEvents());
  BackfillStats stats;
  EXPECT_EQ(Run(o, &stats),
            "user_id,ts_ms,label,note,events_10m,sleep_exits_10m,listen_s_1h,last_category\n"
            "u1,1767226500000,1,\"a, b\",2,2,40.25,sleep\n"
            "u1,1767225900000,0,x,1,0,10,focus\n"
            "u2,1767225900000,1,,1,1,7.5,sleep\n"
            "u3,1767225900000,0,no events,0,0,0,\n"
            "u1,1767230400000,1,\"q\"\"q\",1,0,1,move\n"
            "u1,1767225600000,0,first,0,0,0,\n");
  EXPECT_EQ(stats.labels, 6u);
  EXPECT_EQ(stats.events, 5u);
  EXPECT_EQ(stats.late_events, 0u);
  EXPECT_FALSE(stats.spilled);
  EXPECT_EQ(stats.columns, (std::vector<std::string>{"events_10m", "sleep_exits_10m", "listen_s_1h",
                                                     "last_category"}));
}

TEST_F(BackfillTest, CsvEventsGiveTheSameValuesAsNdjson) {
  std::string labels = "user_id,ts_ms,label\nu1,1767226500000,1\nu2,2026-01-01T00:05:00Z,0\n";
  std::string ndjson = Run(Options(labels, ScrambledEvents()));
  std::string csv = Run(Options(labels,
                                "user_id,ts_ms,event,category,duration_s,extra\n"
                                "u1,1767225900000,exit,sleep,30,ignored\n"
                                "u1,1767225660000,start,focus,10,\n"
                                "u2,1767225720000,exit,sleep,7.5,\n"
                                "\"u1\",1767226320000,exit,\"sleep\",0.25,\n"
                                "u1,1767229800000,start,move,1,\n"));
  EXPECT_EQ(csv, ndjson);
  EXPECT_EQ(csv,
            "user_id,ts_ms,label,events_10m,sleep_exits_10m,listen_s_1h,last_category\n"
            "u1,1767226500000,1,2,2,40.25,sleep\n"
            "u2,2026-01-01T00:05:00Z,0,1,1,7.5,sleep\n");
}

TEST_F(BackfillTest, LateEventsAreDroppedAsOnline) {
  spec_ = MakeSpec(/*lateness_ms=*/kMin);
  // Watermark after the first event: 20m - 1m = 19m. 19m30s is in time, 10m is late, and 30m
  // moves the watermark to 29m, so 28m is late too.
  BackfillOptions o = Options("user_id,ts_ms\nu1,1767228000000\n",  // +40m
                              Event("u1", kT0 + 20 * kMin, "exit", "sleep", 1) +
                                  Event("u1", kT0 + 19 * kMin + 30'000, "exit", "sleep", 2) +
                                  Event("u1", kT0 + 10 * kMin, "exit", "sleep", 4) +
                                  Event("u1", kT0 + 30 * kMin, "start", "move", 8) +
                                  Event("u1", kT0 + 28 * kMin, "start", "focus", 16));
  BackfillStats stats;
  EXPECT_EQ(Run(o, &stats),
            "user_id,ts_ms,events_10m,sleep_exits_10m,listen_s_1h,last_category\n"
            "u1,1767228000000,1,0,11,move\n");
  EXPECT_EQ(stats.events, 5u);
  EXPECT_EQ(stats.late_events, 2u);
}

// The expectations of app_events, set on the spec as the loader would.
void AddExpectations(ProjectSpec* spec, ExpectationPolicy duration_policy) {
  SourceSpec& app = spec->sources.at("app_events");
  FieldExpectationsSpec duration;
  duration.field = "duration_s";
  duration.between = {0, 20};
  duration.policy = duration_policy;
  FieldExpectationsSpec event;
  event.field = "event";
  event.in = {Value::String("start"), Value::String("exit")};
  event.policy = ExpectationPolicy::kWarn;
  app.expectations = {duration, event};
}

TEST_F(BackfillTest, QuarantinedEventsAreLeftOutAndTheReportIsWrittenBesideTheOutput) {
  AddExpectations(&spec_, ExpectationPolicy::kQuarantine);
  // The 5m event's 30 s breaks between [0, 20]: it is left out, as online, so the 10m window
  // at +15m holds the 12m event only. The "pause" event is counted as a warning, then dropped as
  // late (expectations are checked before the watermark, as at ingest).
  BackfillOptions o = Options("user_id,ts_ms\nu1,1767226500000\n",
                              ScrambledEvents() + Event("u1", kT0 + 3 * kMin, "pause", "focus", 2));
  BackfillStats stats;
  EXPECT_EQ(Run(o, &stats),
            "user_id,ts_ms,events_10m,sleep_exits_10m,listen_s_1h,last_category\n"
            "u1,1767226500000,1,1,10.25,sleep\n");
  EXPECT_EQ(stats.events, 6u);
  EXPECT_EQ(stats.quarantined, 1u);
  EXPECT_EQ(stats.quality_path, o.out_path + ".quality.json");
  EXPECT_EQ(Read(stats.quality_path),
            R"({"violations":[)"
            R"({"source":"app_events","field":"duration_s","expectation":"between",)"
            R"("policy":"quarantine","count":1},)"
            R"({"source":"app_events","field":"event","expectation":"in","policy":"warn",)"
            R"("count":1}],"total":2,"records":6,"quarantined":1,"sources":["app_events"]})"
            "\n");
}

TEST_F(BackfillTest, RejectedEventFailsTheBackfillNamingTheRecord) {
  AddExpectations(&spec_, ExpectationPolicy::kReject);
  Status st = Fail(Options("user_id,ts_ms\nu1,1767226500000\n", ScrambledEvents()));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(),
            "source 'app_events': record 1: field 'duration_s': expectation between [0, 20]: "
            "got 30");
}

TEST_F(BackfillTest, NoReportWithoutExpectations) {
  BackfillOptions o = Options("user_id,ts_ms\nu1,1767226500000\n", ScrambledEvents());
  BackfillStats stats;
  Run(o, &stats);
  EXPECT_TRUE(stats.quality_path.empty());
  EXPECT_FALSE(std::filesystem::exists(o.out_path + ".quality.json"));
}

TEST_F(BackfillTest, CompositeKeysAndCollidingNamesAcrossViews) {
  BackfillOptions o =
      Options("device,ts_ms,user_id\n7,1767226200000,u1\n8,1767226200000,u1\n", ScrambledEvents());
  o.features = {
      {"device_taps", "events_10m"}, {"user_activity", "events_10m"}, {"device_taps", "x_sum"}};
  o.event_files.clear();
  // Features of two sources: events come through a reader that holds both.
  class TwoSources : public EventReader {
   public:
    TwoSources(const ProjectSpec& spec, std::string app_file)
        : app_(spec, "app_events", {app_file}) {}
    Status Scan(const std::string& source, const BatchSink& sink) override {
      if (source == "app_events") return app_.Scan(source, sink);
      std::vector<Record> taps;
      for (auto [device, ts, x] : {std::tuple{7, 9, 1.5}, {8, 2, 4.0}, {7, 1, 2.0}, {7, 11, 8.0}}) {
        taps.push_back(
            {kT0 + ts * kMin, {Value::String("u1"), Value::Int(device), Value::Double(x)}});
      }
      return sink(&taps);
    }
    uint64_t EstimateBytes(const std::string&) const override { return 0; }

   private:
    FileEventReader app_;
  } reader(spec_, Write("app.ndjson", ScrambledEvents()));
  Result<BackfillStats> r = RunBackfill(spec_, o, &reader);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // At +10m: device 7 has 1m and 9m (11m is later); user u1 has 1m and 5m.
  const std::string expected =
      "device,ts_ms,user_id,device_taps__events_10m,user_activity__events_10m,x_sum\n"
      "7,1767226200000,u1,2,2,3.5\n"
      "8,1767226200000,u1,1,2,4\n";
  EXPECT_EQ(Read(o.out_path), expected);
  EXPECT_EQ(r->events, 9u);
  o.memory_budget_bytes = 1;  // the spill path keys composite entities by their bytes
  r = RunBackfill(spec_, o, &reader);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->spilled);
  EXPECT_EQ(Read(o.out_path), expected);
}

TEST_F(BackfillTest, ListsPrintAsJsonIshText) {
  BackfillOptions o = Options("user_id,ts_ms\nu1,1767226500000\n", ScrambledEvents());
  o.features = {{"user_activity", "last_2"}};
  EXPECT_EQ(Run(o), "user_id,ts_ms,last_2\nu1,1767226500000,\"[\"\"sleep\"\", \"\"sleep\"\"]\"\n");
}

// Random events and labels checked against a brute-force evaluation of the four features:
// from NDJSON and from CSV (big enough for several blocks, each parsed on two threads), in
// memory and through spill files (a tiny budget).
TEST_F(BackfillTest, RandomDataMatchesBruteForceInMemoryAndSpilled) {
  spec_ = MakeSpec(/*lateness_ms=*/kMin);
  std::mt19937 rng(42);
  const char* kEvents[] = {"start", "exit", "search"};
  const char* kCategories[] = {"sleep", "focus", "move"};
  struct Ev {
    std::string user;
    int64_t ts;
    std::string event, category;
    double duration;
  };
  std::vector<Ev> events;
  std::string ndjson, csv = "user_id,ts_ms,event,category,duration_s\n";
  for (int i = 0; i < 40'000; ++i) {
    Ev e{fmt::format("u{}", rng() % 40), kT0 + i * 2'000 + static_cast<int64_t>(rng() % 150'000),
         kEvents[rng() % 3], kCategories[rng() % 3], (rng() % 20) * 0.5};
    ndjson += Event(e.user, e.ts, e.event, e.category, e.duration);
    csv += fmt::format("{},{},{},{},{}\n", e.user, e.ts, e.event, e.category, e.duration);
    events.push_back(e);
  }
  ASSERT_GT(csv.size(), size_t{1} << 20);
  // The online rule, by hand: late events never count.
  std::vector<Ev> accepted;
  int64_t max_ts = INT64_MIN;
  for (const Ev& e : events) {
    if (max_ts != INT64_MIN && e.ts < max_ts - kMin) continue;
    max_ts = std::max(max_ts, e.ts);
    accepted.push_back(e);
  }
  std::string labels = "label_id,user_id,ts_ms\n";
  std::string expected =
      "label_id,user_id,ts_ms,events_10m,sleep_exits_10m,listen_s_1h,last_category\n";
  for (int i = 0; i < 600; ++i) {
    std::string user = fmt::format("u{}", rng() % 45);
    int64_t t = kT0 + static_cast<int64_t>(rng() % 80'500'000);
    labels += fmt::format("{},{},{}\n", i, user, t);
    int64_t count = 0, exits = 0;
    double sum = 0;
    const Ev* last = nullptr;
    for (const Ev& e : accepted) {
      if (e.user != user || e.ts >= t) continue;
      if (e.ts >= t - 10 * kMin) {
        ++count;
        exits += e.event == "exit" && e.category == "sleep";
      }
      if (e.ts >= t - 60 * kMin) sum += e.duration;
      if (!last || e.ts >= last->ts) last = &e;
    }
    expected += fmt::format("{},{},{},{},{},{},{}\n", i, user, t, count, exits, sum,
                            last ? last->category : "");
  }
  BackfillOptions o = Options(labels, ndjson);
  BackfillStats in_memory;
  EXPECT_EQ(Run(o, &in_memory), expected);
  EXPECT_FALSE(in_memory.spilled);
  EXPECT_GT(in_memory.late_events, 0u);

  o.event_files = {Write("events.csv", csv)};
  EXPECT_EQ(Run(o), expected);

  o.memory_budget_bytes = 1;
  o.threads = 3;
  BackfillStats spilled;
  EXPECT_EQ(Run(o, &spilled), expected);
  EXPECT_TRUE(spilled.spilled);
  EXPECT_GT(spilled.partitions, 1u);
  EXPECT_EQ(spilled.late_events, in_memory.late_events);
  // Spill files live in a private directory that is gone afterwards.
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().find("freshet-backfill-"), std::string::npos);
  }
}

TEST_F(BackfillTest, LabelsWithoutAKeyColumnAreRejected) {
  Status st = Fail(Options("user,ts_ms\nu1,1767226500000\n", ScrambledEvents()));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("labels.csv: no column 'user_id' (a key of entity 'user'"),
            std::string::npos)
      << st.message();
}

TEST_F(BackfillTest, LabelsWithoutTheTimestampColumnAreRejected) {
  BackfillOptions o = Options("user_id,when\nu1,1767226500000\n", ScrambledEvents());
  EXPECT_NE(Fail(o).message().find("no column 'ts_ms' (the label timestamp)"), std::string::npos);
  o.timestamp_column = "when";
  EXPECT_EQ(Run(o),
            "user_id,when,events_10m,sleep_exits_10m,listen_s_1h,last_category\n"
            "u1,1767226500000,2,2,40.25,sleep\n");
}

TEST_F(BackfillTest, BadLabelTimestampNamesTheLine) {
  Status st = Fail(Options("user_id,ts_ms\nu1,1767226500000\n\"u2\",soon\n", ScrambledEvents()));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("labels.csv:3: column 'ts_ms': bad timestamp 'soon'"),
            std::string::npos)
      << st.message();
}

TEST_F(BackfillTest, LabelRowWithWrongFieldCountNamesTheLine) {
  Status st = Fail(Options("user_id,ts_ms,label\nu1,1767226500000,1\n\"multi\nline\",1,1\nu1,2\n",
                           ScrambledEvents()));
  EXPECT_NE(st.message().find("labels.csv:5: expected 3 fields, got 2"), std::string::npos)
      << st.message();
}

TEST_F(BackfillTest, BadEventNamesTheFileAndLine) {
  BackfillOptions o =
      Options("user_id,ts_ms\nu1,1767226500000\n",
              ScrambledEvents() + R"({"user_id":"u1","ts_ms":5,"duration_s":"long"})");
  Status st = Fail(o);
  EXPECT_NE(st.message().find("events.ndjson:6: field 'duration_s': expected double"),
            std::string::npos)
      << st.message();
  o.event_files = {Write("events.csv", "user_id,ts_ms,duration_s\nu1,1,2\nu1,,3\n")};
  st = Fail(o);
  EXPECT_NE(st.message().find("events.csv:3: field 'ts_ms': required but empty"), std::string::npos)
      << st.message();
}

TEST_F(BackfillTest, BadEventDeepInABigFileNamesItsLine) {
  std::string csv = "user_id,ts_ms,event,category,duration_s\n";
  for (int i = 0; i < 80'000; ++i) {
    csv += i == 70'000 ? "u1,oops,exit,sleep,1\n"
                       : fmt::format("u{},{},exit,sleep,1\n", i % 7, kT0 + i);
  }
  ASSERT_GT(csv.size(), size_t{2} << 20);  // several blocks, each split across threads
  Status st = Fail(Options("user_id,ts_ms\nu1,1767226500000\n", csv));
  EXPECT_NE(st.message().find("events.csv:70002: field 'ts_ms': expected timestamp, got 'oops'"),
            std::string::npos)
      << st.message();
}

TEST_F(BackfillTest, UnknownFeaturesAreRejected) {
  BackfillOptions o = Options("user_id,ts_ms\n", ScrambledEvents());
  o.features = {{"user_activity", "nope"}};
  EXPECT_NE(Fail(o).message().find("feature view 'user_activity' has no feature 'nope'"),
            std::string::npos);
  o.features = {{"nope", "events_10m"}};
  EXPECT_NE(Fail(o).message().find("unknown feature view 'nope'"), std::string::npos);
}

TEST(BlockReaderTest, RecordBoundariesSkipQuotedNewlines) {
  std::string_view text = "a,\"1\n2\"\nb,3\n";
  EXPECT_EQ(NextRecordBoundary(text, 3, /*csv=*/true), 8u);
  EXPECT_EQ(NextRecordBoundary(text, 3, /*csv=*/false), 5u);
}

}  // namespace
}  // namespace freshet
