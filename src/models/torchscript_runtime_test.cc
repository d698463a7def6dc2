#include "models/torchscript_runtime.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "models/artifact_file.h"
#include "models/models_test_util.h"

namespace freshet {
namespace {

using testing::ScopedTempDir;

constexpr size_t kRows = 40, kFeatures = 6, kClasses = 3;

// The modules of testdata/make_torchscript_models.py, saved by python3-torch, with PyTorch's own
// predictions for rows.csv.
struct TorchModels {
  ScopedTempDir dir{"torch"};
  std::vector<float> rows, mlp_expected, softmax_expected;
  std::string File(std::string_view name) const { return dir.File(name); }
};

const TorchModels* Models() {
  static std::unique_ptr<TorchModels> models = [] {
    auto m = std::make_unique<TorchModels>();
    std::string command = std::string(testing::kPython) + " " +
                          FRESHET_SOURCE_DIR "/src/models/testdata/make_torchscript_models.py" +
                          " " + m->dir.path();
    if (!testing::RunCommand(command, m->dir) ||
        !testing::ReadCsvFloats(m->File("rows.csv"), kFeatures, kRows, &m->rows) ||
        !testing::ReadCsvFloats(m->File("mlp.pred"), 1, kRows, &m->mlp_expected) ||
        !testing::ReadCsvFloats(m->File("softmax.pred"), kClasses, kRows, &m->softmax_expected)) {
      ADD_FAILURE() << "making the TorchScript models failed";
      return std::unique_ptr<TorchModels>();
    }
    return m;
  }();
  return models.get();
}

std::unique_ptr<ModelRuntime> MustLoad(const std::string& path) {
  auto runtime = LoadRuntime("torchscript", path);
  EXPECT_TRUE(runtime.ok()) << runtime.status().ToString();
  return runtime.ok() ? std::move(runtime).value() : nullptr;
}

TEST(TorchscriptRuntimeTest, ScriptedModuleMatchesPytorchInEvalMode) {
  const TorchModels* models = Models();
  ASSERT_NE(models, nullptr);
  std::unique_ptr<ModelRuntime> runtime = MustLoad(models->File("mlp.pt"));
  ASSERT_NE(runtime, nullptr);
  EXPECT_EQ(runtime->name(), "torchscript");
  EXPECT_EQ(runtime->input(), RuntimeInput::kFeatureRows);
  EXPECT_EQ(runtime->num_features(), static_cast<int64_t>(kFeatures));
  std::vector<float> out;
  ASSERT_TRUE(runtime->Predict(models->rows.data(), kRows, kFeatures, &out).ok());
  ASSERT_EQ(out.size(), kRows);
  // Saved in training mode with dropout: only eval mode reproduces PyTorch's eval predictions,
  // and the same row twice gives the same value.
  for (size_t r = 0; r < kRows; ++r) EXPECT_NEAR(out[r], models->mlp_expected[r], 1e-5f) << r;
  std::vector<float> again;
  ASSERT_TRUE(runtime->Predict(models->rows.data(), kRows, kFeatures, &again).ok());
  EXPECT_EQ(again, out);
}

TEST(TorchscriptRuntimeTest, TracedModuleWithClassOutputsMatchesPytorch) {
  const TorchModels* models = Models();
  ASSERT_NE(models, nullptr);
  std::unique_ptr<ModelRuntime> runtime = MustLoad(models->File("softmax.pt"));
  ASSERT_NE(runtime, nullptr);
  EXPECT_EQ(runtime->num_features(), -1) << "the traced module states no input width";
  std::vector<float> out;
  ASSERT_TRUE(runtime->Predict(models->rows.data(), kRows, kFeatures, &out).ok());
  ASSERT_EQ(out.size(), kRows * kClasses);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_NEAR(out[i], models->softmax_expected[i], 1e-6f) << "row " << i / kClasses;
  }
  std::vector<float> single;
  ASSERT_TRUE(runtime->Predict(&models->rows[kFeatures], 1, kFeatures, &single).ok());
  EXPECT_EQ(single, std::vector<float>(out.begin() + kClasses, out.begin() + 2 * kClasses));
}

TEST(TorchscriptRuntimeTest, ModuleChangingItsInputLeavesTheCallersRowsAlone) {
  const TorchModels* models = Models();
  ASSERT_NE(models, nullptr);
  std::unique_ptr<ModelRuntime> runtime = MustLoad(models->File("inplace.pt"));
  ASSERT_NE(runtime, nullptr);
  std::vector<float> rows = {1, 2, 3, 4, 5, 6};
  std::vector<float> out;
  ASSERT_TRUE(runtime->Predict(rows.data(), 2, 3, &out).ok());
  EXPECT_EQ(out, (std::vector<float>{12, 30}));
  EXPECT_EQ(rows, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(TorchscriptRuntimeTest, ConcurrentPredictFromEightThreadsIsIdentical) {
  const TorchModels* models = Models();
  ASSERT_NE(models, nullptr);
  std::unique_ptr<ModelRuntime> runtime = MustLoad(models->File("mlp.pt"));
  ASSERT_NE(runtime, nullptr);
  std::vector<float> reference;
  ASSERT_TRUE(runtime->Predict(models->rows.data(), kRows, kFeatures, &reference).ok());
  std::atomic<int> failures{0}, mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::vector<float> out;
      for (int i = 0; i < 100; ++i) {
        size_t first = static_cast<size_t>(t * 5 + i) % kRows;
        size_t n = std::min<size_t>(1 + i % 7, kRows - first);
        if (!runtime->Predict(&models->rows[first * kFeatures], n, kFeatures, &out).ok() ||
            out.size() != n) {
          failures.fetch_add(1);
          continue;
        }
        for (size_t r = 0; r < n; ++r) {
          if (std::abs(out[r] - reference[first + r]) > 1e-6f) mismatches.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(TorchscriptRuntimeTest, BadInputsAndOutputsAreStatuses) {
  const TorchModels* models = Models();
  ASSERT_NE(models, nullptr);
  std::unique_ptr<ModelRuntime> mlp = MustLoad(models->File("mlp.pt"));
  ASSERT_NE(mlp, nullptr);
  std::vector<float> out = {1.0f};
  Status wrong = mlp->Predict(models->rows.data(), 1, kFeatures - 1, &out);
  EXPECT_EQ(wrong.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(wrong.message(), "torchscript model expects 6 features, got 5");
  ASSERT_TRUE(mlp->Predict(nullptr, 0, kFeatures, &out).ok());
  EXPECT_TRUE(out.empty());

  // No stated width: LibTorch's own shape error comes back as a Status.
  std::unique_ptr<ModelRuntime> softmax = MustLoad(models->File("softmax.pt"));
  ASSERT_NE(softmax, nullptr);
  Status shape = softmax->Predict(models->rows.data(), 2, 4, &out);
  EXPECT_EQ(shape.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(shape.message().find("torchscript predict: "), std::string::npos) << shape.message();
  EXPECT_EQ(shape.message().find('\n'), std::string::npos) << "no backtrace in the message";

  for (const char* name : {"tuple.pt", "cube.pt"}) {
    SCOPED_TRACE(name);
    std::unique_ptr<ModelRuntime> runtime = MustLoad(models->File(name));
    ASSERT_NE(runtime, nullptr);
    Status st = runtime->Predict(models->rows.data(), 2, kFeatures, &out);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("expected"), std::string::npos) << st.message();
  }
}

TEST(TorchscriptRuntimeTest, TextEntryPointsAreRefused) {
  const TorchModels* models = Models();
  ASSERT_NE(models, nullptr);
  std::unique_ptr<ModelRuntime> runtime = MustLoad(models->File("mlp.pt"));
  ASSERT_NE(runtime, nullptr);
  std::vector<std::vector<TextLabel>> labels;
  Status st = runtime->PredictText({"hello"}, 1, 0, &labels);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "model runtime \"torchscript\" takes feature_rows input, not text");
  std::vector<float> vectors;
  EXPECT_EQ(runtime->SentenceVectors({"hello"}, &vectors).code(), StatusCode::kInvalidArgument);
}

TEST(TorchscriptRuntimeTest, LifecycleErrors) {
  const TorchModels* models = Models();
  ASSERT_NE(models, nullptr);
  TorchscriptRuntime runtime;
  std::vector<float> out;
  EXPECT_EQ(runtime.Predict(models->rows.data(), 1, kFeatures, &out).code(),
            StatusCode::kFailedPrecondition);
  ASSERT_TRUE(runtime.Load(models->File("mlp.pt")).ok());
  EXPECT_EQ(runtime.Load(models->File("mlp.pt")).code(), StatusCode::kFailedPrecondition);
}

TEST(TorchscriptRuntimeTest, CorruptAndTruncatedArchivesAreInvalidArgument) {
  const TorchModels* models = Models();
  ASSERT_NE(models, nullptr);
  auto bytes = ReadFileToString(models->File("mlp.pt"));
  ASSERT_TRUE(bytes.ok());
  ScopedTempDir dir("torch_bad");
  std::vector<std::pair<std::string, std::string>> files = {
      {"empty.pt", ""},
      {"text.pt", "not a model"},
      {"python.pt", "import torch\n"},
      {"head.pt", bytes->substr(0, 100)},
      {"half.pt", bytes->substr(0, bytes->size() / 2)},
      {"all_but_one.pt", bytes->substr(0, bytes->size() - 1)},
  };
  std::string flipped = *bytes;  // the zip's central directory, near the end, destroyed
  for (size_t i = flipped.size() - 200; i < flipped.size() - 22; ++i) flipped[i] ^= 0x5a;
  files.emplace_back("flipped.pt", flipped);
  for (const auto& [name, content] : files) {
    SCOPED_TRACE(name);
    testing::WriteFile(dir.File(name), content);
    TorchscriptRuntime runtime;
    Status st = runtime.Load(dir.File(name));
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_NE(st.message().find(dir.File(name)), std::string::npos) << st.message();
    EXPECT_EQ(runtime.num_features(), -1);
    std::vector<float> out;
    EXPECT_EQ(runtime.Predict(models->rows.data(), 1, kFeatures, &out).code(),
              StatusCode::kFailedPrecondition);
  }
  TorchscriptRuntime missing;
  EXPECT_FALSE(missing.Load(dir.File("missing.pt")).ok());
}

}  // namespace
}  // namespace freshet
