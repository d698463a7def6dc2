#include "stream/rocksdb_state_backend.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <tuple>

#include "stream/value_ops.h"

namespace freshet {
namespace {

// A commit as a test writes it: puts in any order (Commit sorts them into state key order).
struct TestCommit {
  struct Put {
    uint32_t view_id;
    std::string entity_key;
    std::string state;
    bool erase = false;
  };
  std::vector<Put> puts;
  std::vector<LateEvent> late;
  std::map<std::string, SourceProgress> progress;
};

// Run with every commit written as a WriteBatch, and with every commit that has puts written
// as ingested table files: both must give the same answers.
class RocksDbStateBackendTest : public testing::TestWithParam<size_t> {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = (std::filesystem::temp_directory_path() /
            ("freshet_state_backend_test_" + std::to_string(getpid()) + "_" +
             std::to_string(counter++)))
               .string();
    Reopen();
  }
  void TearDown() override {
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void Reopen() {
    backend_.reset();
    db_.reset();
    auto db = Db::Open(dir_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    backend_ = std::make_unique<RocksDbStateBackend>(db_.get(), GetParam());
  }

  Status Commit(TestCommit c) {
    auto order = [](const TestCommit::Put& p) {
      return std::tuple(p.view_id, HashBytes(p.entity_key), p.entity_key);
    };
    std::sort(c.puts.begin(), c.puts.end(),
              [&](const auto& a, const auto& b) { return order(a) < order(b); });
    ASSIGN_OR_RETURN(auto writer, backend_->BeginCommit(c.puts.size()));
    for (const TestCommit::Put& p : c.puts) {
      RETURN_IF_ERROR(writer->Put(p.view_id, p.entity_key, p.erase ? nullptr : &p.state));
    }
    return writer->Finish(c.late, c.progress);
  }

  static LateEvent Late(const std::string& source, uint64_t offset) {
    LateEvent e;
    e.source = source;
    e.offset = offset;
    e.watermark_ms = 1000 + static_cast<int64_t>(offset);
    e.record.ts_ms = 5;
    e.record.values = {Value::String("u" + std::to_string(offset)), Value::Double(1.5), Value()};
    return e;
  }

  std::string dir_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<RocksDbStateBackend> backend_;
};

TEST_P(RocksDbStateBackendTest, ViewIdsAreStableAndDistinct) {
  auto a = backend_->ViewId("a");
  auto b = backend_->ViewId("b");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_EQ(*backend_->ViewId("a"), *a);
  Reopen();
  EXPECT_EQ(*backend_->ViewId("b"), *b);  // asked first after the reopen: still the same id
  EXPECT_EQ(*backend_->ViewId("a"), *a);
  auto c = backend_->ViewId("c");
  ASSERT_TRUE(c.ok());
  EXPECT_NE(*c, *a);
  EXPECT_NE(*c, *b);
}

TEST_P(RocksDbStateBackendTest, CommitWritesStatesProgressAndLateAtomically) {
  TestCommit commit;
  commit.puts.push_back({1, "u1", "state-1", false});
  commit.puts.push_back({1, "u2", "state-2", false});
  commit.puts.push_back({2, "u1", "other-view", false});
  commit.progress["events"] = SourceProgress{{{0, 42}}, 99'000, 3};
  commit.progress["clicks"] = SourceProgress{{{0, 7}}, INT64_MIN, 0};
  commit.late = {Late("events", 3), Late("events", 10), Late("clicks", 4)};
  ASSERT_TRUE(Commit(commit).ok());
  Reopen();

  EXPECT_EQ(*backend_->LoadEntity(1, "u1"), std::optional<std::string>("state-1"));
  EXPECT_EQ(*backend_->LoadEntity(2, "u1"), std::optional<std::string>("other-view"));
  EXPECT_FALSE(backend_->LoadEntity(3, "u1")->has_value());
  auto progress = backend_->LoadProgress();
  ASSERT_TRUE(progress.ok());
  ASSERT_EQ(progress->size(), 2u);
  EXPECT_EQ(progress->at("events").NextOffset(), 42u);
  EXPECT_EQ(progress->at("events").max_event_ms, 99'000);
  EXPECT_EQ(progress->at("events").late_events, 3u);
  EXPECT_EQ(progress->at("clicks").max_event_ms, INT64_MIN);

  TestCommit erase;
  erase.puts.push_back({1, "u1", "", true});
  ASSERT_TRUE(Commit(erase).ok());
  EXPECT_FALSE(backend_->LoadEntity(1, "u1")->has_value());
  int count = 0;
  ASSERT_TRUE(backend_
                  ->ForEachEntity([&](uint32_t view, std::string_view key, std::string_view state) {
                    ++count;
                    if (view == 1) {
                      EXPECT_EQ(key, "u2");
                      EXPECT_EQ(state, "state-2");
                    }
                  })
                  .ok());
  EXPECT_EQ(count, 2);
}

TEST_P(RocksDbStateBackendTest, ListLateIsPerSourceNewestFirst) {
  TestCommit commit;
  for (uint64_t offset : {5, 300, 2, 70000}) commit.late.push_back(Late("events", offset));
  commit.late.push_back(Late("events2", 1));  // a source whose name extends another's
  ASSERT_TRUE(Commit(commit).ok());
  auto late = backend_->ListLate("events", 3);
  ASSERT_TRUE(late.ok());
  ASSERT_EQ(late->size(), 3u);
  EXPECT_EQ((*late)[0].offset, 70000u);
  EXPECT_EQ((*late)[1].offset, 300u);
  EXPECT_EQ((*late)[2].offset, 5u);
  EXPECT_EQ((*late)[0].watermark_ms, 71000);
  EXPECT_EQ((*late)[0].source, "events");
  EXPECT_EQ((*late)[0].record.values[0], Value::String("u70000"));
  EXPECT_TRUE((*late)[0].record.values[2].is_null());
  auto other = backend_->ListLate("events2", 10);
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ((*other)[0].offset, 1u);
  EXPECT_TRUE(backend_->ListLate("none", 10)->empty());
}

TEST_P(RocksDbStateBackendTest, LaterCommitsWinWhicheverWayEachWasWritten) {
  // Three commits over the same keys; with GetParam() == 3 only the middle one (3 puts) is
  // ingested, between two WriteBatches, so file and memtable versions interleave.
  TestCommit first;
  first.puts = {{1, "a", "a1", false}, {1, "b", "b1", false}};
  first.progress["events"] = SourceProgress{{{0, 10}}, 1, 0};
  ASSERT_TRUE(Commit(first).ok());
  TestCommit second;
  second.puts = {{1, "a", "a2", false}, {1, "b", "", true}, {1, "c", "c2", false}};
  second.progress["events"] = SourceProgress{{{0, 20}}, 2, 1};
  second.late = {Late("events", 15)};
  ASSERT_TRUE(Commit(second).ok());
  EXPECT_EQ(*backend_->LoadEntity(1, "a"), std::optional<std::string>("a2"));
  EXPECT_FALSE(backend_->LoadEntity(1, "b")->has_value());
  // Ingested commits are table files of the state column family; WriteBatches stay in the
  // memtable (no flush yet). How many files an ingest leaves depends on RocksDB's background
  // flushes and compactions, so the test checks only that the ingest path was taken.
  std::vector<rocksdb::LiveFileMetaData> files;
  db_->raw()->GetLiveFilesMetaData(&files);
  size_t state_files = std::count_if(files.begin(), files.end(),
                                     [](const auto& f) { return f.column_family_name == "state"; });
  if (GetParam() == SIZE_MAX) {
    EXPECT_EQ(state_files, 0u);
  } else {
    EXPECT_GE(state_files, 1u);
  }
  TestCommit third;
  third.puts = {{1, "c", "c3", false}};
  third.progress["events"] = SourceProgress{{{0, 30}}, 3, 1};
  ASSERT_TRUE(Commit(third).ok());
  Reopen();
  EXPECT_EQ(*backend_->LoadEntity(1, "a"), std::optional<std::string>("a2"));
  EXPECT_FALSE(backend_->LoadEntity(1, "b")->has_value());
  EXPECT_EQ(*backend_->LoadEntity(1, "c"), std::optional<std::string>("c3"));
  EXPECT_EQ(backend_->LoadProgress()->at("events").NextOffset(), 30u);
  auto late = backend_->ListLate("events", 10);
  ASSERT_TRUE(late.ok());
  ASSERT_EQ(late->size(), 1u);
  EXPECT_EQ((*late)[0].offset, 15u);
}

// A crash between writing the table files and ingesting them leaves files behind: the next
// large commit replaces them, and nothing of them reaches the database.
TEST_P(RocksDbStateBackendTest, FilesLeftByACrashedCommitAreIgnored) {
  std::filesystem::create_directories(dir_ + "/ingest");
  for (const char* name : {"state.sst", "checkpoints.sst", "late.sst"}) {
    std::ofstream(dir_ + "/ingest/" + name) << "half-written";
  }
  Reopen();
  TestCommit commit;
  commit.puts = {{1, "a", "a1", false}, {1, "b", "b1", false}, {1, "c", "c1", false}};
  commit.progress["events"] = SourceProgress{{{0, 3}}, 1, 0};
  ASSERT_TRUE(Commit(commit).ok());
  Reopen();
  EXPECT_EQ(*backend_->LoadEntity(1, "b"), std::optional<std::string>("b1"));
  EXPECT_EQ(backend_->LoadProgress()->at("events").NextOffset(), 3u);
  EXPECT_TRUE(backend_->ListLate("events", 10)->empty());
}

// Puts must come in state key order: one out of it is refused, and the unfinished commit
// leaves nothing behind.
TEST_P(RocksDbStateBackendTest, PutsOutOfKeyOrderAreRefused) {
  std::vector<std::string> keys = {"a", "b", "c", "d"};
  std::sort(keys.begin(), keys.end(),
            [](const std::string& x, const std::string& y) { return HashBytes(x) < HashBytes(y); });
  const std::string state = "s";
  {
    auto writer = backend_->BeginCommit(3);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    ASSERT_TRUE((*writer)->Put(2, keys[1], &state).ok());
    Status lower_view = (*writer)->Put(1, keys[2], &state);
    EXPECT_EQ(lower_view.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(lower_view.message().find("out of state key order"), std::string::npos);
    EXPECT_EQ((*writer)->Put(2, keys[0], &state).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ((*writer)->Put(2, keys[1], nullptr).code(), StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(backend_->LoadEntity(2, keys[1])->has_value());
  // The next commit goes through.
  ASSERT_TRUE(Commit({{{2, keys[3], "s3"}, {2, keys[1], "s1"}}, {}, {}}).ok());
  EXPECT_EQ(*backend_->LoadEntity(2, keys[1]), std::optional<std::string>("s1"));
}

// States written with the key layout of earlier versions (no key hash, no layout record) would
// never be found: opening them is refused, naming the directory, rather than starting over.
TEST_P(RocksDbStateBackendTest, StatesOfAnOlderKeyLayoutAreRefused) {
  TestCommit commit;
  commit.puts = {{1, "a", "a1", false}};
  commit.progress["events"] = SourceProgress{{{0, 1}}, 1, 0};
  ASSERT_TRUE(Commit(commit).ok());
  ASSERT_TRUE(backend_->LoadProgress().ok());
  ASSERT_TRUE(
      db_->raw()->Delete(rocksdb::WriteOptions(), db_->cf(Cf::kCheckpoints), "state_keys").ok());
  Reopen();
  auto progress = backend_->LoadProgress();
  EXPECT_EQ(progress.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(progress.status().message().find(dir_), std::string::npos)
      << progress.status().message();
  EXPECT_NE(progress.status().message().find("older freshet"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(WriteBatchOrIngest, RocksDbStateBackendTest,
                         testing::Values(SIZE_MAX, size_t{1}, size_t{3}),
                         [](const testing::TestParamInfo<size_t>& info) {
                           return info.param == SIZE_MAX
                                      ? std::string("WriteBatch")
                                      : "IngestFrom" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace freshet
