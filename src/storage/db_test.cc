#include "storage/db.h"

#include <gtest/gtest.h>

#include <filesystem>

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

TEST(DbTest, BigEndianKeysSortNumerically) {
  std::string a, b;
  AppendBigEndian64(&a, 255);
  AppendBigEndian64(&b, 256);
  EXPECT_LT(a, b);
  EXPECT_EQ(ReadBigEndian64(b.data()), 256u);
}

}  // namespace
}  // namespace freshet
