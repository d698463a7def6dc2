#include "models/linear_runtime.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

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

}  // namespace
}  // namespace freshet
