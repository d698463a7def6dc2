#include "training/tuner.h"

#include <gtest/gtest.h>

#include <cmath>

namespace freshet {
namespace {

std::vector<ParamRangeSpec> Space() {
  ParamRangeSpec eta{.param = "eta", .low = 0.001, .high = 1.0, .log = true};
  ParamRangeSpec depth{.param = "max_depth", .low = 2, .high = 8, .integer = true};
  ParamRangeSpec booster{.param = "grow_policy", .choices = {"depthwise", "lossguide"}};
  return {eta, depth, booster};
}

// A score peaking at eta = 0.02 (in log space), depth 6 and lossguide.
double Score(const std::map<std::string, std::string>& p) {
  const double eta = std::stod(p.at("eta"));
  const double depth = std::stod(p.at("max_depth"));
  return -std::pow(std::log(eta / 0.02), 2) - 0.1 * std::pow(depth - 6, 2) -
         (p.at("grow_policy") == "lossguide" ? 0 : 1);
}

std::vector<Trial> RunTrials(const std::string& method, uint64_t seed, int trials) {
  Tuner tuner(Space(), method, /*higher_is_better=*/true, seed, /*startup_trials=*/8);
  for (int i = 0; i < trials; ++i) {
    std::map<std::string, std::string> params = tuner.Suggest();
    const double score = Score(params);
    tuner.Record(params, {{"auc", score}}, score);
  }
  return tuner.trials();
}

TEST(TunerTest, DrawsWithinTheSpaceAndIsDeterministic) {
  const std::vector<Trial> trials = RunTrials("random", 42, 50);
  ASSERT_EQ(trials.size(), 50u);
  double log_eta_sum = 0;
  for (const Trial& t : trials) {
    const double eta = std::stod(t.params.at("eta"));
    EXPECT_GE(eta, 0.001);
    EXPECT_LE(eta, 1.0);
    log_eta_sum += std::log10(eta);
    const std::string& depth = t.params.at("max_depth");
    EXPECT_EQ(depth.find('.'), std::string::npos) << depth;
    EXPECT_GE(std::stoi(depth), 2);
    EXPECT_LE(std::stoi(depth), 8);
    EXPECT_TRUE(t.params.at("grow_policy") == "depthwise" ||
                t.params.at("grow_policy") == "lossguide");
  }
  // Log-uniform over [1e-3, 1]: the mean of log10(eta) is near -1.5 (uniform would give ~-0.3).
  EXPECT_NEAR(log_eta_sum / 50, -1.5, 0.35);
  const std::vector<Trial> again = RunTrials("random", 42, 50);
  for (size_t i = 0; i < trials.size(); ++i) EXPECT_EQ(trials[i].params, again[i].params);
  EXPECT_NE(RunTrials("random", 43, 1)[0].params, trials[0].params);
}

TEST(TunerTest, TpeSamplesNearTheGoodTrials) {
  const std::vector<Trial> tpe = RunTrials("tpe", 1, 40);
  const std::vector<Trial> random = RunTrials("random", 1, 40);
  // The same seed draws the same start-up trials; afterwards TPE scores better on average.
  for (int i = 0; i < 8; ++i) EXPECT_EQ(tpe[i].params, random[i].params);
  auto late_mean = [](const std::vector<Trial>& trials) {
    double sum = 0;
    for (size_t i = 20; i < trials.size(); ++i) sum += trials[i].score;
    return sum / static_cast<double>(trials.size() - 20);
  };
  EXPECT_GT(late_mean(tpe), late_mean(random) + 1.0);
  const std::vector<Trial> again = RunTrials("tpe", 1, 40);
  for (size_t i = 0; i < tpe.size(); ++i) EXPECT_EQ(tpe[i].params, again[i].params);
}

TEST(TunerTest, BestFollowsTheMetricDirection) {
  Tuner lower({ParamRangeSpec{.param = "eta", .low = 0.1, .high = 0.2}}, "random", false, 0, 2);
  lower.Suggest();
  lower.Record({{"eta", "0.1"}}, {{"logloss", 0.5}}, 0.5);
  lower.Suggest();
  lower.Record({{"eta", "0.2"}}, {{"logloss", 0.3}}, 0.3);
  lower.Suggest();
  lower.Record({{"eta", "0.15"}}, {{"logloss", 0.3}}, 0.3);
  EXPECT_EQ(lower.best()->number, 2);
}

}  // namespace
}  // namespace freshet
