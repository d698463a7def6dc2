#include "training/training_run.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <fstream>
#include <random>

#include "core/clock.h"
#include "models/artifact_file.h"
#include "models/models_test_util.h"
#include "models/xgboost_runtime.h"
#include "serving/model_signature.h"
#include "spec/spec_loader.h"
#include "storage/db.h"
#include "training/training_set.h"

namespace freshet {
namespace {

using testing::kPython;
using testing::ReadCsvFloats;
using testing::RunCommand;
using testing::ScopedTempDir;
using testing::WriteFile;

constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kHour = 3'600'000;
constexpr int kUsers = 400;

// A shop whose users are "big spenders" (label `big`) when they spent over 150 in the day
// before the label time, with 10% of the labels flipped; `coin` is noise.
constexpr char kSpec[] = R"yaml(project: shop
entities:
  user: {key: user_id}
sources:
  purchases:
    kind: http
    timestamp: ts_ms
    fields: {user_id: string, amount: double, coin: double}
feature_views:
  spend:
    entity: user
    source: purchases
    features:
      amount_1d: {agg: sum, of: amount, window: 1d}
      purchases_1d: {agg: count, window: 1d}
      coin_last: {agg: last, of: coin}
feature_services:
  spend_inputs: [spend:amount_1d, spend:purchases_1d]
  noise_inputs: [spend:coin_last]
models:
  big_spender:
    runtime: xgboost
    train:
      features: spend_inputs
      label: big
      rounds: 20
      params: {max_depth: 3, eta: 0.3}
      holdout: 0.25
      metrics: [auc, logloss, recall@10]
    tune:
      trials: 6
      method: tpe
      validation: 0.25
      space:
        eta: {low: 0.02, high: 0.5, log: true}
        max_depth: {low: 2, high: 5, int: true}
)yaml";

class TrainingRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_.File("freshet.yaml"), kSpec);
    std::mt19937 rng(11);
    std::uniform_int_distribution<int> purchases(0, 6);
    std::uniform_real_distribution<double> amount(1, 100), unit(0, 1);
    std::vector<std::pair<int64_t, std::string>> events;
    std::string labels = "user_id,ts_ms,big\n";
    for (int u = 0; u < kUsers; ++u) {
      const int64_t label_ts = kT0 + u * 2 * kHour;
      double spent = 0;
      for (int p = purchases(rng); p > 0; --p) {
        const auto ts = label_ts - 1 - static_cast<int64_t>(unit(rng) * 23 * kHour);
        const double a = amount(rng);
        spent += a;
        events.emplace_back(
            ts, fmt::format(R"({{"user_id":"u{}","ts_ms":{},"amount":{},"coin":{}}})", u, ts, a,
                            unit(rng)));
      }
      const bool big = (spent > 150) != (unit(rng) < 0.1);
      labels_.push_back(big ? 1 : 0);
      labels += fmt::format("u{},{},{}\n", u, label_ts, big ? 1 : 0);
    }
    std::sort(events.begin(), events.end());
    std::string text;
    for (const auto& [ts, line] : events) text += line + "\n";
    WriteFile(dir_.File("events.ndjson"), text);
    WriteFile(dir_.File("labels.csv"), labels);
    Result<ProjectSpec> spec = LoadProject(dir_.path());
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    spec_ = std::move(*spec);
    auto db = Db::Open(dir_.File("db"));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto registry = ModelRegistry::Open(db_.get(), dir_.File("data"), SystemClock::Default());
    ASSERT_TRUE(registry.ok()) << registry.status().ToString();
    registry_ = std::move(*registry);
  }

  TrainOptions Options(const std::string& run) const {
    TrainOptions o;
    o.labels_path = dir_.File("labels.csv");
    o.out_dir = dir_.File(run);
    o.event_files = {dir_.File("events.ndjson")};
    o.source = "purchases";
    o.seed = 7;
    o.threads = 1;
    return o;
  }

  // Trains and registers; the version, or a test failure.
  ModelVersion TrainAndRegister(const TrainOptions& options, TrainResult* result) {
    Result<TrainResult> trained = RunTraining(spec_, "big_spender", options);
    EXPECT_TRUE(trained.ok()) << trained.status().ToString();
    if (!trained.ok()) return {};
    *result = std::move(*trained);
    RegisterOptions base;
    EXPECT_TRUE(BindFeatureService(spec_, result->feature_service, &base).ok());
    Result<ModelVersion> version = RegisterTrained(registry_.get(), "big_spender", *result, base);
    EXPECT_TRUE(version.ok()) << version.status().ToString();
    return version.ok() ? *version : ModelVersion{};
  }

  ScopedTempDir dir_{"training_run_test"};
  std::vector<int> labels_;
  ProjectSpec spec_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<ModelRegistry> registry_;
};

TEST_F(TrainingRunTest, TrainsEvaluatesOnTheLatestRowsAndRegistersWithLineage) {
  TrainResult result;
  const ModelVersion v = TrainAndRegister(Options("run1"), &result);
  ASSERT_EQ(v.version, 1);
  EXPECT_EQ(result.backfill.labels, static_cast<uint64_t>(kUsers));
  EXPECT_EQ(result.holdout_rows, static_cast<size_t>(kUsers / 4));
  EXPECT_EQ(result.train_rows + result.holdout_rows, static_cast<size_t>(kUsers));
  EXPECT_GT(v.metrics.at("auc"), 0.8);
  EXPECT_LT(v.metrics.at("logloss"), 0.5);
  EXPECT_GT(v.metrics.at("recall@10"), 0.0);
  EXPECT_EQ(v.params.at("eta"), "0.3");
  EXPECT_EQ(v.params.at("max_depth"), "3");
  EXPECT_EQ(v.params.at("num_boost_round"), "20");
  EXPECT_EQ(v.params.at("objective"), "binary:logistic");
  EXPECT_EQ(v.params.at("seed"), "7");
  EXPECT_EQ(v.lineage.training_data, result.training_set_path);
  EXPECT_EQ(v.lineage.training_data_sha256, *Sha256File(result.training_set_path));
  EXPECT_EQ(v.lineage.holdout, result.holdout_path);
  EXPECT_EQ(v.lineage.holdout_sha256, *Sha256File(result.holdout_path));
  EXPECT_EQ(v.lineage.feature_service, "spend_inputs");
  EXPECT_EQ(v.lineage.feature_spec_hash, *FeatureSpecHash(spec_, "spend_inputs"));
  EXPECT_EQ(v.lineage.runtime_library.rfind("xgboost 1.", 0), 0u) << v.lineage.runtime_library;
  ASSERT_EQ(v.signature.size(), 2u);
  EXPECT_EQ(v.signature[0].name, "spend:amount_1d");
  EXPECT_EQ(v.num_features, 2);

  // Never trained on the future: every training row is earlier than every holdout row.
  Result<TrainingSet> set = ReadTrainingSet(result.training_set_path,
                                            {{"amount_1d", "purchases_1d"}, "big", "ts_ms", ""});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  size_t earlier = 0;
  for (int64_t ts : set->ts_ms) earlier += ts < result.holdout_from_ms ? 1 : 0;
  EXPECT_EQ(earlier, result.train_rows);
  std::ifstream holdout(result.holdout_path);
  std::string line;
  std::getline(holdout, line);
  EXPECT_EQ(line, "user_id,ts_ms,big");
  size_t holdout_rows = 0;
  while (std::getline(holdout, line)) {
    const size_t comma = line.find(',');
    EXPECT_GE(std::stoll(line.substr(comma + 1)), result.holdout_from_ms) << line;
    ++holdout_rows;
  }
  EXPECT_EQ(holdout_rows, result.holdout_rows);
  EXPECT_EQ(result.holdout_from_ms, kT0 + 300 * 2 * kHour);
}

// The registered artifact predicts the same through freshet's runtime as through Python XGBoost.
TEST_F(TrainingRunTest, RuntimePredictionsEqualPythonXgboost) {
  TrainResult result;
  const ModelVersion v = TrainAndRegister(Options("run1"), &result);
  Result<TrainingSet> set = ReadTrainingSet(result.training_set_path,
                                            {{"amount_1d", "purchases_1d"}, "big", "ts_ms", ""});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  std::string rows;
  for (size_t r = 0; r < set->rows(); ++r) {
    rows += fmt::format("{:.9g},{:.9g}\n", set->x[2 * r], set->x[2 * r + 1]);
  }
  WriteFile(dir_.File("rows.csv"), rows);
  WriteFile(dir_.File("predict.py"),
            fmt::format("import numpy as np\nimport xgboost as xgb\n"
                        "x = np.loadtxt('{0}/rows.csv', delimiter=',', dtype=np.float32, ndmin=2)\n"
                        "b = xgb.Booster(model_file='{1}')\n"
                        "p = b.predict(xgb.DMatrix(x, missing=np.nan))\n"
                        "np.savetxt('{0}/python.csv', p.reshape(-1, 1), fmt='%.9g')\n",
                        dir_.path(), v.artifact_path));
  ASSERT_TRUE(RunCommand(fmt::format("{} {}", kPython, dir_.File("predict.py")), dir_));
  std::vector<float> expected;
  ASSERT_TRUE(ReadCsvFloats(dir_.File("python.csv"), 1, set->rows(), &expected));
  XgboostRuntime runtime;
  ASSERT_TRUE(runtime.Load(v.artifact_path).ok());
  std::vector<float> actual;
  ASSERT_TRUE(runtime.Predict(set->x.data(), set->rows(), 2, &actual).ok());
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-6) << i;
}

TEST_F(TrainingRunTest, ShuffledLabelsScoreNearChance) {
  std::vector<int> shuffled = labels_;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(5));
  std::string text = "user_id,ts_ms,big\n";
  for (int u = 0; u < kUsers; ++u) {
    text += fmt::format("u{},{},{}\n", u, kT0 + u * 2 * kHour, shuffled[u]);
  }
  WriteFile(dir_.File("shuffled.csv"), text);
  TrainOptions options = Options("shuffled");
  options.labels_path = dir_.File("shuffled.csv");
  Result<TrainResult> result = RunTraining(spec_, "big_spender", options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_NEAR(result->metrics.at("auc"), 0.5, 0.12);
}

TEST_F(TrainingRunTest, TuneKeepsEveryTrialAndRegistersTheBest) {
  TrainOptions options = Options("tuned");
  options.tune = true;
  TrainResult result;
  const ModelVersion v = TrainAndRegister(options, &result);
  ASSERT_EQ(result.trials.size(), 6u);
  const Trial& best = result.trials.at(result.best_trial - 1);
  for (const Trial& t : result.trials) {
    EXPECT_GE(best.metrics.at("auc"), t.metrics.at("auc"));
    EXPECT_EQ(t.metrics.size(), 3u);
  }
  EXPECT_EQ(v.params.at("eta"), best.params.at("eta"));
  EXPECT_EQ(v.params.at("max_depth"), best.params.at("max_depth"));
  EXPECT_EQ(v.tags.at("trials"), result.trials_path);
  // trials.json lists every trial with its parameters and validation metrics.
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.load(result.trials_path).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(doc["best"].get_int64().value(), result.best_trial);
  EXPECT_EQ(std::string_view(doc["metric"].get_string().value()), "auc");
  simdjson::dom::array trials = doc["trials"].get_array().value();
  ASSERT_EQ(trials.size(), 6u);
  size_t i = 0;
  for (simdjson::dom::element t : trials) {
    EXPECT_EQ(std::string(t["params"]["eta"].get_string().value()),
              result.trials[i].params.at("eta"));
    EXPECT_DOUBLE_EQ(t["metrics"]["auc"].get_double().value(), result.trials[i].metrics.at("auc"));
    ++i;
  }
  // The same seed tunes the same way.
  options.out_dir = dir_.File("tuned_again");
  Result<TrainResult> again = RunTraining(spec_, "big_spender", options);
  ASSERT_TRUE(again.ok());
  for (size_t t = 0; t < 6; ++t) EXPECT_EQ(again->trials[t].params, result.trials[t].params);
  EXPECT_EQ(*Sha256File(again->model_path), v.content_hash);
}

TEST_F(TrainingRunTest, PromoteRefusesAWorseCandidateOnTheSameHoldout) {
  TrainResult good;
  const ModelVersion champion = TrainAndRegister(Options("good"), &good);
  TrainOptions noise_options = Options("noise");
  noise_options.feature_service = "noise_inputs";
  TrainResult noise;
  const ModelVersion candidate = TrainAndRegister(noise_options, &noise);
  ASSERT_EQ(candidate.version, 2);
  // Different features, same labels and split: the same holdout.
  EXPECT_EQ(candidate.lineage.holdout_sha256, champion.lineage.holdout_sha256);
  EXPECT_LT(candidate.metrics.at("auc"), champion.metrics.at("auc"));
  Result<PromoteResult> promoted =
      registry_->Promote("big_spender", candidate.version, {.metric = "auc"});
  ASSERT_FALSE(promoted.ok());
  EXPECT_EQ(promoted.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(registry_->Resolve("big_spender", "champion")->version, champion.version);
  // Retrained with the same seed: the same model, byte for byte.
  TrainResult again;
  const ModelVersion v3 = TrainAndRegister(Options("good_again"), &again);
  EXPECT_EQ(v3.content_hash, champion.content_hash);
}

TEST_F(TrainingRunTest, RefusesModelsWithoutTrainingSpec) {
  ProjectSpec spec = spec_;
  spec.models.at("big_spender").tune.reset();
  TrainOptions options = Options("x");
  options.tune = true;
  EXPECT_EQ(RunTraining(spec, "big_spender", options).status().message(),
            fmt::format("{}:{}: model 'big_spender' has no tune: block (trials, method, space)",
                        spec.spec_path, spec.models.at("big_spender").line));
  EXPECT_EQ(RunTraining(spec, "nope", Options("x")).status().message(),
            fmt::format("unknown model 'nope' in {}", spec.spec_path));
}

}  // namespace
}  // namespace freshet
