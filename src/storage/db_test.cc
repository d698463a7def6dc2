#include "storage/db.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <vector>

namespace freshet {
namespace {

std::string TempDir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() /
           ("freshet_db_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  return p.string();
}

TEST(DbTest, PersistsAcrossReopenPerColumnFamily) {
  std::string dir = TempDir("reopen");
  {
    auto db = Db::Open(dir);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)->Put(Cf::kRegistry, "k", "registry-value").ok());
    ASSERT_TRUE((*db)->Put(Cf::kState, "k", "state-value", /*sync=*/true).ok());
  }
  auto db = Db::Open(dir);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*(*db)->Get(Cf::kRegistry, "k").value(), "registry-value");
  EXPECT_EQ(*(*db)->Get(Cf::kState, "k").value(), "state-value");
  EXPECT_FALSE((*db)->Get(Cf::kEvents, "k").value().has_value());
  std::filesystem::remove_all(dir);
}

// MultiGet answers each key in order, present or not, from memtables and tables alike.
TEST(DbTest, MultiGetAnswersEachKeyInOrder) {
  std::string dir = TempDir("multiget");
  auto db = Db::Open(dir);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  Db* d = db->get();
  ASSERT_TRUE(d->Put(Cf::kQueue, "flushed", "1").ok());
  ASSERT_TRUE(d->raw()->Flush(rocksdb::FlushOptions(), d->cf(Cf::kQueue)).ok());
  ASSERT_TRUE(d->Put(Cf::kQueue, "in-memtable", "2").ok());
  ASSERT_TRUE(d->Put(Cf::kState, "other-family", "3").ok());

  auto values =
      d->MultiGet(Cf::kQueue, {"in-memtable", "absent", "flushed", "other-family", "in-memtable"});
  ASSERT_TRUE(values.ok()) << values.status().ToString();
  const std::vector<std::optional<std::string>> want = {"2", std::nullopt, "1", std::nullopt, "2"};
  EXPECT_EQ(*values, want);
  EXPECT_TRUE(d->MultiGet(Cf::kQueue, {}).value().empty());
  std::filesystem::remove_all(dir);
}

// Compactions of a column family drop what its expiry rule says, and only there; no rule, no drop.
TEST(DbTest, CompactionsDropWhatTheExpiryRuleSays) {
  std::string dir = TempDir("expiry");
  auto db = Db::Open(dir);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  Db* d = db->get();
  auto compact = [d](Cf cf) {
    ASSERT_TRUE(d->raw()->Flush(rocksdb::FlushOptions(), d->cf(cf)).ok());
    rocksdb::CompactRangeOptions options;
    options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    ASSERT_TRUE(d->raw()->CompactRange(options, d->cf(cf), nullptr, nullptr).ok());
  };
  auto has = [d](Cf cf, const std::string& key) { return d->Get(cf, key).value().has_value(); };
  for (Cf cf : {Cf::kQueue, Cf::kState}) {
    ASSERT_TRUE(d->Put(cf, "a", "old").ok());
    ASSERT_TRUE(d->Put(cf, "b", "new").ok());
  }
  d->SetExpiry(Cf::kQueue, [](std::string_view, std::string_view value) { return value == "old"; });
  EXPECT_TRUE(has(Cf::kQueue, "a"));  // not before a compaction
  compact(Cf::kQueue);
  compact(Cf::kState);
  EXPECT_FALSE(has(Cf::kQueue, "a"));
  EXPECT_TRUE(has(Cf::kQueue, "b"));
  EXPECT_TRUE(has(Cf::kState, "a"));  // another family's rule is its own (none)

  d->SetExpiry(Cf::kQueue, nullptr);
  ASSERT_TRUE(d->Put(Cf::kQueue, "c", "old").ok());
  compact(Cf::kQueue);
  EXPECT_TRUE(has(Cf::kQueue, "c"));
  db->reset();
  std::filesystem::remove_all(dir);
}

TEST(DbTest, SecondOpenOfHeldDirectoryIsAClearError) {
  std::string dir = TempDir("lock");
  auto first = Db::Open(dir);
  ASSERT_TRUE(first.ok());
  auto second = Db::Open(dir);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// Creates a RocksDB database under `dir` holding the column families `names` (and "default").
void CreateRawDb(const std::string& dir, const std::vector<std::string>& names) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir, &raw).ok());
  for (const std::string& name : names) {
    rocksdb::ColumnFamilyHandle* h = nullptr;
    ASSERT_TRUE(raw->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), name, &h).ok());
    raw->DestroyColumnFamilyHandle(h);
  }
  delete raw;
}

std::vector<std::string> ColumnFamilies(const std::string& dir) {
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), dir, &names).ok());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(DbTest, RetiredColumnFamiliesOfEarlierVersionsAreDropped) {
  std::string dir = TempDir("retired");
  CreateRawDb(dir, {"events", "online", "predictions", "jobs"});
  {
    auto db = Db::Open(dir);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)->Put(Cf::kLate, "k", "v", /*sync=*/true).ok());
  }
  EXPECT_EQ(ColumnFamilies(dir),
            (std::vector<std::string>{"checkpoints", "default", "events", "ingest_meta", "late",
                                      "predictions", "quarantine", "queue", "registry", "state",
                                      "tables"}));
  auto db = Db::Open(dir);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ(*(*db)->Get(Cf::kLate, "k").value(), "v");
  db->reset();
  std::filesystem::remove_all(dir);
}

TEST(DbTest, UnknownColumnFamilyIsRefusedAndChangesNothing) {
  std::string dir = TempDir("unknown");
  CreateRawDb(dir, {"events", "from_the_future"});
  auto db = Db::Open(dir);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(db.status().message().find("column family 'from_the_future', unknown to this version"),
            std::string::npos)
      << db.status().message();
  EXPECT_EQ(ColumnFamilies(dir),
            (std::vector<std::string>{"default", "events", "from_the_future"}));
  std::filesystem::remove_all(dir);
}

TEST(DbTest, BigEndianKeysSortNumerically) {
  std::string a, b;
  AppendBigEndian64(&a, 255);
  AppendBigEndian64(&b, 256);
  EXPECT_LT(a, b);
  EXPECT_EQ(ReadBigEndian64(b.data()), 256u);
}

}  // namespace
}  // namespace freshet
