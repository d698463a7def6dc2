// Test support for the models module: a scratch directory per test, and models trained by real
// Python XGBoost (/usr/bin/python3, Debian's python3-xgboost and numpy) together with the
// predictions Python made for a fixed set of rows, so C++ results can be compared to them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace freshet::testing {

// A fresh directory under /tmp, removed with everything in it on destruction.
class ScopedTempDir {
 public:
  explicit ScopedTempDir(std::string_view tag);
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(std::string_view name) const;

 private:
  std::string path_;
};

// Writes `text` to `path`, replacing it; fails the current test when it cannot.
void WriteFile(const std::string& path, std::string_view text);

struct PythonModels {
  static constexpr size_t kFeatures = 20;
  static constexpr size_t kRows = 50;
  // One binary:logistic gbtree model of 100 trees, saved in each format XGBoost loads.
  std::string tree_json;
  std::string tree_ubj;
  std::string tree_legacy_binary;
  // A binary:logistic gblinear model (no in-place prediction in XGBoost).
  std::string gblinear_json;
  std::vector<float> rows;               // kRows x kFeatures, row-major; about 10% NaN (missing)
  std::vector<float> tree_expected;      // Python's prediction per row
  std::vector<float> gblinear_expected;  // Python's prediction per row
};

// Trains the models once per test process; nullptr (with a test failure recorded) when Python
// fails. The files live until the process exits.
const PythonModels* TrainedModels();

}  // namespace freshet::testing
