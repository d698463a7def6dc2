#include "models/model_runtime.h"

#include <gtest/gtest.h>

namespace freshet {
namespace {

TEST(ModelRuntimeTest, CreatesKnownRuntimesByName) {
  EXPECT_EQ(KnownRuntimes(), (std::vector<std::string>{"linear", "xgboost"}));
  for (const std::string& name : KnownRuntimes()) {
    auto runtime = CreateRuntime(name);
    ASSERT_TRUE(runtime.ok()) << runtime.status().ToString();
    EXPECT_EQ((*runtime)->name(), name);
    EXPECT_EQ((*runtime)->num_features(), -1) << "unloaded runtimes know no features";
  }
}

TEST(ModelRuntimeTest, UnknownRuntimeListsTheKnownOnes) {
  auto runtime = CreateRuntime("torchscript");
  ASSERT_FALSE(runtime.ok());
  EXPECT_EQ(runtime.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(runtime.status().message(),
            "unknown model runtime \"torchscript\"; known runtimes: linear, xgboost");
}

}  // namespace
}  // namespace freshet
