// Predictor over a real engine, RocksDB and model registry: the input row is built in the
// feature service's order (null -> NaN), the alias decides the version, and what a caller gets
// for a missing entity key, an unknown deployment, no model, or a model of the wrong width.
#include "serving/predictor.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "models/models_test_util.h"
#include "serving/merged_predict.h"
#include "spec/spec_loader.h"
#include "store/store_test_util.h"

namespace freshet {
namespace {

using testing::kMinute;
using testing::kT;
using testing::StoreHarness;

// The store harness's project plus a deployment of `ranker` behind the `scoring` service.
constexpr const char* kDeploymentYaml = R"yaml(
models:
  ranker: {runtime: linear}
deployments:
  rank: {model: ranker, features: scoring}
  rank_batched: {model: ranker, features: scoring, batching: {max_batch: 8, max_delay_us: 1000}}
)yaml";

class PredictorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spec = ParseProject(std::string(testing::kStoreSpec) + kDeploymentYaml, "freshet.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    spec_ = *spec;
    ASSERT_EQ(spec_.deployments.count("rank"), 1u);
    auto registry = ModelRegistry::Open(h_.db(), h_.dir(), h_.clock());
    ASSERT_TRUE(registry.ok()) << registry.status().ToString();
    registry_ = std::move(*registry);
    predictor_ =
        std::make_unique<Predictor>(&spec_, h_.store(), registry_.get(), &cache_, &metrics_);
  }

  // Registers a linear model with these weights as the next version of `ranker`.
  int64_t RegisterLinear(const std::string& weights, double bias) {
    const std::string path = h_.dir() + "/linear.json";
    std::ofstream(path) << R"({"weights":[)" << weights << R"(],"bias":)" << bias << "}";
    auto v = registry_->Register("ranker", path, "linear");
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? v->version : 0;
  }

  static EntityColumns Users(const std::vector<std::string>& ids) {
    EntityColumns columns;
    for (const std::string& id : ids) columns["user_id"].push_back(Value::String(id));
    return columns;
  }

  StoreHarness h_;
  ProjectSpec spec_;
  std::unique_ptr<ModelRegistry> registry_;
  ModelCache cache_;
  MetricsRegistry metrics_;
  std::unique_ptr<Predictor> predictor_;
};

TEST_F(PredictorTest, ScoresTheServiceFeaturesInServiceOrder) {
  // scoring = [activity:clicks_10m, lifetime:total, activity:amount_1h]
  RegisterLinear("1, 10, 100", 0.5);
  h_.Click("u1", kT - kMinute, 3.0);
  h_.Click("u1", kT - kMinute + 1, 5.0);
  auto p = predictor_->Predict("rank", Users({"u1"}), kT);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->scores.size(), 1u);
  EXPECT_FLOAT_EQ(p->scores[0], 2 * 1 + 2 * 10 + 8 * 100 + 0.5);
  EXPECT_EQ(p->model, "ranker");
  EXPECT_EQ(p->version, 1);
  ASSERT_EQ(p->features.features.size(), 3u);
  EXPECT_EQ(p->features.features[1].ToString(), "lifetime:total");
}

TEST_F(PredictorTest, OneScorePerEntityAndNullFeaturesAreMissing) {
  RegisterLinear("1, 10, 100", 0.5);
  h_.Click("u1", kT - kMinute, 3.0);
  h_.Click("stale", kT - 3 * 60 * kMinute, 9.0);  // past activity's 1h ttl: activity is null
  auto p = predictor_->Predict("rank", Users({"u1", "nobody", "stale"}), kT);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->scores.size(), 3u);
  EXPECT_FLOAT_EQ(p->scores[0], 1 + 10 + 300 + 0.5);
  EXPECT_EQ(p->features.statuses[0][1], ReadStatus::kNotFound);
  EXPECT_EQ(p->features.statuses[0][2], ReadStatus::kOutsideMaxAge);
  // stale: only lifetime:total (1) counts; the null activity features are NaN, which the
  // linear model skips.
  EXPECT_FLOAT_EQ(p->scores[2], 10 + 0.5);
}

TEST_F(PredictorTest, AsOfMovesTheReadTime) {
  RegisterLinear("1, 0, 0", 0);
  h_.Click("u1", kT - kMinute, 3.0);
  auto now = predictor_->Predict("rank", Users({"u1"}), kT);
  auto later = predictor_->Predict("rank", Users({"u1"}), kT + 30 * kMinute);
  ASSERT_TRUE(now.ok() && later.ok());
  EXPECT_FLOAT_EQ(now->scores[0], 1);
  EXPECT_FLOAT_EQ(later->scores[0], 0);  // the 10m window emptied
}

TEST_F(PredictorTest, FollowsTheAliasToANewVersion) {
  RegisterLinear("0, 0, 0", 1);
  int64_t v2 = RegisterLinear("0, 0, 0", 2);
  auto before = predictor_->Predict("rank", Users({"u1"}), kT);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(before->version, 1);  // champion stays on version 1
  EXPECT_FLOAT_EQ(before->scores[0], 1);
  ASSERT_TRUE(registry_->SetAlias("ranker", "champion", v2).ok());
  auto after = predictor_->Predict("rank", Users({"u1"}), kT);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->version, 2);
  EXPECT_FLOAT_EQ(after->scores[0], 2);
  // The registry caches the alias; a rollback is still seen by the very next request.
  ASSERT_TRUE(registry_->Rollback("ranker").ok());
  auto rolled_back = predictor_->Predict("rank", Users({"u1"}), kT);
  ASSERT_TRUE(rolled_back.ok()) << rolled_back.status().ToString();
  EXPECT_EQ(rolled_back->version, 1);
  EXPECT_FLOAT_EQ(rolled_back->scores[0], 1);
}

TEST_F(PredictorTest, MissingEntityKeyIsABadRequestNamingTheKey) {
  RegisterLinear("1, 10, 100", 0.5);
  EntityColumns wrong;
  wrong["account"] = {Value::String("u1")};
  auto p = predictor_->Predict("rank", wrong, kT);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("missing key 'user_id'"), std::string::npos)
      << p.status().message();
}

TEST_F(PredictorTest, UnknownDeploymentAndUnregisteredModelAreNotFound) {
  auto unknown = predictor_->Predict("nope", Users({"u1"}), kT);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("'nope'"), std::string::npos);

  auto no_model = predictor_->Predict("rank", Users({"u1"}), kT);
  ASSERT_FALSE(no_model.ok());
  EXPECT_EQ(no_model.status().code(), StatusCode::kNotFound);
  EXPECT_NE(no_model.status().message().find("ranker"), std::string::npos)
      << no_model.status().message();
}

// Bug: a model whose input width differs from its deployment's feature service answered
// kInvalidArgument (HTTP 400, "xgboost model expects 20 features, got 3"), blaming a request
// the caller cannot fix; it is the deployment that is misconfigured.
TEST_F(PredictorTest, ModelOfTheWrongWidthIsAFailedPreconditionNamingTheDeployment) {
  const testing::PythonModels* models = testing::TrainedModels();  // 20 features, python3-xgboost
  ASSERT_NE(models, nullptr);
  auto v = registry_->Register("ranker", models->tree_json, "xgboost");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  auto p = predictor_->Predict("rank", Users({"u1"}), kT);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kFailedPrecondition) << p.status().ToString();
  EXPECT_NE(p.status().message().find("deployment 'rank'"), std::string::npos)
      << p.status().message();
  EXPECT_NE(p.status().message().find("20"), std::string::npos) << p.status().message();
  EXPECT_NE(p.status().message().find("'scoring'"), std::string::npos) << p.status().message();
}

TEST_F(PredictorTest, ContextValuesReplaceTheStoresReads) {
  RegisterLinear("1, 10, 100", 0.5);
  PredictContext context{{"activity:clicks_10m", {Value::Int(4), Value::Int(5)}},
                         {"total", {Value::Int(1), Value::Int(2)}}};
  auto p = predictor_->Predict("rank", Users({"nobody", "u2"}), kT, context);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_FLOAT_EQ(p->scores[0], 4 + 10 + 0.5);
  EXPECT_FLOAT_EQ(p->scores[1], 5 + 20 + 0.5);
  EXPECT_EQ(p->features.statuses[0][0], ReadStatus::kPresent);
  EXPECT_EQ(p->features.statuses[2][0], ReadStatus::kNotFound);  // amount_1h: not given

  auto unknown = predictor_->Predict("rank", Users({"u1"}), kT, {{"nope", {Value::Int(1)}}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("context.nope"), std::string::npos);
}

// Concurrent calls of a batching deployment get the same scores as the unbatched one.
TEST_F(PredictorTest, BatchedDeploymentScoresLikeTheUnbatchedOne) {
  RegisterLinear("1, 10, 100", 0.5);
  for (int i = 0; i < 8; ++i) h_.Click("u" + std::to_string(i), kT - kMinute, i);
  std::vector<float> batched(8), unbatched(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto p = predictor_->Predict("rank_batched", Users({"u" + std::to_string(i)}), kT);
      batched[i] = p.ok() ? static_cast<float>(p->scores.at(0)) : -1;
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    auto p = predictor_->Predict("rank", Users({"u" + std::to_string(i)}), kT);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_FLOAT_EQ(batched[i], p->scores[0]) << i;
    EXPECT_FLOAT_EQ(batched[i], 1 + 10 + 100 * i + 0.5) << i;
  }
}

// MergePredictCalls (serving/merged_predict.h) answers each call as Predict would alone, with
// fewer model calls.
class MergedPredictTest : public PredictorTest {
 protected:
  // Model calls of `ranker` v1 through deployment `rank` so far.
  double ModelCalls() const {
    const std::string series =
        R"(freshet_model_requests_total{deployment="rank",model="ranker",version="1",role="served"} )";
    const std::string text = metrics_.Render();
    size_t at = text.find(series);
    return at == std::string::npos ? 0 : std::stod(text.substr(at + series.size()));
  }

  PredictCall Call(const EntityColumns* entities, const PredictContext* context,
                   std::optional<int64_t> as_of = kT) const {
    return {&rank_, entities, as_of, context, 1};
  }

  const std::string rank_ = "rank";
  const PredictContext no_context_;
};

TEST_F(MergedPredictTest, MergedCallsAnswerAsTheyWouldAlone) {
  RegisterLinear("1, 10, 100", 0.5);
  h_.Click("u1", kT - kMinute, 3.0);
  h_.Click("u2", kT - kMinute, 7.0);
  h_.Click("stale", kT - 3 * 60 * kMinute, 9.0);
  const EntityColumns one = Users({"u1"}), two = Users({"nobody", "stale"}), three = Users({"u2"});
  const PredictContext context{{"total", {Value::Int(4)}}};
  const std::vector<PredictCall> calls = {
      Call(&one, &no_context_), Call(&two, &no_context_), Call(&three, &context),
      Call(&one, &no_context_, kT + 30 * kMinute), Call(&three, &no_context_)};
  std::vector<Result<Prediction>> alone;
  for (const PredictCall& c : calls) {
    alone.push_back(predictor_->Predict(rank_, *c.entities, c.as_of_ms, *c.context));
  }
  const double calls_before = ModelCalls();
  std::vector<Result<PredictionRows>> merged = MergePredictCalls(predictor_.get(), calls);
  // Calls 0, 1 and 4 share one model call; 2 (other context fields) and 3 (other as_of) run on
  // their own.
  EXPECT_EQ(ModelCalls() - calls_before, 3);
  ASSERT_EQ(merged.size(), calls.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    ASSERT_TRUE(alone[i].ok() && merged[i].ok()) << i;
    const PredictionRows& m = *merged[i];
    const size_t rows = calls[i].entities->at("user_id").size();
    ASSERT_EQ(m.count, rows) << i;
    EXPECT_EQ(std::vector<double>(m.scores().begin(), m.scores().end()), alone[i]->scores) << i;
    EXPECT_EQ(std::vector<int64_t>(m.versions().begin(), m.versions().end()), alone[i]->versions)
        << i;
    EXPECT_EQ(m.version(), 1) << i;
    EXPECT_EQ(m.model(), "ranker") << i;
    for (size_t c = 0; c < alone[i]->features.features.size(); ++c) {
      for (size_t r = 0; r < rows; ++r) {
        EXPECT_EQ(m.status(c, r), alone[i]->features.statuses[c][r]) << i << " " << c << " " << r;
      }
    }
  }
  EXPECT_EQ(merged[1]->status(0, 1), ReadStatus::kOutsideMaxAge);
  EXPECT_FLOAT_EQ(merged[4]->scores()[0], 1 + 10 + 700 + 0.5);
  EXPECT_EQ(merged[0]->all, merged[4]->all);  // one shared prediction
}

TEST_F(MergedPredictTest, AFailingCallKeepsItsOwnErrorAndTheOthersTheirAnswers) {
  RegisterLinear("1, 10, 100", 0.5);
  h_.Click("u1", kT - kMinute, 3.0);
  const EntityColumns good = Users({"u1"});
  EntityColumns bad;  // user_id is a string key: a number is refused, naming the row
  bad["user_id"] = {Value::String("u1"), Value::Int(7)};
  const PredictContext short_context{{"total", {Value::Int(1)}}};  // 1 value for 2 rows
  const EntityColumns two = Users({"u1", "u2"});
  const std::vector<PredictCall> calls = {Call(&good, &no_context_), Call(&bad, &no_context_),
                                          Call(&good, &no_context_), Call(&two, &short_context)};
  std::vector<Result<PredictionRows>> merged = MergePredictCalls(predictor_.get(), calls);
  ASSERT_EQ(merged.size(), 4u);
  ASSERT_TRUE(merged[0].ok()) << merged[0].status().ToString();
  ASSERT_TRUE(merged[2].ok()) << merged[2].status().ToString();
  EXPECT_FLOAT_EQ(merged[0]->scores()[0], 1 + 10 + 300 + 0.5);
  EXPECT_FLOAT_EQ(merged[2]->scores()[0], 1 + 10 + 300 + 0.5);
  ASSERT_FALSE(merged[1].ok());
  EXPECT_EQ(merged[1].status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(merged[1].status().message().find("user_id[1]"), std::string::npos)
      << merged[1].status().message();  // its own row, not the merged call's
  ASSERT_FALSE(merged[3].ok());
  EXPECT_NE(merged[3].status().message().find("context.total: 1 values for 2"), std::string::npos)
      << merged[3].status().message();
}

TEST_F(MergedPredictTest, AMergedCallHoldsAtMostMaxRows) {
  RegisterLinear("1, 10, 100", 0.5);
  std::vector<EntityColumns> users;
  for (int i = 0; i < 5; ++i) {
    h_.Click("u" + std::to_string(i), kT - kMinute, i);
    users.push_back(Users({"u" + std::to_string(i)}));
  }
  std::vector<PredictCall> calls;
  for (const EntityColumns& u : users) calls.push_back(Call(&u, &no_context_));
  const double calls_before = ModelCalls();
  std::vector<Result<PredictionRows>> merged = MergePredictCalls(predictor_.get(), calls, 2);
  EXPECT_EQ(ModelCalls() - calls_before, 3);  // 2 + 2 + 1 rows
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(merged[i].ok()) << merged[i].status().ToString();
    EXPECT_FLOAT_EQ(merged[i]->scores()[0], 1 + 10 + 100 * i + 0.5) << i;
  }
}

}  // namespace
}  // namespace freshet
