#include "models/linear_runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "models/models_test_util.h"

namespace freshet {
namespace {

using testing::ScopedTempDir;
using testing::WriteFile;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

Result<std::unique_ptr<ModelRuntime>> LoadLinear(const ScopedTempDir& dir, std::string_view json) {
  WriteFile(dir.File("model.json"), json);
  return LoadRuntime("linear", dir.File("model.json"));
}

TEST(LinearRuntimeTest, IdentityLinkScoresRowsAndSkipsMissingValues) {
  ScopedTempDir dir("linear_identity");
  auto runtime =
      LoadLinear(dir, R"({"weights": [1.0, 2.0, -1.0], "bias": 0.5, "link": "identity"})");
  ASSERT_TRUE(runtime.ok()) << runtime.status().ToString();
  EXPECT_EQ((*runtime)->name(), "linear");
  EXPECT_EQ((*runtime)->num_features(), 3);
  std::vector<float> rows = {1, 1,    1,  //
                             0, kNaN, 4};
  std::vector<float> out;
  ASSERT_TRUE((*runtime)->Predict(rows.data(), 2, 3, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FLOAT_EQ(out[0], 2.5f);   // 0.5 + 1 + 2 - 1
  EXPECT_FLOAT_EQ(out[1], -3.5f);  // 0.5 + 0 + (missing) - 4
}

TEST(LinearRuntimeTest, LogisticLinkAndDefaults) {
  ScopedTempDir dir("linear_logistic");
  auto logistic = LoadLinear(dir, R"({"weights": [2], "bias": -1, "link": "logistic"})");
  ASSERT_TRUE(logistic.ok()) << logistic.status().ToString();
  std::vector<float> row = {0.5f};
  std::vector<float> out;
  ASSERT_TRUE((*logistic)->Predict(row.data(), 1, 1, &out).ok());
  EXPECT_FLOAT_EQ(out[0], 0.5f);  // sigmoid(2 * 0.5 - 1)
  row = {2.0f};
  ASSERT_TRUE((*logistic)->Predict(row.data(), 1, 1, &out).ok());
  EXPECT_NEAR(out[0], 1.0 / (1.0 + std::exp(-3.0)), 1e-7);

  auto defaults = LoadLinear(dir, R"({"weights": [3]})");
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  ASSERT_TRUE((*defaults)->Predict(row.data(), 1, 1, &out).ok());
  EXPECT_FLOAT_EQ(out[0], 6.0f);
}

TEST(LinearRuntimeTest, RejectsMalformedArtifacts) {
  ScopedTempDir dir("linear_bad");
  for (const char* json :
       {"not json", "[1, 2]", R"({"bias": 1})", R"({"weights": []})", R"({"weights": [1, "x"]})",
        R"({"weights": [1], "link": "probit"})", R"({"weights": [1], "wieghts": [2]})"}) {
    SCOPED_TRACE(json);
    auto runtime = LoadLinear(dir, json);
    ASSERT_FALSE(runtime.ok());
    EXPECT_EQ(runtime.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(runtime.status().message().find("linear model"), std::string::npos);
  }
  EXPECT_EQ(LoadRuntime("linear", dir.File("missing.json")).status().code(), StatusCode::kIoError);
}

TEST(LinearRuntimeTest, DeeplyNestedArtifactIsRejectedWithoutRecursion) {
  ScopedTempDir dir("linear_deep");
  std::string json = R"({"weights": )" + std::string(1'000'000, '[');
  auto runtime = LoadLinear(dir, json);
  ASSERT_FALSE(runtime.ok());
  EXPECT_EQ(runtime.status().code(), StatusCode::kInvalidArgument);
}

TEST(LinearRuntimeTest, WrongWidthAndLifecycle) {
  ScopedTempDir dir("linear_width");
  WriteFile(dir.File("model.json"), R"({"weights": [1, 2]})");
  LinearRuntime runtime;
  EXPECT_EQ(runtime.num_features(), -1);
  std::vector<float> rows = {1, 2, 3};
  std::vector<float> out;
  EXPECT_EQ(runtime.Predict(rows.data(), 1, 2, &out).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(runtime.Load(dir.File("model.json")).ok());
  EXPECT_EQ(runtime.Load(dir.File("model.json")).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(runtime.Predict(rows.data(), 1, 3, &out).code(), StatusCode::kInvalidArgument);
}

TEST(LinearRuntimeTest, ExportedFormKindsAndClasses) {
  ScopedTempDir dir("linear_exported");
  std::vector<float> row = {1.0f, -1.0f};
  std::vector<float> out;

  auto regression = LoadLinear(
      dir, R"({"kind": "regression", "coef": [[1, 2], [3, 4]], "intercept": [0.5, -0.5]})");
  ASSERT_TRUE(regression.ok()) << regression.status().ToString();
  EXPECT_EQ((*regression)->num_features(), 2);
  ASSERT_TRUE((*regression)->Predict(row.data(), 1, 2, &out).ok());
  EXPECT_EQ(out, (std::vector<float>{-0.5f, -1.5f}));

  auto multinomial = LoadLinear(
      dir, R"({"kind": "multinomial", "coef": [[1, 0], [0, 1], [0, 0]], "intercept": [0, 0, 0],
              "classes": ["a", "b", 7], "estimator": "LogisticRegression"})");
  ASSERT_TRUE(multinomial.ok()) << multinomial.status().ToString();
  ASSERT_TRUE((*multinomial)->Predict(row.data(), 1, 2, &out).ok());
  double total = std::exp(1.0) + std::exp(-1.0) + 1.0;
  ASSERT_EQ(out.size(), 3u);
  EXPECT_FLOAT_EQ(out[0], std::exp(1.0) / total);
  EXPECT_FLOAT_EQ(out[1], std::exp(-1.0) / total);
  EXPECT_FLOAT_EQ(out[2], 1.0 / total);
  EXPECT_EQ(static_cast<const LinearRuntime&>(**multinomial).classes(),
            (std::vector<std::string>{"a", "b", "7"}));

  auto logistic = LoadLinear(dir, R"({"kind": "logistic", "coef": [[2, 0]], "intercept": -2})");
  ASSERT_TRUE(logistic.ok()) << logistic.status().ToString();
  ASSERT_TRUE((*logistic)->Predict(row.data(), 1, 2, &out).ok());
  EXPECT_EQ(out, (std::vector<float>{0.5f}));
}

TEST(LinearRuntimeTest, RejectsInconsistentExportedArtifacts) {
  ScopedTempDir dir("linear_exported_bad");
  for (const char* json : {
           R"({"coef": [1, 2]})",                                              // no kind
           R"({"kind": "poisson", "coef": [1]})",                              // unknown kind
           R"({"kind": "regression", "coef": [[1, 2], [3]]})",                 // ragged
           R"({"kind": "regression", "coef": [[1, 2], [3, 4, 5], [6]]})",      // ragged, same total
           R"({"kind": "regression", "coef": [[1], [2]], "intercept": [1]})",  // 1 intercept
           R"({"kind": "logistic", "coef": [[1], [2]]})",                      // 2 rows
           R"({"kind": "multinomial", "coef": [[1, 2]]})",                     // 1 class
           R"({"kind": "ovr", "coef": [[1], [2]], "classes": ["a"]})",         // 1 class name
           R"({"kind": "logistic", "coef": [1], "classes": [0, 1, 2]})",       // 3 class names
           R"({"kind": "regression", "coef": [1], "bias": 2})",                // mixed forms
           R"({"kind": "regression", "coef": [[]]})",                          // empty
           R"({"kind": "regression", "coef": [1], "coef": [2, 3]})",           // duplicate
       }) {
    SCOPED_TRACE(json);
    auto runtime = LoadLinear(dir, json);
    ASSERT_FALSE(runtime.ok());
    EXPECT_EQ(runtime.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(runtime.status().message().find("linear model"), std::string::npos);
  }
}

// Models fitted by Debian's python3-sklearn and exported by scripts/export_sklearn_linear.py
// (src/models/testdata/make_sklearn_models.py), with sklearn's predictions for rows.csv.
class SklearnExportTest : public ::testing::Test {
 protected:
  static constexpr size_t kRows = 40, kFeatures = 5;

  static void SetUpTestSuite() {
    dir_ = new ScopedTempDir("sklearn");
    std::string command = std::string(testing::kPython) +
                          " " FRESHET_SOURCE_DIR "/src/models/testdata/make_sklearn_models.py " +
                          dir_->path() + " " FRESHET_SOURCE_DIR "/scripts/export_sklearn_linear.py";
    made_ = testing::RunCommand(command, *dir_) &&
            testing::ReadCsvFloats(dir_->File("rows.csv"), kFeatures, kRows, &rows_);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  // Loads NAME.json and compares its outputs on rows.csv with NAME.pred (`width` per row).
  static void ExpectMatchesSklearn(const std::string& name, size_t width, float tolerance) {
    ASSERT_TRUE(made_);
    std::vector<float> expected;
    ASSERT_TRUE(testing::ReadCsvFloats(dir_->File(name + ".pred"), width, kRows, &expected));
    auto runtime = LoadRuntime("linear", dir_->File(name + ".json"));
    ASSERT_TRUE(runtime.ok()) << runtime.status().ToString();
    EXPECT_EQ((*runtime)->num_features(), static_cast<int64_t>(kFeatures));
    std::vector<float> out;
    ASSERT_TRUE((*runtime)->Predict(rows_.data(), kRows, kFeatures, &out).ok());
    ASSERT_EQ(out.size(), expected.size());
    for (size_t i = 0; i < out.size(); ++i) {
      EXPECT_NEAR(out[i], expected[i], tolerance * std::max(1.0f, std::abs(expected[i])))
          << name << " row " << i / width << " output " << i % width;
    }
  }

  // The class names NAME.json records.
  static std::vector<std::string> Classes(const std::string& name) {
    LinearRuntime runtime;
    Status loaded = runtime.Load(dir_->File(name + ".json"));
    EXPECT_TRUE(loaded.ok()) << loaded.ToString();
    return runtime.classes();
  }

  static ScopedTempDir* dir_;
  static bool made_;
  static std::vector<float> rows_;
};

ScopedTempDir* SklearnExportTest::dir_ = nullptr;
bool SklearnExportTest::made_ = false;
std::vector<float> SklearnExportTest::rows_;

TEST_F(SklearnExportTest, RegressorsMatchPredict) {
  ExpectMatchesSklearn("elasticnet", 1, 1e-6f);
  ExpectMatchesSklearn("ridge2", 2, 1e-6f);  // two targets: two outputs per row
}

TEST_F(SklearnExportTest, LogisticRegressionsMatchPredictProba) {
  ExpectMatchesSklearn("binary", 1, 1e-6f);
  EXPECT_EQ(Classes("binary"), (std::vector<std::string>{"0", "1"}));
  ExpectMatchesSklearn("binary_softmax", 1, 1e-6f);
  EXPECT_EQ(Classes("binary_softmax"), (std::vector<std::string>{"no", "yes"}));
  ExpectMatchesSklearn("multinomial", 3, 1e-6f);
  EXPECT_EQ(Classes("multinomial"), (std::vector<std::string>{"cat", "dog", "fish"}));
  ExpectMatchesSklearn("ovr", 3, 1e-6f);
  EXPECT_EQ(Classes("ovr"), (std::vector<std::string>{"0", "1", "2"}));
}

}  // namespace
}  // namespace freshet
