#include "spec/plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "spec/spec_loader.h"
#include "spec/spec_test_data.h"

namespace freshet {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class PlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<ProjectSpec> spec = ParseProject(kGoodSpec, "/p/freshet.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    spec_ = std::move(spec).value();
    plan_ = FormatPlan(spec_);
  }

  ProjectSpec spec_;
  std::string plan_;
};

TEST_F(PlanTest, StartsWithProjectAndEndsWithNewline) {
  EXPECT_THAT(plan_, StartsWith("project meditation (/p/freshet.yaml)\n"));
  EXPECT_EQ(plan_.back(), '\n');
}

TEST_F(PlanTest, Entities) {
  EXPECT_THAT(plan_, HasSubstr("\nentities (2)\n"
                               "  pair  key user_id, category\n"
                               "  user  key user_id\n"));
}

TEST_F(PlanTest, SourcesWithKindTimestampLatenessAndFields) {
  EXPECT_THAT(plan_, HasSubstr("\nsources (3)\n"
                               "  app_events  http, timestamp ts_ms, allowed lateness 10m\n"
                               "    user_id     string\n"));
  EXPECT_THAT(plan_, HasSubstr("    duration_s  double\n"
                               "    n           int64\n"
                               "    ts_ms       timestamp\n"));
  EXPECT_THAT(plan_,
              HasSubstr("  clicks      kafka topic clicks, brokers localhost:9092, group freshet, "
                        "timestamp ts, allowed lateness 0s\n"));
  EXPECT_THAT(
      plan_,
      HasSubstr("  replay      file /p/events.csv (csv), timestamp at, allowed lateness 0s\n"));
}

TEST(PlanExpectationsTest, FieldsShowTheirExpectationsAndPolicy) {
  Result<ProjectSpec> spec = ParseProject(
      "project: p\nsources:\n  ev:\n    timestamp: ts\n"
      "    fields: {user_id: string, dur: double}\n"
      "    expectations:\n"
      "      user_id: {not_null: true, matches: \"^u[0-9]+$\", max_length: 8}\n"
      "      dur: {between: [0, 86400], null_fraction_max: 0.5, policy: warn}\n",
      "/p/freshet.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_THAT(FormatPlan(*spec),
              HasSubstr("    user_id  string  expect not_null, matches '^u[0-9]+$', "
                        "max_length 8 (reject)\n"
                        "    dur      double  expect between [0, 86400], null_fraction_max 0.5 "
                        "(warn)\n"));
  EXPECT_THAT(FormatPlanJson(*spec),
              HasSubstr(R"({"name":"user_id","type":"string","expectations":"not_null, )"
                        R"(matches '^u[0-9]+$', max_length 8","policy":"reject"})"));
}

TEST_F(PlanTest, FeatureViewWithEveryWindowKind) {
  EXPECT_THAT(plan_,
              HasSubstr("\nfeature views (1)\n"
                        "  user_activity  entity user, source app_events, ttl 7d\n"
                        "    events_10m       count over sliding 10m\n"
                        "    sleep_exits_10m  count over sliding 10m where event = 'exit' and "
                        "category = 'sleep'\n"
                        "    listen_s_1h      sum of duration_s over sliding 1h\n"
                        "    mean_len_1d      mean of duration_s over hopping 1d, hop 1h\n"
                        "    day_count        count over tumbling 1d\n"
                        "    categories_1h    distinct_count (approx) of category over sliding 1h\n"
                        "    session_starts   count over session (gap 30m) where event = 'start'\n"
                        "    sleep_bounce     expr sleep_exits_10m / nullif(events_10m, 0)\n"
                        "    last_category    last of category over lifetime\n"
                        "    recent           last_n(5) of category over lifetime\n"
                        "    top_cats         top_k(3) of category over sliding 1h\n"
                        "    spread           variance of n over sliding 1h\n"
                        "    per_sec          rate over sliding 1m\n"));
}

TEST_F(PlanTest, ServicesModelsDeployments) {
  EXPECT_THAT(
      plan_, HasSubstr("\nfeature services (2)\n"
                       "  ranker       user_activity:listen_s_1h\n"
                       "  recommender  user_activity:events_10m, user_activity:sleep_exits_10m\n"));
  EXPECT_THAT(plan_, HasSubstr("\nmodels (1)\n  next_content  runtime xgboost\n"));
  EXPECT_THAT(
      plan_, HasSubstr("\ndeployments (2)\n"
                       "  rank       model next_content (alias challenger), features ranker\n"
                       "  recommend  model next_content (alias champion), features recommender\n"));
}

TEST(PlanEmptyTest, EmptySectionsShowZero) {
  Result<ProjectSpec> spec = ParseProject("project: p\n", "freshet.yaml");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(FormatPlan(*spec),
            "project p (freshet.yaml)\n\nentities (0)\n\nsources (0)\n\nfeature views (0)\n\n"
            "feature services (0)\n\nmodels (0)\n\ndeployments (0)\n");
}

TEST(DescribeFeatureTest, CombinedDurationUnits) {
  FeatureSpec f;
  f.agg = AggKind::kMax;
  f.of = "x";
  f.window = WindowKind::kSliding;
  f.window_ms = 90'000;
  EXPECT_EQ(DescribeFeature(f), "max of x over sliding 1m30s");
}

TEST(DescribeFeatureTest, ApproxPercentileShowsItsQuantile) {
  FeatureSpec f;
  f.agg = AggKind::kApproxPercentile;
  f.of = "duration_s";
  f.q = 0.9;
  f.window = WindowKind::kSliding;
  f.window_ms = 3'600'000;
  EXPECT_EQ(DescribeFeature(f), "approx_percentile(0.9) of duration_s over sliding 1h");
}

TEST_F(PlanTest, JsonHasEveryObject) {
  std::string json = FormatPlanJson(spec_);
  rapidjson::Document doc;
  ASSERT_FALSE(doc.Parse(json.c_str()).HasParseError()) << json;
  EXPECT_STREQ(doc["project"].GetString(), "meditation");
  EXPECT_STREQ(doc["spec_path"].GetString(), "/p/freshet.yaml");

  const auto& entities = doc["entities"];
  ASSERT_EQ(entities.Size(), 2u);
  EXPECT_STREQ(entities[0]["name"].GetString(), "pair");
  EXPECT_EQ(entities[0]["keys"].Size(), 2u);
  EXPECT_EQ(entities[1]["line"].GetInt(), 3);

  const auto& app_events = doc["sources"][0];
  EXPECT_STREQ(app_events["kind"].GetString(), "http");
  EXPECT_EQ(app_events["allowed_lateness_ms"].GetInt64(), 600'000);
  ASSERT_EQ(app_events["fields"].Size(), 6u);
  EXPECT_STREQ(app_events["fields"][5]["type"].GetString(), "timestamp");
  EXPECT_STREQ(doc["sources"][2]["path"].GetString(), "/p/events.csv");

  const auto& view = doc["feature_views"][0];
  EXPECT_EQ(view["ttl_ms"].GetInt64(), 7 * 86'400'000LL);
  const auto& hopping = view["features"][3];
  EXPECT_STREQ(hopping["name"].GetString(), "mean_len_1d");
  EXPECT_STREQ(hopping["agg"].GetString(), "mean");
  EXPECT_STREQ(hopping["window"].GetString(), "hopping");
  EXPECT_EQ(hopping["hop_ms"].GetInt64(), 3'600'000);
  EXPECT_STREQ(hopping["description"].GetString(), "mean of duration_s over hopping 1d, hop 1h");
  EXPECT_STREQ(view["features"][7]["expr"].GetString(), "sleep_exits_10m / nullif(events_10m, 0)");
  EXPECT_FALSE(view["features"][7].HasMember("agg"));

  EXPECT_STREQ(doc["feature_services"][1]["features"][1].GetString(),
               "user_activity:sleep_exits_10m");
  EXPECT_STREQ(doc["models"][0]["runtime"].GetString(), "xgboost");
  EXPECT_STREQ(doc["deployments"][1]["alias"].GetString(), "champion");
  EXPECT_STREQ(doc["deployments"][1]["feature_service"].GetString(), "recommender");
}

TEST(PlanOutputsTest, DeploymentOutputsInBothForms) {
  std::string yaml = kGoodSpec;
  yaml +=
      "  push:\n    model: next_content\n    features: recommender\n    outputs:\n"
      "      - {kind: webhook, url: 'http://127.0.0.1:9/hook', timeout: 2s}\n"
      "      - {kind: file, path: /tmp/preds.ndjson}\n";
  Result<ProjectSpec> spec = ParseProject(yaml, "/p/freshet.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_THAT(FormatPlan(*spec),
              HasSubstr("  push       model next_content (alias champion), features recommender\n"
                        "    -> webhook http://127.0.0.1:9/hook (timeout 2s)\n"
                        "    -> file /tmp/preds.ndjson\n"));
  rapidjson::Document doc;
  doc.Parse(FormatPlanJson(*spec).c_str());
  ASSERT_FALSE(doc.HasParseError());
  const auto& push = doc["deployments"][0];  // sorted by name: push, rank, recommend
  ASSERT_STREQ(push["name"].GetString(), "push");
  EXPECT_STREQ(push["outputs"][0]["url"].GetString(), "http://127.0.0.1:9/hook");
  EXPECT_EQ(push["outputs"][0]["timeout_ms"].GetInt64(), 2000);
  EXPECT_STREQ(push["outputs"][1]["kind"].GetString(), "file");
  EXPECT_FALSE(doc["deployments"][1].HasMember("outputs"));
}

TEST(PlanTablesTest, TableSourcesAttributesAndLookups) {
  auto spec = ParseProject(R"yaml(project: p
entities:
  user: {key: user_id}
  item: {key: item_id}
sources:
  ev: {timestamp: ts, fields: {user_id: string, item_id: int64}}
  items: {kind: table, entity: item, timestamp: at, fields: {item_id: int64, cat: string}}
feature_views:
  tv: {entity: item, source: items, features: {category: {attr: cat}}}
  sv:
    entity: user
    source: ev
    lookups: {items: {by: item_id, fields: [cat]}}
    features: {n: {agg: count}}
)yaml",
                           "f.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  std::string text = FormatPlan(*spec);
  EXPECT_THAT(text, HasSubstr("table of entity item, timestamp at"));
  EXPECT_THAT(text, HasSubstr("attribute cat as of the read time"));
  rapidjson::Document doc;
  doc.Parse(FormatPlanJson(*spec).c_str());
  ASSERT_FALSE(doc.HasParseError());
  const auto& sv =
      doc["feature_views"][0]["name"] == "sv" ? doc["feature_views"][0] : doc["feature_views"][1];
  EXPECT_STREQ(sv["lookups"][0]["table"].GetString(), "items");
  EXPECT_STREQ(sv["lookups"][0]["fields"][0].GetString(), "cat");
}

}  // namespace
}  // namespace freshet
