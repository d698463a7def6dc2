// Deployments that pick their model per entity (`model_by`) over a real engine, RocksDB, model
// registry and linear models: each row is scored by its segment's model at the alias, rows of
// one request may go to different models, a registry change is seen by the next request, and a
// segment without a model (or without a value) fails naming it unless a fallback is declared.
#include "serving/model_by_router.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>

#include "serving/predictor.h"
#include "spec/spec_loader.h"
#include "store/store_test_util.h"

namespace freshet {
namespace {

using testing::kMinute;
using testing::kT;
using testing::StoreHarness;

constexpr const char* kDeploymentYaml = R"yaml(
deployments:
  by_segment:
    features: scoring
    model_by: {attribute: context.segment, model: "ctr_{segment}"}
  with_fallback:
    features: scoring
    model_by: {attribute: context.segment, model: "ctr_{segment}_v", fallback: ctr_default}
)yaml";

class ModelByRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spec = ParseProject(std::string(testing::kStoreSpec) + kDeploymentYaml, "freshet.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    spec_ = *spec;
    auto registry = ModelRegistry::Open(h_.db(), h_.dir(), h_.clock());
    ASSERT_TRUE(registry.ok()) << registry.status().ToString();
    registry_ = std::move(*registry);
    predictor_ =
        std::make_unique<Predictor>(&spec_, h_.store(), registry_.get(), &cache_, &metrics_);
    // scoring = [activity:clicks_10m, lifetime:total, activity:amount_1h]; u1 has 2 clicks.
    h_.Click("u1", kT - kMinute, 3.0);
    h_.Click("u1", kT - kMinute + 1, 5.0);
  }

  // Registers a linear model `name` scoring clicks_10m * w + bias; returns its version.
  int64_t Register(const std::string& name, double w, double bias) {
    const std::string path = h_.dir() + "/linear.json";
    std::ofstream(path) << fmt::format(R"({{"weights":[{},0,0],"bias":{}}})", w, bias);
    auto v = registry_->Register(name, path, "linear");
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? v->version : 0;
  }

  Result<Prediction> Predict(const std::string& deployment, const std::vector<std::string>& users,
                             const std::vector<Value>& segments) {
    EntityColumns entities;
    for (const std::string& id : users) entities["user_id"].push_back(Value::String(id));
    return predictor_->Predict(deployment, entities, kT, {{"segment", segments}});
  }

  StoreHarness h_;
  ProjectSpec spec_;
  std::unique_ptr<ModelRegistry> registry_;
  ModelCache cache_;
  MetricsRegistry metrics_;
  std::unique_ptr<Predictor> predictor_;
};

TEST_F(ModelByRouterTest, EachRowIsScoredByItsSegmentsModel) {
  Register("ctr_sports", 1, 100);
  Register("ctr_news", 10, 200);
  auto p = Predict("by_segment", {"u1", "u1", "nobody"},
                   {Value::String("news"), Value::String("sports"), Value::String("news")});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->scores.size(), 3u);
  EXPECT_FLOAT_EQ(p->scores[0], 2 * 10 + 200);
  EXPECT_FLOAT_EQ(p->scores[1], 2 * 1 + 100);
  EXPECT_FLOAT_EQ(p->scores[2], 200);  // no clicks: NaN, which the linear model skips
  EXPECT_EQ(p->models, (std::vector<std::string>{"ctr_news", "ctr_sports", "ctr_news"}));
  EXPECT_EQ(p->versions, (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(p->model, "ctr_news");
  EXPECT_EQ(cache_.size(), 2u);
}

TEST_F(ModelByRouterTest, ANewVersionBehindTheAliasIsServedByTheNextRequest) {
  Register("ctr_sports", 1, 100);
  auto before = Predict("by_segment", {"u1"}, {Value::String("sports")});
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_FLOAT_EQ(before->scores[0], 102);
  int64_t v2 = Register("ctr_sports", 1, 300);
  ASSERT_TRUE(registry_->SetAlias("ctr_sports", "champion", v2).ok());
  auto after = Predict("by_segment", {"u1"}, {Value::String("sports")});
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->versions[0], v2);
  EXPECT_FLOAT_EQ(after->scores[0], 302);
}

TEST_F(ModelByRouterTest, SegmentWithoutAModelIsNotFoundNamingTheModel) {
  Register("ctr_sports", 1, 100);
  auto p = Predict("by_segment", {"u1", "u1"}, {Value::String("sports"), Value::String("golf")});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kNotFound);
  EXPECT_NE(p.status().message().find("deployment 'by_segment', row 1"), std::string::npos)
      << p.status().message();
  EXPECT_NE(p.status().message().find("no model 'ctr_golf' for context.segment 'golf'"),
            std::string::npos)
      << p.status().message();
  // Registering it makes the segment servable without a restart.
  Register("ctr_golf", 0, 7);
  auto now = Predict("by_segment", {"u1"}, {Value::String("golf")});
  ASSERT_TRUE(now.ok()) << now.status().ToString();
  EXPECT_FLOAT_EQ(now->scores[0], 7);
}

TEST_F(ModelByRouterTest, MissingAttributeValueIsABadRequestUnlessAFallbackIsDeclared) {
  Register("ctr_sports", 1, 100);
  auto missing = Predict("by_segment", {"u1"}, {Value::Null()});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("context.segment has no value"), std::string::npos)
      << missing.status().message();
  auto no_context = predictor_->Predict("by_segment", {{"user_id", {Value::String("u1")}}}, kT);
  ASSERT_FALSE(no_context.ok());
  EXPECT_EQ(no_context.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_context.status().message().find("context.segment"), std::string::npos)
      << no_context.status().message();

  // with_fallback: "ctr_{segment}_v", else ctr_default.
  auto unserved = Predict("with_fallback", {"u1"}, {Value::String("golf")});
  ASSERT_FALSE(unserved.ok());
  EXPECT_NE(unserved.status().message().find("fallback model 'ctr_default'"), std::string::npos)
      << unserved.status().message();
  Register("ctr_default", 0, 5);
  Register("ctr_sports_v", 0, 9);
  auto p = Predict("with_fallback", {"u1", "u1", "u1"},
                   {Value::String("golf"), Value::Null(), Value::String("sports")});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->models, (std::vector<std::string>{"ctr_default", "ctr_default", "ctr_sports_v"}));
  EXPECT_EQ(p->scores, (std::vector<double>{5, 5, 9}));
}

TEST_F(ModelByRouterTest, ModelOfTheWrongWidthIsAFailedPreconditionNamingIt) {
  const std::string path = h_.dir() + "/wide.json";
  std::ofstream(path) << R"({"weights":[1,2,3,4],"bias":0})";
  ASSERT_TRUE(registry_->Register("ctr_wide", path, "linear").ok());
  auto p = Predict("by_segment", {"u1"}, {Value::String("wide")});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("model ctr_wide v1"), std::string::npos)
      << p.status().message();
}

TEST_F(ModelByRouterTest, TrafficReportRefusesAModelByDeployment) {
  auto report = predictor_->router()->Describe("by_segment");
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(report.status().message().find("model_by"), std::string::npos);
}

}  // namespace
}  // namespace freshet
