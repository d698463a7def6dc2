#include "models/models_test_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace freshet::testing {
namespace {

// Trains on noisy linear data with ~5% missing values, then scores 50 fresh rows (~10% missing)
// with the ordinary DMatrix predict path, which the C++ in-place path must match.
constexpr char kTrainScript[] = R"PY(
import sys
import numpy as np
import xgboost as xgb

out = sys.argv[1]
n_features, n_train, n_rows = 20, 2000, 50
rng = np.random.default_rng(7)
x = rng.normal(size=(n_train, n_features)).astype(np.float32)
x[rng.random(x.shape) < 0.05] = np.nan
w = rng.normal(size=n_features)
y = ((np.nan_to_num(x) @ w + rng.normal(size=n_train)) > 0).astype(np.float32)
train = xgb.DMatrix(x, label=y, missing=np.nan)
tree = xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.1, "nthread": 1,
                  "seed": 1}, train, num_boost_round=100)
assert tree.num_boosted_rounds() == 100
tree.save_model(out + "/tree.json")
tree.save_model(out + "/tree.ubj")
tree.save_model(out + "/tree.bin")
linear = xgb.train({"booster": "gblinear", "objective": "binary:logistic", "nthread": 1},
                   train, num_boost_round=20)
linear.save_model(out + "/gblinear.json")
rows = rng.normal(size=(n_rows, n_features)).astype(np.float32)
rows[rng.random(rows.shape) < 0.1] = np.nan
test = xgb.DMatrix(rows, missing=np.nan)
with open(out + "/expected.csv", "w") as f:
    for row, p_tree, p_linear in zip(rows, tree.predict(test), linear.predict(test)):
        values = [repr(float(v)) for v in row] + [repr(float(p_tree)), repr(float(p_linear))]
        f.write(",".join(values) + "\n")
)PY";

// Parses expected.csv: kFeatures values, then the tree and gblinear predictions, per line.
bool ReadExpected(const std::string& path, PythonModels* models) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string field;
    std::vector<float> values;
    while (std::getline(fields, field, ',')) values.push_back(std::strtof(field.c_str(), nullptr));
    if (values.size() != PythonModels::kFeatures + 2) return false;
    models->rows.insert(models->rows.end(), values.begin(), values.end() - 2);
    models->tree_expected.push_back(values[PythonModels::kFeatures]);
    models->gblinear_expected.push_back(values[PythonModels::kFeatures + 1]);
  }
  return models->tree_expected.size() == PythonModels::kRows;
}

std::unique_ptr<PythonModels> Train(const ScopedTempDir& dir) {
  WriteFile(dir.File("train.py"), kTrainScript);
  std::string command = "/usr/bin/python3 " + dir.File("train.py") + " " + dir.path() + " > " +
                        dir.File("log") + " 2>&1";
  if (std::system(command.c_str()) != 0) {
    std::ifstream log(dir.File("log"));
    std::stringstream text;
    text << log.rdbuf();
    ADD_FAILURE() << "training with python failed:\n" << text.str();
    return nullptr;
  }
  auto models = std::make_unique<PythonModels>();
  models->tree_json = dir.File("tree.json");
  models->tree_ubj = dir.File("tree.ubj");
  models->tree_legacy_binary = dir.File("tree.bin");
  models->gblinear_json = dir.File("gblinear.json");
  if (!ReadExpected(dir.File("expected.csv"), models.get())) {
    ADD_FAILURE() << "python wrote an unexpected " << dir.File("expected.csv");
    return nullptr;
  }
  return models;
}

}  // namespace

ScopedTempDir::ScopedTempDir(std::string_view tag) {
  static std::atomic<int> counter{0};
  path_ = (std::filesystem::temp_directory_path() /
           ("freshet_models_" + std::string(tag) + "_" + std::to_string(::getpid()) + "_" +
            std::to_string(counter.fetch_add(1))))
              .string();
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

ScopedTempDir::~ScopedTempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ScopedTempDir::File(std::string_view name) const {
  return path_ + "/" + std::string(name);
}

void WriteFile(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) ADD_FAILURE() << "cannot write " << path;
}

const PythonModels* TrainedModels() {
  // Function-local statics: trained on first use, directory removed at process exit.
  static ScopedTempDir dir("python");
  static std::unique_ptr<PythonModels> models = Train(dir);
  return models.get();
}

}  // namespace freshet::testing
