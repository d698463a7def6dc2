// EventLogSource over a real EventLog on a real RocksDB directory.
#include "sources/event_log_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace freshet {
namespace {

Record At(int64_t ts) {
  Record r;
  r.ts_ms = ts;
  r.values = {Value::String("u" + std::to_string(ts)), Value::Int(ts)};
  return r;
}

class EventLogSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("freshet_event_log_source_test_" + std::to_string(getpid())))
               .string();
    std::filesystem::remove_all(dir_);
    auto db = Db::Open(dir_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    auto log = EventLog::Open(db_.get(), {"posted", "other"}, &clock_);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    for (int64_t ts : {1, 2, 3, 4, 5}) ASSERT_TRUE(log_->Append("posted", {At(ts)}).ok());
    ASSERT_TRUE(log_->Append("other", {At(100)}).ok());
  }
  void TearDown() override {
    log_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  ManualClock clock_{0};
  std::unique_ptr<Db> db_;
  std::unique_ptr<EventLog> log_;
};

TEST_F(EventLogSourceTest, ReadsTheLogFromASeekedOffsetInBatches) {
  EventLogSource source("posted", log_.get());
  EXPECT_EQ(source.kind(), "http");
  EXPECT_TRUE(source.pushed());
  auto partitions = source.Partitions();
  ASSERT_TRUE(partitions.ok());
  EXPECT_EQ(*partitions, std::vector<int32_t>{0});

  ASSERT_TRUE(source.Seek({{0, 1}}).ok());
  SourceBatch batch;
  auto more = source.Read(3, &batch);
  ASSERT_TRUE(more.ok() && *more);
  EXPECT_EQ(batch.partition, 0);
  EXPECT_EQ(batch.first_offset, 1u);
  ASSERT_EQ(batch.records.size(), 3u);
  EXPECT_EQ(batch.records[0].ts_ms, 2);
  EXPECT_EQ(batch.records[2].ts_ms, 4);
  EXPECT_EQ(batch.next_offset, 4u);

  more = source.Read(3, &batch);
  ASSERT_TRUE(more.ok() && *more);
  EXPECT_EQ(batch.first_offset, 4u);
  ASSERT_EQ(batch.records.size(), 1u);
  EXPECT_EQ(batch.records[0].ts_ms, 5);

  more = source.Read(3, &batch);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);  // caught up
  EXPECT_TRUE(batch.records.empty());

  // A record appended later is read next.
  ASSERT_TRUE(log_->Append("posted", {At(6)}).ok());
  more = source.Read(3, &batch);
  ASSERT_TRUE(more.ok() && *more);
  EXPECT_EQ(batch.first_offset, 5u);
  EXPECT_EQ(batch.records.at(0).ts_ms, 6);
}

TEST_F(EventLogSourceTest, EndPositionAndCommit) {
  EventLogSource source("posted", log_.get());
  auto end = source.EndPosition();
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, (SourcePosition{{0, 5}}));
  EXPECT_TRUE(source.committed().empty());
  ASSERT_TRUE(source.Commit({{0, 4}}).ok());
  ASSERT_TRUE(source.Commit({{0, 2}}).ok());  // ignored: never rewinds
  EXPECT_EQ(source.committed(), (SourcePosition{{0, 4}}));
}

TEST_F(EventLogSourceTest, ErrorsNameTheSource) {
  EventLogSource source("posted", log_.get());
  Status st = source.Seek({{3, 0}});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "source 'posted' has one partition, 0; not 3");
  EventLogSource unknown("nope", log_.get());
  SourceBatch batch;
  EXPECT_FALSE(unknown.Read(10, &batch).ok());
}

}  // namespace
}  // namespace freshet
