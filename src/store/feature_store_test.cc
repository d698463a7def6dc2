// FeatureStore over a real engine and RocksDB: what a feature read answers — values, the
// Feast statuses, event times, column order — and the errors naming what was wrong.
#include "store/feature_store.h"

#include <gtest/gtest.h>

#include "store/store_test_util.h"

namespace freshet {
namespace {

using testing::kMinute;
using testing::kT;
using testing::StoreHarness;

std::vector<FeatureRef> Refs(FeatureStore* store, const std::vector<std::string>& names) {
  auto refs = store->ParseRefs(names);
  EXPECT_TRUE(refs.ok()) << refs.status().ToString();
  return refs.ok() ? *refs : std::vector<FeatureRef>{};
}

EntityColumns Users(std::vector<std::string> ids) {
  EntityColumns columns;
  columns["user_id"];  // present even with no rows
  for (std::string& id : ids) columns["user_id"].push_back(Value::String(std::move(id)));
  return columns;
}

TEST(FeatureStoreTest, StatusesPresentNotFoundAndOutsideMaxAge) {
  StoreHarness h;
  h.Click("fresh", kT - 5 * kMinute, 2.5);
  h.Click("fresh", kT - 2 * kMinute, 4.0);
  h.Click("stale", kT - 3 * 60 * kMinute, 7.0);  // older than activity's 1h ttl
  auto table = h.store()->Get(Refs(h.store(), {"activity:clicks_10m", "activity:amount_1h"}),
                              Users({"fresh", "nobody", "stale"}), kT);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_EQ(table->num_rows, 3u);
  ASSERT_EQ(table->features.size(), 2u);

  // fresh: both events in both windows; the event time is the newest event's.
  EXPECT_EQ(table->statuses[0][0], ReadStatus::kPresent);
  EXPECT_EQ(table->values[0][0], Value::Int(2));
  EXPECT_DOUBLE_EQ(table->values[1][0].to_double(), 6.5);
  EXPECT_EQ(table->event_ms[0][0], kT - 2 * kMinute);

  // nobody: no events at all.
  EXPECT_EQ(table->statuses[0][1], ReadStatus::kNotFound);
  EXPECT_EQ(table->statuses[1][1], ReadStatus::kNotFound);
  EXPECT_EQ(table->event_ms[0][1], 0);

  // stale: known, but its newest event is past the ttl, so every value is null.
  EXPECT_EQ(table->statuses[0][2], ReadStatus::kOutsideMaxAge);
  EXPECT_EQ(table->statuses[1][2], ReadStatus::kOutsideMaxAge);
  EXPECT_TRUE(table->values[0][2].is_null());
  EXPECT_TRUE(table->values[1][2].is_null());
  EXPECT_EQ(table->event_ms[0][2], kT - 3 * 60 * kMinute);
}

TEST(FeatureStoreTest, ViewWithoutTtlNeverGoesStale) {
  StoreHarness h;
  h.Click("stale", kT - 3 * 60 * kMinute, 7.0);
  auto table = h.store()->Get(Refs(h.store(), {"lifetime:total", "lifetime:last_amount"}),
                              Users({"stale"}), kT);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->statuses[0][0], ReadStatus::kPresent);
  EXPECT_EQ(table->values[0][0], Value::Int(1));
  EXPECT_DOUBLE_EQ(table->values[1][0].to_double(), 7.0);
}

TEST(FeatureStoreTest, ValuesDecayAsTimePassesWithoutEvents) {
  StoreHarness h;
  h.Click("u1", kT - 5 * kMinute, 1.0);
  const auto refs = Refs(h.store(), {"activity:clicks_10m", "activity:amount_1h"});
  auto now = h.store()->Get(refs, Users({"u1"}), kT);
  auto later = h.store()->Get(refs, Users({"u1"}), kT + 10 * kMinute);
  ASSERT_TRUE(now.ok() && later.ok());
  EXPECT_EQ(now->values[0][0], Value::Int(1));
  EXPECT_EQ(later->values[0][0], Value::Int(0));           // out of the 10m window
  EXPECT_DOUBLE_EQ(later->values[1][0].to_double(), 1.0);  // still in the 1h window
}

TEST(FeatureStoreTest, ReadsAtTheClockWhenNoAsOfIsGiven) {
  StoreHarness h;
  h.Click("u1", kT - 5 * kMinute, 1.0);
  const auto refs = Refs(h.store(), {"activity:clicks_10m"});
  h.clock()->Set(kT + 20 * kMinute);
  auto table = h.store()->Get(refs, Users({"u1"}));
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->values[0][0], Value::Int(0));
}

TEST(FeatureStoreTest, ColumnsFollowTheRequestOrderAcrossViews) {
  StoreHarness h;
  h.Click("u1", kT - kMinute, 3.0);
  h.Click("u1", kT - kMinute + 1, 5.0);
  auto refs = h.store()->ServiceFeatures("scoring");
  ASSERT_TRUE(refs.ok());
  auto table = h.store()->Get(*refs, Users({"u1"}), kT);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_EQ(table->features.size(), 3u);
  EXPECT_EQ(table->features[0].ToString(), "activity:clicks_10m");
  EXPECT_EQ(table->features[1].ToString(), "lifetime:total");
  EXPECT_EQ(table->features[2].ToString(), "activity:amount_1h");
  EXPECT_EQ(table->values[0][0], Value::Int(2));
  EXPECT_EQ(table->values[1][0], Value::Int(2));
  EXPECT_DOUBLE_EQ(table->values[2][0].to_double(), 8.0);
}

TEST(FeatureStoreTest, NoRowsIsAnEmptyTable) {
  StoreHarness h;
  auto table = h.store()->Get(Refs(h.store(), {"activity:clicks_10m"}), Users({}), kT);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->num_rows, 0u);
  ASSERT_EQ(table->values.size(), 1u);
  EXPECT_TRUE(table->values[0].empty());
}

TEST(FeatureStoreTest, MissingEntityKeyNamesTheKeyAndTheView) {
  StoreHarness h;
  EntityColumns wrong;
  wrong["customer_id"] = {Value::String("u1")};
  auto table = h.store()->Get(Refs(h.store(), {"activity:clicks_10m"}), wrong, kT);
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(table.status().message().find("'user_id'"), std::string::npos)
      << table.status().message();
  EXPECT_NE(table.status().message().find("'activity'"), std::string::npos)
      << table.status().message();
}

TEST(FeatureStoreTest, BadReferencesNameTheViewOrFeature) {
  StoreHarness h;
  auto unknown_view = h.store()->ParseRefs({"nope:clicks_10m"});
  ASSERT_FALSE(unknown_view.ok());
  EXPECT_EQ(unknown_view.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown_view.status().message().find("unknown feature view 'nope'"), std::string::npos)
      << unknown_view.status().message();

  auto unknown_feature = h.store()->ParseRefs({"activity:clicks_10m", "activity:nope"});
  ASSERT_FALSE(unknown_feature.ok());
  EXPECT_EQ(unknown_feature.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown_feature.status().message().find("view 'activity' has no feature 'nope'"),
            std::string::npos)
      << unknown_feature.status().message();

  auto malformed = h.store()->ParseRefs({"no_colon"});
  ASSERT_FALSE(malformed.ok());
  EXPECT_NE(malformed.status().message().find("no_colon"), std::string::npos)
      << malformed.status().message();

  auto none = h.store()->ParseRefs({});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
}

TEST(FeatureStoreTest, UnknownServiceIsNotFoundByName) {
  StoreHarness h;
  auto refs = h.store()->ServiceFeatures("ranking");
  ASSERT_FALSE(refs.ok());
  EXPECT_EQ(refs.status().code(), StatusCode::kNotFound);
  EXPECT_NE(refs.status().message().find("'ranking'"), std::string::npos);
}

}  // namespace
}  // namespace freshet
