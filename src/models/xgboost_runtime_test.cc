#include "models/xgboost_runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <thread>

#include "models/artifact_file.h"
#include "models/models_test_util.h"

namespace freshet {
namespace {

using testing::PythonModels;
using testing::ScopedTempDir;
using testing::TrainedModels;

constexpr float kTolerance = 1e-6f;

std::unique_ptr<ModelRuntime> MustLoad(const std::string& path) {
  auto runtime = LoadRuntime("xgboost", path);
  EXPECT_TRUE(runtime.ok()) << runtime.status().ToString();
  return runtime.ok() ? std::move(runtime).value() : nullptr;
}

// `expected` holds `width` outputs per row (one per class for multi-class models).
void ExpectMatchesPython(const ModelRuntime& runtime, const std::vector<float>& rows,
                         const std::vector<float>& expected, size_t width = 1,
                         float tolerance = kTolerance) {
  std::vector<float> batch;
  ASSERT_TRUE(
      runtime.Predict(rows.data(), PythonModels::kRows, PythonModels::kFeatures, &batch).ok());
  ASSERT_EQ(batch.size(), expected.size());
  ASSERT_EQ(batch.size(), PythonModels::kRows * width);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(batch[i], expected[i], tolerance) << "row " << i / width << " output " << i % width;
  }
  for (size_t r = 0; r < PythonModels::kRows; ++r) {
    std::vector<float> single;
    ASSERT_TRUE(
        runtime.Predict(&rows[r * PythonModels::kFeatures], 1, PythonModels::kFeatures, &single)
            .ok());
    EXPECT_EQ(single,
              std::vector<float>(batch.begin() + r * width, batch.begin() + (r + 1) * width))
        << "row " << r << " alone differs from the batch";
  }
}

TEST(XgboostRuntimeTest, EveryFormatMatchesPythonPredictions) {
  const PythonModels* models = TrainedModels();
  ASSERT_NE(models, nullptr);
  auto [lowest, highest] =
      std::minmax_element(models->tree_expected.begin(), models->tree_expected.end());
  ASSERT_GT(*highest - *lowest, 0.5f) << "a model predicting one value would prove nothing";
  for (const std::string& path :
       {models->tree_json, models->tree_ubj, models->tree_legacy_binary}) {
    SCOPED_TRACE(path);
    std::unique_ptr<ModelRuntime> runtime = MustLoad(path);
    ASSERT_NE(runtime, nullptr);
    EXPECT_EQ(runtime->name(), "xgboost");
    EXPECT_EQ(runtime->num_features(), static_cast<int64_t>(PythonModels::kFeatures));
    ExpectMatchesPython(*runtime, models->rows, models->tree_expected);
  }
}

TEST(XgboostRuntimeTest, GblinearFallsBackToDMatrixAndMatchesPython) {
  const PythonModels* models = TrainedModels();
  ASSERT_NE(models, nullptr);
  std::unique_ptr<ModelRuntime> runtime = MustLoad(models->gblinear_json);
  ASSERT_NE(runtime, nullptr);
  ExpectMatchesPython(*runtime, models->rows, models->gblinear_expected);
}

TEST(XgboostRuntimeTest, MultiClassSoftprobGivesOneProbabilityPerClass) {
  const PythonModels* models = TrainedModels();
  ASSERT_NE(models, nullptr);
  for (const std::string& path : {models->multiclass_json, models->multiclass_ubj}) {
    SCOPED_TRACE(path);
    std::unique_ptr<ModelRuntime> runtime = MustLoad(path);
    ASSERT_NE(runtime, nullptr);
    ExpectMatchesPython(*runtime, models->rows, models->multiclass_expected,
                        PythonModels::kClasses);
    std::vector<float> out;
    ASSERT_TRUE(runtime->Predict(models->rows.data(), 1, PythonModels::kFeatures, &out).ok());
    ASSERT_EQ(out.size(), PythonModels::kClasses);
    EXPECT_NEAR(out[0] + out[1] + out[2], 1.0f, 1e-5f);
  }
}

TEST(XgboostRuntimeTest, RegressionMatchesPythonInJsonAndLegacyBinary) {
  const PythonModels* models = TrainedModels();
  ASSERT_NE(models, nullptr);
  auto [lowest, highest] =
      std::minmax_element(models->regression_expected.begin(), models->regression_expected.end());
  ASSERT_GT(*highest - *lowest, 1.0f) << "a model predicting one value would prove nothing";
  for (const std::string& path : {models->regression_json, models->regression_legacy_binary}) {
    SCOPED_TRACE(path);
    std::unique_ptr<ModelRuntime> runtime = MustLoad(path);
    ASSERT_NE(runtime, nullptr);
    // Sums of 50 trees: Python and C++ may add them in a different order.
    ExpectMatchesPython(*runtime, models->rows, models->regression_expected, 1, 1e-5f);
  }
}

TEST(XgboostRuntimeTest, ConcurrentPredictFromEightThreadsIsIdentical) {
  const PythonModels* models = TrainedModels();
  ASSERT_NE(models, nullptr);
  for (const std::string& path : {models->tree_json, models->gblinear_json}) {
    SCOPED_TRACE(path);
    std::unique_ptr<ModelRuntime> runtime = MustLoad(path);
    ASSERT_NE(runtime, nullptr);
    std::vector<float> reference;
    ASSERT_TRUE(
        runtime
            ->Predict(models->rows.data(), PythonModels::kRows, PythonModels::kFeatures, &reference)
            .ok());
    std::atomic<int> mismatches{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        std::vector<float> out;
        for (int i = 0; i < 200; ++i) {
          // Alternate single rows and sub-batches of different sizes per thread.
          size_t first = static_cast<size_t>(t * 7 + i) % PythonModels::kRows;
          size_t n = (i % 2 == 0) ? 1 : std::min<size_t>(1 + i % 13, PythonModels::kRows - first);
          const float* rows = &models->rows[first * PythonModels::kFeatures];
          if (!runtime->Predict(rows, n, PythonModels::kFeatures, &out).ok() || out.size() != n) {
            failures.fetch_add(1);
            continue;
          }
          for (size_t r = 0; r < n; ++r) {
            if (out[r] != reference[first + r]) mismatches.fetch_add(1);
          }
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(mismatches.load(), 0);
  }
}

TEST(XgboostRuntimeTest, WrongFeatureCountAndEmptyBatch) {
  const PythonModels* models = TrainedModels();
  ASSERT_NE(models, nullptr);
  std::unique_ptr<ModelRuntime> runtime = MustLoad(models->tree_json);
  ASSERT_NE(runtime, nullptr);
  std::vector<float> out = {1.0f};
  Status wrong = runtime->Predict(models->rows.data(), 1, PythonModels::kFeatures - 1, &out);
  EXPECT_EQ(wrong.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.message().find("expects 20 features, got 19"), std::string::npos)
      << wrong.message();
  ASSERT_TRUE(runtime->Predict(nullptr, 0, PythonModels::kFeatures, &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(XgboostRuntimeTest, LifecycleErrors) {
  const PythonModels* models = TrainedModels();
  ASSERT_NE(models, nullptr);
  XgboostRuntime runtime;
  EXPECT_EQ(runtime.num_features(), -1);
  std::vector<float> out;
  EXPECT_EQ(runtime.Predict(models->rows.data(), 1, PythonModels::kFeatures, &out).code(),
            StatusCode::kFailedPrecondition);
  ASSERT_TRUE(runtime.Load(models->tree_json).ok());
  EXPECT_EQ(runtime.Load(models->tree_json).code(), StatusCode::kFailedPrecondition);
}

TEST(XgboostRuntimeTest, BadArtifactsAreInvalidArgument) {
  ScopedTempDir dir("xgb_bad");
  testing::WriteFile(dir.File("garbage.json"), "this is not a model");
  testing::WriteFile(dir.File("empty.json"), "{}");
  testing::WriteFile(dir.File("garbage.bin"), std::string(64, '\x07'));
  for (const char* name : {"garbage.json", "empty.json", "garbage.bin", "missing.json"}) {
    SCOPED_TRACE(name);
    XgboostRuntime runtime;
    Status st = runtime.Load(dir.File(name));
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_EQ(runtime.num_features(), -1);
  }
}

TEST(XgboostRuntimeTest, TruncatedModelsAreRefusedInEveryFormat) {
  const PythonModels* models = TrainedModels();
  ASSERT_NE(models, nullptr);
  ScopedTempDir dir("xgb_truncated");
  for (const std::string& path : {models->tree_json, models->tree_ubj, models->tree_legacy_binary,
                                  models->regression_legacy_binary}) {
    auto bytes = ReadFileToString(path);
    ASSERT_TRUE(bytes.ok());
    std::string extension = std::filesystem::path(path).extension().string();
    for (size_t keep :
         {size_t{0}, size_t{7}, bytes->size() / 3, bytes->size() / 2, bytes->size() - 1}) {
      SCOPED_TRACE(path + " cut to " + std::to_string(keep) + " bytes");
      std::string cut = dir.File("cut" + extension);
      testing::WriteFile(cut, std::string_view(*bytes).substr(0, keep));
      XgboostRuntime runtime;
      Status st = runtime.Load(cut);
      EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
      EXPECT_EQ(runtime.num_features(), -1);
    }
  }
}

}  // namespace
}  // namespace freshet
