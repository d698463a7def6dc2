#include "models/model_runtime.h"

#include <gtest/gtest.h>

namespace freshet {
namespace {

TEST(ModelRuntimeTest, CreatesKnownRuntimesByName) {
  EXPECT_EQ(KnownRuntimes(),
            (std::vector<std::string>{"fasttext", "linear", "torchscript", "xgboost"}));
  for (const std::string& name : KnownRuntimes()) {
    auto runtime = CreateRuntime(name);
    ASSERT_TRUE(runtime.ok()) << runtime.status().ToString();
    EXPECT_EQ((*runtime)->name(), name);
    EXPECT_EQ((*runtime)->num_features(), -1) << "unloaded runtimes know no features";
  }
}

TEST(ModelRuntimeTest, EachRuntimeSaysWhichInputItTakes) {
  for (const std::string& name : KnownRuntimes()) {
    SCOPED_TRACE(name);
    auto runtime = CreateRuntime(name);
    ASSERT_TRUE(runtime.ok());
    RuntimeInput expected = name == "fasttext" ? RuntimeInput::kText : RuntimeInput::kFeatureRows;
    EXPECT_EQ((*runtime)->input(), expected);
  }
  EXPECT_EQ(RuntimeInputName(RuntimeInput::kFeatureRows), "feature_rows");
  EXPECT_EQ(RuntimeInputName(RuntimeInput::kText), "text");
}

TEST(ModelRuntimeTest, FeatureRowRuntimesRefuseText) {
  auto runtime = CreateRuntime("linear");
  ASSERT_TRUE(runtime.ok());
  std::vector<std::vector<TextLabel>> labels;
  Status text = (*runtime)->PredictText({"a text"}, 1, 0, &labels);
  EXPECT_EQ(text.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(text.message(), "model runtime \"linear\" takes feature_rows input, not text");
  std::vector<float> vectors;
  EXPECT_EQ((*runtime)->SentenceVectors({"a text"}, &vectors).code(), StatusCode::kInvalidArgument);
}

TEST(ModelRuntimeTest, UnknownRuntimeListsTheKnownOnes) {
  auto runtime = CreateRuntime("onnx");
  ASSERT_FALSE(runtime.ok());
  EXPECT_EQ(runtime.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(runtime.status().message(),
            "unknown model runtime \"onnx\"; known runtimes: fasttext, linear, torchscript, "
            "xgboost");
}

}  // namespace
}  // namespace freshet
