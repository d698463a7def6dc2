// MLflow model directories laid out as MLflow writes them (mlflow.xgboost.log_model into a run:
// mlruns/<experiment>/<run>/{meta.yaml, params/, metrics/, artifacts/model/{MLmodel, model.xgb}}),
// with the booster saved by Debian's python3-xgboost, read and registered; and the directories
// that are refused.
#include "models/mlflow_model.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "models/model_cache.h"
#include "models/models_test_util.h"
#include "models/registry.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using testing::PythonModels;
using testing::ScopedTempDir;
using testing::TrainedModels;
using testing::WriteFile;

// MLmodel as mlflow 2.x writes it for mlflow.xgboost.log_model(booster, "model").
constexpr const char* kXgboostMlmodel = R"yaml(artifact_path: model
flavors:
  python_function:
    data: model.xgb
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.xgboost
    python_version: 3.11.2
  xgboost:
    code: null
    data: model.xgb
    model_class: xgboost.core.Booster
    model_format: xgb
    xgb_version: 1.7.4
mlflow_version: 2.9.2
model_uuid: 5b1c6a0e2f9c4d0e9a8b7c6d5e4f3a2b
run_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
utc_time_created: '2026-01-01 00:00:00.000000'
)yaml";

class MlflowModelTest : public ::testing::Test {
 protected:
  // Lays out mlruns/1/<run>/ with the model under artifacts/model; returns the model directory.
  std::string WriteRun() {
    const PythonModels* models = TrainedModels();
    EXPECT_NE(models, nullptr);
    fs::path run = fs::path(dir_.path()) / "mlruns/1/0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    fs::path model = run / "artifacts/model";
    fs::create_directories(model);
    fs::create_directories(run / "params");
    fs::create_directories(run / "metrics");
    WriteFile((run / "meta.yaml").string(),
              "artifact_uri: file:///mlruns/1/0f1e2d3c4b5a69788796a5b4c3d2e1f0/artifacts\n"
              "end_time: 1767225660000\nentry_point_name: ''\nexperiment_id: '1'\n"
              "lifecycle_stage: active\nrun_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n"
              "run_name: weekly-retrain\nsource_type: 4\nstart_time: 1767225600000\nstatus: 3\n"
              "user_id: erin\n");
    WriteFile((run / "params/max_depth").string(), "4");
    WriteFile((run / "params/eta").string(), "0.1");
    WriteFile((run / "metrics/auc").string(),
              "1767225600000 0.81 0\n1767225630000 0.87 1\n1767225660000 0.912 2\n");
    WriteFile((model / "MLmodel").string(), kXgboostMlmodel);
    WriteFile((model / "conda.yaml").string(), "name: mlflow-env\n");
    if (models != nullptr) fs::copy_file(models->tree_legacy_binary, model / "model.xgb");
    return model.string();
  }

  ScopedTempDir dir_{"mlflow"};
};

TEST_F(MlflowModelTest, XgboostRunIsReadWithItsParamsMetricsAndUser) {
  std::string dir = WriteRun();
  auto model = ReadMlflowModel(dir);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->runtime, "xgboost");
  EXPECT_EQ(model->flavor, "xgboost");
  EXPECT_EQ(model->artifact_path, dir + "/model.xgb");
  EXPECT_EQ(model->artifact_name, "model.xgb");
  EXPECT_EQ(model->params,
            (std::map<std::string, std::string>{{"eta", "0.1"}, {"max_depth", "4"}}));
  EXPECT_EQ(model->metrics, (std::map<std::string, double>{{"auc", 0.912}}));
  EXPECT_EQ(model->created_by, "erin");
  EXPECT_EQ(model->tags.at("mlflow.run_id"), "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
  EXPECT_EQ(model->tags.at("mlflow.run_name"), "weekly-retrain");
  EXPECT_EQ(model->tags.at("mlflow.model_uuid"), "5b1c6a0e2f9c4d0e9a8b7c6d5e4f3a2b");
}

TEST_F(MlflowModelTest, ImportedBoosterRegistersAndPredictsLikePython) {
  const PythonModels* python = TrainedModels();
  ASSERT_NE(python, nullptr);
  auto model = ReadMlflowModel(WriteRun());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto db = Db::Open(dir_.File("db"));
  ASSERT_TRUE(db.ok());
  ManualClock clock(1767225600000);
  auto registry = ModelRegistry::Open(db->get(), dir_.path(), &clock);
  ASSERT_TRUE(registry.ok());
  auto v = (*registry)->Register("churn", model->artifact_path, model->runtime,
                                 ToRegisterOptions(*model));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->num_features, 20);
  EXPECT_EQ(v->artifact_name, "model.xgb");
  EXPECT_EQ(v->params.at("max_depth"), "4");
  EXPECT_EQ(v->metrics.at("auc"), 0.912);
  EXPECT_EQ(v->lineage.created_by, "erin");
  EXPECT_EQ(v->tags.at("mlflow.run_id"), "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
  ModelCache cache;
  auto runtime = cache.Get(*v);
  ASSERT_TRUE(runtime.ok()) << runtime.status().ToString();
  std::vector<float> out;
  ASSERT_TRUE((*runtime)
                  ->Predict(python->rows.data(), PythonModels::kRows, PythonModels::kFeatures, &out)
                  .ok());
  ASSERT_EQ(out.size(), PythonModels::kRows);
  for (size_t r = 0; r < out.size(); ++r) EXPECT_NEAR(out[r], python->tree_expected[r], 1e-6);
}

TEST_F(MlflowModelTest, FilesBesideTheModelAreReadWithoutARun) {
  std::string dir = WriteRun();
  fs::path standalone = fs::path(dir_.path()) / "exported";
  fs::create_directories(standalone / "metrics");
  fs::copy(dir, standalone, fs::copy_options::recursive);
  WriteFile((standalone / "metrics/rmse").string(), "1767225600000 0.25 0\n");
  auto model = ReadMlflowModel(standalone.string());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->metrics, (std::map<std::string, double>{{"rmse", 0.25}}));
  EXPECT_TRUE(model->params.empty());
  EXPECT_EQ(model->created_by, "");
}

TEST_F(MlflowModelTest, UnusableDirectoriesAreRefusedSayingWhy) {
  std::string dir = WriteRun();
  auto message = [](const std::string& d) {
    auto m = ReadMlflowModel(d);
    EXPECT_FALSE(m.ok());
    return m.ok() ? std::string() : m.status().message();
  };
  EXPECT_EQ(message(dir_.path()),
            "MLflow model " + dir_.path() + ": no MLmodel file (not an MLflow model directory)");

  fs::remove(dir + "/model.xgb");
  EXPECT_EQ(message(dir),
            "MLflow model " + dir + ": flavors.xgboost.data names model.xgb, which is not a file");

  WriteFile(dir + "/MLmodel",
            "flavors:\n  python_function: {loader_module: mlflow.sklearn}\n  sklearn: "
            "{pickled_model: model.pkl}\n");
  EXPECT_EQ(message(dir), "MLflow model " + dir +
                              ": no supported flavor (found: python_function, sklearn; "
                              "supported: xgboost, pytorch as TorchScript)");

  WriteFile(dir + "/MLmodel", "flavors:\n  pytorch: {model_data: data, pytorch_version: 2.1.0}\n");
  fs::create_directories(dir + "/data");
  WriteFile(dir + "/data/model.pth", std::string("PK\x03\x04", 4) + "archive/data.pkl");
  EXPECT_NE(message(dir).find("is a pickled Python module, not TorchScript"), std::string::npos);

  WriteFile(dir + "/MLmodel", "flavors: [unclosed\n");
  EXPECT_NE(message(dir).find("MLmodel line"), std::string::npos);

  WriteFile(dir + "/MLmodel", kXgboostMlmodel);
  fs::copy_file(TrainedModels()->tree_legacy_binary, dir + "/model.xgb");
  fs::create_directories(dir + "/metrics");
  WriteFile(dir + "/metrics/bad", "1767225600000 high 0\n");
  EXPECT_NE(message(dir).find("metric file " + dir + "/metrics/bad does not end in"),
            std::string::npos);
}

TEST_F(MlflowModelTest, TorchScriptArchiveIsRoutedToTheTorchscriptRuntime) {
  std::string dir = WriteRun();
  WriteFile(dir + "/MLmodel", "flavors:\n  pytorch: {model_data: data, pytorch_version: 2.1.0}\n");
  fs::create_directories(dir + "/data");
  // The layout of a torch.jit.save archive's entries (not a loadable model: routing only).
  WriteFile(
      dir + "/data/model.pth",
      std::string("PK\x03\x04", 4) + "model/data.pkl model/code/__torch__.py model/constants.pkl");
  auto model = ReadMlflowModel(dir);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->runtime, "torchscript");
  EXPECT_EQ(model->flavor, "pytorch");
  EXPECT_EQ(model->artifact_path, dir + "/data/model.pth");
  EXPECT_EQ(model->artifact_name, "model.pt");
}

}  // namespace
}  // namespace freshet
