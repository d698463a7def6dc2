#include "store/feature_json.h"

#include <gtest/gtest.h>

namespace freshet {
namespace {

// Parses a body whose features are fixed (a deployment's), so no spec or engine is needed.
Result<FeatureRequest> Parse(std::string_view body) {
  static const FeatureStore store(nullptr, nullptr, nullptr);
  static const std::vector<FeatureRef> features;
  return ParseFeatureRequest(body, store, &features);
}

TEST(FeatureJsonTest, ReadsAsOfAsEpochMsOrRfc3339) {
  EXPECT_EQ(*Parse(R"({"entities": {"user_id": ["u1"]}, "as_of": 1500})")->as_of_ms, 1500);
  EXPECT_EQ(*Parse(R"({"entities": {"user_id": ["u1"]}, "as_of": "1500"})")->as_of_ms, 1500);
  EXPECT_EQ(
      *Parse(R"({"entities": {"user_id": ["u1"]}, "as_of": "1970-01-01T00:00:01Z"})")->as_of_ms,
      1000);
}

TEST(FeatureJsonTest, RejectsAsOfOutOfRange) {
  auto r = Parse(R"({"entities": {"user_id": ["u1"]}, "as_of": "99999999999999999999"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "as_of: '99999999999999999999' is out of range for a 64-bit integer");
}

TEST(FeatureJsonTest, RejectsAsOfThatIsNoDate) {
  auto r = Parse(R"({"entities": {"user_id": ["u1"]}, "as_of": "2026-02-31T00:00:00Z"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "as_of: bad timestamp '2026-02-31T00:00:00Z': day 31 is not 1-28 in 2026-02");
}

}  // namespace
}  // namespace freshet
