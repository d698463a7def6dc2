// Google Benchmark micro-suite of the per-request work behind `POST /v1/predict/{deployment}`
// that does not depend on the feature store: resolving the deployment's alias in the registry
// (cached by the writing registry, read from RocksDB by a reading one) and scoring rows with the
// XGBoost runtime (100 trees of depth 6 over 20 inputs, the shape bench/predict.sh serves).
// Run: build/bench/predict_micro_bench
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <xgboost/c_api.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/clock.h"
#include "models/registry.h"
#include "models/xgboost_runtime.h"
#include "storage/db.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

constexpr int kFeatures = 20;

// A fresh directory under the system temp directory, removed at exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "predict_micro_bench.XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void Check(int rc, const char* what) {
  if (rc != 0) {
    std::fprintf(stderr, "xgboost %s: %s\n", what, XGBGetLastError());
    std::abort();
  }
}

std::vector<float> RandomRows(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(0, 100);
  std::vector<float> rows(n * kFeatures);
  for (float& v : rows) v = value(rng);
  return rows;
}

// Trains a binary:logistic model of 100 trees of depth 6 with the C API and saves it as JSON.
std::string TrainModel(const std::string& dir) {
  constexpr size_t kRows = 2000;
  std::vector<float> rows = RandomRows(kRows, 1);
  std::vector<float> labels(kRows);
  for (size_t r = 0; r < kRows; ++r) {
    labels[r] = rows[r * kFeatures] + rows[r * kFeatures + 1] * 0.5f > 75 ? 1.0f : 0.0f;
  }
  DMatrixHandle train = nullptr;
  Check(XGDMatrixCreateFromMat(rows.data(), kRows, kFeatures, -1.0f, &train), "DMatrix");
  Check(XGDMatrixSetFloatInfo(train, "label", labels.data(), kRows), "labels");
  BoosterHandle booster = nullptr;
  Check(XGBoosterCreate(&train, 1, &booster), "create");
  Check(XGBoosterSetParam(booster, "objective", "binary:logistic"), "objective");
  Check(XGBoosterSetParam(booster, "max_depth", "6"), "max_depth");
  Check(XGBoosterSetParam(booster, "nthread", "1"), "nthread");
  for (int i = 0; i < 100; ++i) Check(XGBoosterUpdateOneIter(booster, i, train), "train");
  std::string path = dir + "/model.json";
  Check(XGBoosterSaveModel(booster, path.c_str()), "save");
  XGBoosterFree(booster);
  XGDMatrixFree(train);
  return path;
}

// `range(0)` rows per Predict call.
void BM_XgboostPredict(benchmark::State& state) {
  TempDir dir;
  XgboostRuntime runtime;
  if (Status s = runtime.Load(TrainModel(dir.path())); !s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  const size_t n = static_cast<size_t>(state.range(0));
  const std::vector<float> rows = RandomRows(n, 2);
  std::vector<float> out;
  for (auto _ : state) {
    Status s = runtime.Predict(rows.data(), n, kFeatures, &out);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_XgboostPredict)->Arg(1)->Arg(16)->Arg(256);

// Resolving "champion" of a model with 3 versions: range(0) 1 is the writing registry
// (ModelRegistry::Open, cached), 0 a reading one (OpenForReading, two Db reads and decodes).
void BM_RegistryResolve(benchmark::State& state) {
  TempDir dir;
  auto db = Db::Open(dir.path() + "/db");
  if (!db.ok()) {
    state.SkipWithError(db.status().ToString().c_str());
    return;
  }
  auto writer = ModelRegistry::Open(db->get(), dir.path(), SystemClock::Default());
  if (!writer.ok()) {
    state.SkipWithError(writer.status().ToString().c_str());
    return;
  }
  std::string artifact = dir.path() + "/linear.json";
  for (int w = 1; w <= 3; ++w) {
    std::ofstream(artifact) << "{\"weights\": [" << w << "]}";
    RegisterOptions options;
    options.metrics = {{"auc", 0.9}};
    options.lineage.feature_service = "svc20";
    if (auto v = (*writer)->Register("ranker", artifact, "linear", options); !v.ok()) {
      state.SkipWithError(v.status().ToString().c_str());
      return;
    }
  }
  std::unique_ptr<ModelRegistry> reader =
      ModelRegistry::OpenForReading(db->get(), dir.path(), SystemClock::Default());
  const ModelRegistry& registry = state.range(0) == 1 ? **writer : *reader;
  for (auto _ : state) {
    auto version = registry.Resolve("ranker", "champion");
    benchmark::DoNotOptimize(version);
  }
}
BENCHMARK(BM_RegistryResolve)->ArgName("cached")->Arg(0)->Arg(1);

}  // namespace
}  // namespace freshet

BENCHMARK_MAIN();
