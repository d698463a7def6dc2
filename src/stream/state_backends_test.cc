#include "stream/state_backends.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "stream/memory_state_backend.h"
#include "stream/rocksdb_state_backend.h"

namespace freshet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class StateBackendsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("freshet_state_backends_test_" + std::to_string(getpid())))
               .string();
    std::filesystem::remove_all(dir_);
    OpenDb();
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void OpenDb() {
    db_.reset();
    auto db = Db::Open(dir_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
  }
  // Commits progress {ev: next_offset 7} and one entity state through `backend`.
  static void CommitOne(StateBackend* backend) {
    auto view = backend->ViewId("v");
    ASSERT_TRUE(view.ok());
    auto writer = backend->BeginCommit(1);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    std::string state = "state-bytes";
    ASSERT_TRUE((*writer)->Put(*view, "u1", &state).ok());
    SourceProgress progress;
    progress.next_offsets[0] = 7;
    ASSERT_TRUE((*writer)->Finish({}, {{"ev", progress}}).ok());
  }
  static uint64_t NextOffset(StateBackend* backend) {
    auto progress = backend->LoadProgress();
    EXPECT_TRUE(progress.ok());
    auto it = progress->find("ev");
    return it == progress->end() ? 0 : it->second.NextOffset();
  }

  std::string dir_;
  std::unique_ptr<Db> db_;
};

TEST_F(StateBackendsTest, KnownNamesAreSortedAndIncludeTheDefault) {
  EXPECT_THAT(KnownStateBackends(), ElementsAre("memory", "rocksdb"));
  EXPECT_EQ(kDefaultStateBackend, "rocksdb");
}

TEST_F(StateBackendsTest, RocksDbByNameKeepsCommitsAcrossReopen) {
  auto backend = CreateStateBackend("rocksdb", db_.get());
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  EXPECT_NE(dynamic_cast<RocksDbStateBackend*>(backend->get()), nullptr);
  CommitOne(backend->get());
  backend->reset();
  OpenDb();
  auto reopened = CreateStateBackend("rocksdb", db_.get());
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(NextOffset(reopened->get()), 7u);
  auto view = (*reopened)->ViewId("v");  // kept across the reopen too
  ASSERT_TRUE(view.ok());
  auto state = (*reopened)->LoadEntity(*view, "u1");
  ASSERT_TRUE(state.ok());
  ASSERT_TRUE(state->has_value());
  EXPECT_EQ(**state, "state-bytes");
}

TEST_F(StateBackendsTest, MemoryByNameKeepsNothingBeyondTheObject) {
  auto backend = CreateStateBackend("memory", db_.get());
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  auto* memory = dynamic_cast<MemoryStateBackend*>(backend->get());
  ASSERT_NE(memory, nullptr);
  CommitOne(memory);
  EXPECT_EQ(NextOffset(memory), 7u);
  EXPECT_EQ(memory->commits(), 1u);
  auto fresh = CreateStateBackend("memory", nullptr);  // needs no data directory
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(NextOffset(fresh->get()), 0u);
  // Nothing reached the RocksDB either.
  auto rocks = CreateStateBackend("rocksdb", db_.get());
  ASSERT_TRUE(rocks.ok());
  EXPECT_EQ(NextOffset(rocks->get()), 0u);
}

TEST_F(StateBackendsTest, UnknownNameIsAnErrorListingTheKnownOnes) {
  auto backend = CreateStateBackend("redis", db_.get());
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(backend.status().message(), "unknown state backend 'redis' (known: memory, rocksdb)");
  EXPECT_FALSE(CreateStateBackend("rocksdb", nullptr).ok());
}

}  // namespace
}  // namespace freshet
