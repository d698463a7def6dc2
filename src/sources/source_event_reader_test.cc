// SourceEventReader: backfills reading the sources where the online path reads them — a real
// event log and real files.
#include "sources/source_event_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "log/event_log.h"
#include "spec/spec_loader.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

class SourceEventReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("freshet_source_event_reader_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "events.ndjson") << "{\"user_id\":\"u1\",\"ts\":1000}\n"
                                             "{\"user_id\":\"u1\",\"ts\":2000}\n"
                                             "{\"user_id\":\"u1\",\"ts\":9000}\n";
    auto spec = ParseProject(
        "project: t\n"
        "entities: {user: {key: user_id}}\n"
        "sources:\n"
        "  posted: {timestamp: ts, fields: {user_id: string}}\n"
        "  replayed: {kind: file, timestamp: ts, fields: {user_id: string}, path: events.ndjson}\n"
        "feature_views:\n"
        "  p: {entity: user, source: posted, features: {n: {agg: count}}}\n"
        "  r: {entity: user, source: replayed, features: {n: {agg: count}}}\n",
        (dir_ / "freshet.yaml").string());
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    spec_ = std::move(spec).value();
    auto db = Db::Open((dir_ / "data").string());
    ASSERT_TRUE(db.ok());
    db_ = std::move(db).value();
    auto log = EventLog::Open(db_.get(), {"posted", "replayed"}, &clock_);
    ASSERT_TRUE(log.ok());
    log_ = std::move(log).value();
    for (int64_t ts : {1500, 7000}) {
      Record r;
      r.ts_ms = ts;
      r.values = {Value::String("u1"), Value::Int(ts)};
      ASSERT_TRUE(log_->Append("posted", {r}).ok());
    }
  }
  void TearDown() override {
    log_.reset();
    db_.reset();
    fs::remove_all(dir_);
  }
  std::vector<int64_t> Times(SourceEventReader* reader, const std::string& source) {
    std::vector<int64_t> times;
    Status st = reader->Scan(source, [&](std::vector<Record>* batch) {
      for (const Record& r : *batch) times.push_back(r.ts_ms);
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return times;
  }

  fs::path dir_;
  ManualClock clock_{0};
  ProjectSpec spec_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<EventLog> log_;
};

TEST_F(SourceEventReaderTest, ScansEachSourceWhereItLives) {
  SourceEventReader reader({&spec_, log_.get()});
  EXPECT_EQ(Times(&reader, "posted"), (std::vector<int64_t>{1500, 7000}));
  EXPECT_EQ(Times(&reader, "replayed"), (std::vector<int64_t>{1000, 2000, 9000}));
  EXPECT_EQ(Times(&reader, "replayed").size(), 3u);  // each scan starts from offset 0
  EXPECT_GT(reader.EstimateBytes("posted"), 0u);
  EXPECT_GT(reader.EstimateBytes("replayed"), 0u);
  Status unknown = reader.Scan("nope", [](std::vector<Record>*) { return Status::Ok(); });
  EXPECT_EQ(unknown.code(), StatusCode::kNotFound);
}

TEST_F(SourceEventReaderTest, BackfillOverBothKinds) {
  std::ofstream(dir_ / "labels.csv") << "user_id,ts\nu1,5000\nu1,10000\n";
  BackfillOptions options;
  options.labels_path = (dir_ / "labels.csv").string();
  options.out_path = (dir_ / "out.csv").string();
  options.features = {{"p", "n"}, {"r", "n"}};
  options.temp_dir = dir_.string();
  SourceEventReader reader({&spec_, log_.get()});
  auto stats = RunBackfill(spec_, options, &reader);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  std::ifstream in(options.out_path);
  std::stringstream out;
  out << in.rdbuf();
  // Events strictly before each label's time: posted {1500, 7000}, replayed {1000, 2000, 9000}.
  EXPECT_EQ(out.str(), "user_id,ts,p__n,r__n\nu1,5000,1,2\nu1,10000,2,3\n");
}

}  // namespace
}  // namespace freshet
