#include "training/metrics.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "models/models_test_util.h"

namespace freshet {
namespace {

using testing::kPython;
using testing::RunCommand;
using testing::ScopedTempDir;

TEST(MetricsTest, RocAucHandComputed) {
  // Pairs (positive, negative): (0.35, 0.1) (0.35, 0.4)x (0.8, 0.1) (0.8, 0.4): 3 of 4 ordered.
  EXPECT_DOUBLE_EQ(*RocAuc({0, 0, 1, 1}, {0.1f, 0.4f, 0.35f, 0.8f}), 0.75);
  // A tie counts one half.
  EXPECT_DOUBLE_EQ(*RocAuc({0, 1}, {0.5f, 0.5f}), 0.5);
  EXPECT_DOUBLE_EQ(*RocAuc({0, 1, 1}, {0.2f, 0.2f, 0.9f}), 0.75);
  EXPECT_DOUBLE_EQ(*RocAuc({1, 0}, {0.9f, 0.1f}), 1.0);
  EXPECT_DOUBLE_EQ(*RocAuc({1, 0}, {0.1f, 0.9f}), 0.0);
}

TEST(MetricsTest, LogLossRmseRecallHandComputed) {
  EXPECT_NEAR(*LogLoss({1, 0}, {0.8f, 0.3f}), -(std::log(0.8) + std::log(0.7)) / 2, 1e-7);
  // Clipped at 1e-15: a confident miss costs -log(1e-15), not infinity.
  EXPECT_NEAR(*LogLoss({1}, {0.0f}), -std::log(1e-15), 1e-9);
  EXPECT_NEAR(*Rmse({1, 2, 3}, {1, 2, 5}), std::sqrt(4.0 / 3.0), 1e-12);
  // Group a: top 2 of (1, 0.9) (0, 0.8) (1, 0.1) hold 1 of 2 positives; group b: all of its 1;
  // group c has no positive and does not count.
  const std::vector<float> labels = {1, 0, 1, 0, 1, 0};
  const std::vector<float> scores = {0.9f, 0.8f, 0.1f, 0.3f, 0.2f, 0.7f};
  const std::vector<std::string> groups = {"a", "a", "a", "b", "b", "c"};
  EXPECT_DOUBLE_EQ(*RecallAtK(labels, scores, groups, 2), 0.75);
  // One group: the top 2 (0.9, 0.8) hold 1 of 3 positives.
  EXPECT_DOUBLE_EQ(*RecallAtK(labels, scores, {}, 2), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(*ComputeMetric("recall@2", labels, scores, groups), 0.75);
}

TEST(MetricsTest, RefusesWhatIsUndefined) {
  EXPECT_EQ(RocAuc({1, 1}, {0.2f, 0.3f}).status().message(), "auc: the labels hold one class only");
  EXPECT_EQ(Rmse({1}, {1, 2}).status().message(), "rmse: 1 labels but 2 predictions");
  EXPECT_EQ(LogLoss({}, {}).status().message(), "logloss: no rows");
  EXPECT_EQ(RecallAtK({0, 0}, {0.1f, 0.2f}, {}, 1).status().message(),
            "recall@1: no group has a positive label");
  EXPECT_EQ(ComputeMetric("f1", {1}, {1}, {}).status().message(),
            "unknown metric 'f1' (use auc, logloss, rmse, recall@K)");
}

// The same metrics as scikit-learn on random data with ties.
TEST(MetricsTest, MatchesScikitLearn) {
  ScopedTempDir dir("metrics_test");
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> coin(0, 1);
  std::uniform_int_distribution<int> score_step(1, 19);  // few distinct scores: ties
  std::vector<float> labels, scores, targets, predictions;
  std::ofstream out(dir.File("data.csv"));
  for (int i = 0; i < 500; ++i) {
    labels.push_back(static_cast<float>(coin(rng)));
    scores.push_back(static_cast<float>(score_step(rng)) / 20.0f);
    targets.push_back(static_cast<float>(score_step(rng)) * 1.5f);
    predictions.push_back(static_cast<float>(score_step(rng)) * 1.25f);
    out << fmt::format("{},{},{},{}\n", labels.back(), scores.back(), targets.back(),
                       predictions.back());
  }
  out.close();
  const std::string script = fmt::format(
      "import numpy as np\n"
      "from sklearn import metrics\n"
      "d = np.loadtxt('{0}/data.csv', delimiter=',', dtype=np.float32).astype(np.float64)\n"
      "y, s, t, p = d[:, 0], d[:, 1], d[:, 2], d[:, 3]\n"
      "with open('{0}/out.csv', 'w') as f:\n"
      "    f.write('%.17g,%.17g,%.17g\\n' % (metrics.roc_auc_score(y, s), metrics.log_loss(y, s),\n"
      "            metrics.mean_squared_error(t, p, squared=False)))\n",
      dir.path());
  std::ofstream(dir.File("metrics.py")) << script;
  ASSERT_TRUE(RunCommand(fmt::format("{} {}", kPython, dir.File("metrics.py")), dir));
  std::ifstream in(dir.File("out.csv"));
  double auc = 0, logloss = 0, rmse = 0;
  char comma = 0;
  ASSERT_TRUE(in >> auc >> comma >> logloss >> comma >> rmse);
  EXPECT_NEAR(*RocAuc(labels, scores), auc, 1e-12);
  EXPECT_NEAR(*LogLoss(labels, scores), logloss, 1e-12);
  EXPECT_NEAR(*Rmse(targets, predictions), rmse, 1e-12);
}

}  // namespace
}  // namespace freshet
