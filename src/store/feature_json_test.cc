// The JSON side of feature reads: request parsing (errors naming the bad field) and the two
// response shapes, freshet's and Feast's, checked field by field.
#include "store/feature_json.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "store/store_test_util.h"

namespace freshet {
namespace {

using testing::kMinute;
using testing::kT;
using testing::StoreHarness;

// The message of a request that must be rejected as kInvalidArgument or kNotFound.
std::string Rejection(StoreHarness& h, std::string_view body) {
  auto request = ParseFeatureRequest(body, *h.store());
  EXPECT_FALSE(request.ok()) << body;
  if (request.ok()) return "";
  EXPECT_TRUE(request.status().code() == StatusCode::kInvalidArgument ||
              request.status().code() == StatusCode::kNotFound)
      << request.status().ToString();
  return std::string(request.status().message());
}

TEST(FeatureJsonTest, ParsesFeaturesEntitiesAndAsOf) {
  StoreHarness h;
  auto r = ParseFeatureRequest(
      R"({"features":["activity:clicks_10m","lifetime:total"],
          "entities":{"user_id":["u1","u2"],"region":["eu","us"]},
          "as_of":"2026-01-01T00:00:00Z","full_feature_names":true})",
      *h.store());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->features.size(), 2u);
  EXPECT_EQ(r->features[1].ToString(), "lifetime:total");
  EXPECT_EQ(r->entity_order, (std::vector<std::string>{"user_id", "region"}));
  EXPECT_EQ(r->entities.at("user_id")[1], Value::String("u2"));
  EXPECT_EQ(r->as_of_ms, kT);
  EXPECT_TRUE(r->full_feature_names);
}

TEST(FeatureJsonTest, AsOfTakesEpochMillisecondsAsNumberOrString) {
  StoreHarness h;
  for (const std::string& as_of :
       std::vector<std::string>{std::to_string(kT), "\"" + std::to_string(kT) + "\""}) {
    auto r = ParseFeatureRequest(R"({"feature_service":"scoring","entities":{"user_id":["u1"]},)"
                                 R"("as_of":)" +
                                     as_of + "}",
                                 *h.store());
    ASSERT_TRUE(r.ok()) << as_of << ": " << r.status().ToString();
    EXPECT_EQ(r->as_of_ms, kT);
    EXPECT_EQ(r->features.size(), 3u);
  }
  auto none = ParseFeatureRequest(R"({"feature_service":"scoring","entities":{"user_id":["u1"]}})",
                                  *h.store());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->as_of_ms.has_value());
}

TEST(FeatureJsonTest, ErrorsNameTheBadField) {
  StoreHarness h;
  EXPECT_NE(Rejection(h, "{").find("malformed JSON"), std::string::npos);
  EXPECT_NE(Rejection(h, "[1]").find("expected a JSON object"), std::string::npos);
  EXPECT_NE(Rejection(h, R"({"entities":{"user_id":["u1"]}})").find("'features'"),
            std::string::npos);
  EXPECT_NE(Rejection(h, R"({"features":"activity:clicks_10m","entities":{}})").find("features:"),
            std::string::npos);
  EXPECT_NE(Rejection(h, R"({"feature_service":7,"entities":{}})").find("feature_service:"),
            std::string::npos);
  EXPECT_NE(
      Rejection(h, R"({"feature_service":"nope","entities":{"user_id":["u1"]}})").find("'nope'"),
      std::string::npos);
  EXPECT_NE(Rejection(h, R"({"features":["activity:nope"],"entities":{"user_id":["u1"]}})")
                .find("'nope'"),
            std::string::npos);
  EXPECT_NE(Rejection(h, R"({"feature_service":"scoring"})").find("entities: missing"),
            std::string::npos);
  EXPECT_NE(Rejection(h, R"({"feature_service":"scoring","entities":["u1"]})").find("entities:"),
            std::string::npos);
  EXPECT_NE(Rejection(h, R"({"feature_service":"scoring","entities":{}})").find("entities:"),
            std::string::npos);
  EXPECT_NE(Rejection(h, R"({"feature_service":"scoring","entities":{"user_id":"u1"}})")
                .find("entities.user_id:"),
            std::string::npos);
  EXPECT_NE(Rejection(h, R"({"feature_service":"scoring","entities":{"user_id":[null]}})")
                .find("entities.user_id[0]: null key value"),
            std::string::npos);
  EXPECT_NE(Rejection(h, R"({"feature_service":"scoring","entities":{"user_id":[["a"]]}})")
                .find("entities.user_id"),
            std::string::npos);
  EXPECT_NE(Rejection(h, R"({"feature_service":"scoring","entities":{"user_id":["u1"]},)"
                         R"("as_of":"yesterday"})")
                .find("as_of"),
            std::string::npos);
  EXPECT_NE(Rejection(h, R"({"feature_service":"scoring","entities":{"user_id":["u1"]},)"
                         R"("as_of":1.5})")
                .find("as_of"),
            std::string::npos);
}

// Bug: a digit string past int64 threw std::out_of_range out of the parser (the server made
// it a 500); it is a bad request naming as_of.
TEST(FeatureJsonTest, AsOfDigitStringPastInt64IsRejected) {
  StoreHarness h;
  std::string message =
      Rejection(h, R"({"feature_service":"scoring","entities":{"user_id":["u1"]},)"
                   R"("as_of":"99999999999999999999999"})");
  EXPECT_EQ(message, "as_of: '99999999999999999999999' is out of range for a 64-bit integer");
}

// Bug: entity columns of different lengths were accepted when only one of them was a view's
// key, and the response encoders then indexed the shorter column past its end.
TEST(FeatureJsonTest, AsOfThatIsNoDateIsRejected) {
  StoreHarness h;
  EXPECT_EQ(Rejection(h, R"({"feature_service":"scoring","entities":{"user_id":["u1"]},)"
                         R"("as_of":"2026-02-31T00:00:00Z"})"),
            "as_of: bad timestamp '2026-02-31T00:00:00Z': day 31 is not 1-28 in 2026-02");
}

TEST(FeatureJsonTest, EntityColumnsOfDifferentLengthsAreRejected) {
  StoreHarness h;
  std::string message =
      Rejection(h, R"({"feature_service":"scoring","entities":{"user_id":["u1","u2"],)"
                   R"("region":["eu"]}})");
  EXPECT_NE(message.find("entities.region: 1 values, but entities.user_id has 2"),
            std::string::npos)
      << message;
}

// Bug: a key given twice appended to one column and listed the key twice in the response.
TEST(FeatureJsonTest, EntityKeyGivenTwiceIsRejected) {
  StoreHarness h;
  std::string message = Rejection(
      h, R"({"feature_service":"scoring","entities":{"user_id":["u1"],"user_id":["u2"]}})");
  EXPECT_NE(message.find("entities.user_id: given twice"), std::string::npos) << message;
}

// Bug: a non-boolean full_feature_names was silently ignored.
TEST(FeatureJsonTest, FullFeatureNamesMustBeBoolean) {
  StoreHarness h;
  std::string message =
      Rejection(h, R"({"feature_service":"scoring","entities":{"user_id":["u1"]},)"
                   R"("full_feature_names":"yes"})");
  EXPECT_NE(message.find("full_feature_names"), std::string::npos) << message;
}

TEST(FeatureJsonTest, DeploymentRequestsNameNoFeatures) {
  StoreHarness h;
  auto refs = h.store()->ServiceFeatures("scoring");
  ASSERT_TRUE(refs.ok());
  auto r = ParseFeatureRequest(R"({"entities":{"user_id":["u1"]}})", *h.store(), &*refs);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->features.size(), 3u);
}

class FeatureJsonResponseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.Click("u1", kT - 2 * kMinute, 4.0);
    h_.Click("old", kT - 3 * 60 * kMinute, 1.0);
    auto request = ParseFeatureRequest(R"({"features":["activity:clicks_10m","lifetime:total"],)"
                                       R"("entities":{"user_id":["u1","nobody","old"]},"as_of":)" +
                                           std::to_string(kT) + "}",
                                       *h_.store());
    ASSERT_TRUE(request.ok()) << request.status().ToString();
    request_ = *request;
    auto table = h_.store()->Get(request_.features, request_.entities, kT);
    ASSERT_TRUE(table.ok()) << table.status().ToString();
    table_ = *table;
  }

  StoreHarness h_;
  FeatureRequest request_;
  FeatureTable table_;
  simdjson::dom::parser parser_;
};

TEST_F(FeatureJsonResponseTest, FreshetShapeHasOneRowPerEntity) {
  std::string json = FeatureTableToJson(request_, table_, kT);
  simdjson::dom::element doc;
  ASSERT_FALSE(parser_.parse(json).get(doc)) << json;
  EXPECT_EQ(int64_t(doc["as_of_ms"]), kT);
  EXPECT_EQ(std::string_view(doc["features"].at(0)), "activity:clicks_10m");
  EXPECT_EQ(std::string_view(doc["features"].at(1)), "lifetime:total");
  simdjson::dom::array rows = doc["rows"];
  ASSERT_EQ(rows.size(), 3u);
  simdjson::dom::element u1 = rows.at(0);
  EXPECT_EQ(std::string_view(u1["entity"]["user_id"]), "u1");
  EXPECT_EQ(int64_t(u1["values"].at(0)), 1);
  EXPECT_EQ(int64_t(u1["values"].at(1)), 1);
  EXPECT_EQ(std::string_view(u1["statuses"].at(0)), "PRESENT");
  EXPECT_EQ(int64_t(u1["event_timestamps"].at(0)), kT - 2 * kMinute);
  EXPECT_EQ(std::string_view(rows.at(1)["statuses"].at(0)), "NOT_FOUND");
  EXPECT_EQ(int64_t(rows.at(1)["values"].at(0)), 0);  // an empty window's count
  EXPECT_EQ(std::string_view(rows.at(2)["statuses"].at(0)), "OUTSIDE_MAX_AGE");
  EXPECT_TRUE(rows.at(2)["values"].at(0).is_null());
  EXPECT_EQ(std::string_view(rows.at(2)["statuses"].at(1)), "PRESENT");  // lifetime: no ttl
}

TEST_F(FeatureJsonResponseTest, FeastShapeHasEntityColumnsFirstThenOneResultPerFeature) {
  std::string json = FeatureTableToFeastJson(request_, table_);
  simdjson::dom::element doc;
  ASSERT_FALSE(parser_.parse(json).get(doc)) << json;
  simdjson::dom::array names = doc["metadata"]["feature_names"];
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(std::string_view(names.at(0)), "user_id");
  EXPECT_EQ(std::string_view(names.at(1)), "clicks_10m");
  EXPECT_EQ(std::string_view(names.at(2)), "total");
  simdjson::dom::array results = doc["results"];
  ASSERT_EQ(results.size(), 3u);
  // The entity column echoes the keys, all PRESENT.
  EXPECT_EQ(std::string_view(results.at(0)["values"].at(2)), "old");
  EXPECT_EQ(std::string_view(results.at(0)["statuses"].at(1)), "PRESENT");
  EXPECT_EQ(std::string_view(results.at(0)["event_timestamps"].at(0)), "1970-01-01T00:00:00.000Z");
  // clicks_10m: one value per entity row, in request order.
  simdjson::dom::element clicks = results.at(1);
  EXPECT_EQ(int64_t(clicks["values"].at(0)), 1);
  EXPECT_EQ(std::string_view(clicks["statuses"].at(0)), "PRESENT");
  EXPECT_EQ(std::string_view(clicks["statuses"].at(1)), "NOT_FOUND");
  EXPECT_EQ(std::string_view(clicks["statuses"].at(2)), "OUTSIDE_MAX_AGE");
  EXPECT_EQ(std::string_view(clicks["event_timestamps"].at(0)), "2025-12-31T23:58:00.000Z");
  EXPECT_TRUE(clicks["values"].at(2).is_null());
  EXPECT_TRUE(doc["results"].at(1)["values"].is_array());
  EXPECT_EQ(doc["results"].at(2)["values"].get_array().size(), 3u);
}

TEST_F(FeatureJsonResponseTest, FeastFullFeatureNamesArePrefixedWithTheView) {
  request_.full_feature_names = true;
  std::string json = FeatureTableToFeastJson(request_, table_);
  simdjson::dom::element doc;
  ASSERT_FALSE(parser_.parse(json).get(doc)) << json;
  EXPECT_EQ(std::string_view(doc["metadata"]["feature_names"].at(0)), "user_id");
  EXPECT_EQ(std::string_view(doc["metadata"]["feature_names"].at(1)), "activity__clicks_10m");
  EXPECT_EQ(std::string_view(doc["metadata"]["feature_names"].at(2)), "lifetime__total");
}

}  // namespace
}  // namespace freshet
