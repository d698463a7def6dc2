#include "tables/latest_versions.h"

#include <gtest/gtest.h>

namespace freshet {
namespace {

AttributeVersion At(int64_t event_ms) {
  AttributeVersion v;
  v.event_ms = event_ms;
  v.values = {Value::Int(event_ms)};
  return v;
}

TEST(LatestVersionsTest, CachesUntilInvalidated) {
  LatestVersions cache(10);
  EXPECT_FALSE(cache.Find("a", 10).has_value());
  cache.Insert("a", At(1), cache.Epoch());
  ASSERT_TRUE(cache.Find("a", 10).has_value());
  EXPECT_EQ(cache.Find("a", 10)->event_ms, 1);
  EXPECT_FALSE(cache.Find("a", 1).has_value());  // not visible at its own time: not the answer
  cache.Insert("a", At(2), cache.Epoch());       // replaces
  EXPECT_EQ(cache.Find("a", 10)->event_ms, 2);
  cache.Invalidate({"a", "never-cached"});
  EXPECT_FALSE(cache.Find("a", 10).has_value());
}

// A read that took its epoch before a write invalidated rows does not cache what it read: it
// may be what that write superseded.
TEST(LatestVersionsTest, AnInsertFromBeforeAnInvalidationIsDropped) {
  LatestVersions cache(10);
  const uint64_t before = cache.Epoch();
  cache.Invalidate({"b"});
  cache.Insert("a", At(1), before);
  EXPECT_FALSE(cache.Find("a", 10).has_value());
  EXPECT_EQ(cache.size(), 0u);
  cache.Insert("a", At(1), cache.Epoch());
  EXPECT_TRUE(cache.Find("a", 10).has_value());
}

TEST(LatestVersionsTest, HoldsAtMostItsCapacity) {
  LatestVersions cache(3);
  for (int i = 0; i < 10; ++i) cache.Insert("row" + std::to_string(i), At(i), cache.Epoch());
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_TRUE(cache.Find("row9", 10).has_value());  // the newest insert is kept
}

TEST(LatestVersionsTest, CountsHitsMissesAndRows) {
  MetricsRegistry metrics;
  LatestVersions cache(10, &metrics);
  cache.Insert("a", At(5), cache.Epoch());
  cache.Insert("b", At(5), cache.Epoch());
  EXPECT_TRUE(cache.Find("a", 6).has_value());    // hit
  EXPECT_FALSE(cache.Find("a", 5).has_value());   // cached but not the answer: miss
  EXPECT_FALSE(cache.Find("zz", 6).has_value());  // miss
  cache.Invalidate({"b"});
  const std::string text = metrics.Render();
  EXPECT_NE(text.find("freshet_table_cache_hits_total 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("freshet_table_cache_misses_total 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("freshet_table_cache_rows 1\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace freshet
