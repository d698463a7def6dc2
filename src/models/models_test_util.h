// Test support for the models module: a scratch directory per test, running the model tools
// (Debian's /usr/bin/python3 with python3-xgboost, python3-torch, python3-sklearn; the fasttext
// CLI), and models trained by real Python XGBoost together with the predictions Python made for
// a fixed set of rows, so C++ results can be compared to them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "models/model_runtime.h"

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

// Debian's Python, which has the python3-* packages (not whatever python3 is first on PATH).
inline constexpr std::string_view kPython = "/usr/bin/python3";

// Runs `command` through the shell, its output going to a log file in `dir`. On a non-zero exit
// records a test failure showing the command and its log, and returns false.
bool RunCommand(const std::string& command, const ScopedTempDir& dir);

// Appends the comma-separated floats of every line of `path` to *out; false unless the file has
// exactly `rows` lines of `width` values each.
bool ReadCsvFloats(const std::string& path, size_t width, size_t rows, std::vector<float>* out);

struct PythonModels {
  static constexpr size_t kFeatures = 20;
  static constexpr size_t kRows = 50;
  static constexpr size_t kClasses = 3;  // of the multi-class model
  // One binary:logistic gbtree model of 100 trees, saved in each format XGBoost loads.
  std::string tree_json;
  std::string tree_ubj;
  std::string tree_legacy_binary;
  // A binary:logistic gblinear model (no in-place prediction in XGBoost).
  std::string gblinear_json;
  // A multi:softprob gbtree model over kClasses classes.
  std::string multiclass_json;
  std::string multiclass_ubj;
  // A reg:squarederror gbtree model; the legacy binary file has the old `.model` extension.
  std::string regression_json;
  std::string regression_legacy_binary;
  std::vector<float> rows;                 // kRows x kFeatures, row-major; about 10% NaN (missing)
  std::vector<float> tree_expected;        // Python's prediction per row
  std::vector<float> gblinear_expected;    // Python's prediction per row
  std::vector<float> multiclass_expected;  // kRows x kClasses probabilities, row-major
  std::vector<float> regression_expected;  // Python's prediction per row
};

// Trains the models once per test process; nullptr (with a test failure recorded) when Python
// fails. The files live until the process exits.
const PythonModels* TrainedModels();

// fastText: a generated corpus of three topics (__label__sports: goal striker match referee
// league score; __label__food: recipe oven flour sugar bake spice; __label__tech: compiler kernel
// thread cache server code) with a few shared words, 300 lines.
void WriteFasttextCorpus(const std::string& path);
// One line per text of `fasttext predict-prob` output: "label prob label prob ...".
std::vector<std::vector<TextLabel>> ReadFasttextPredictions(const std::string& path);
// One line per text of `fasttext print-sentence-vectors` output: space-separated floats.
std::vector<std::vector<float>> ReadFasttextVectors(const std::string& path);

// A supervised fastText model (dimension 10) the fasttext CLI trained on WriteFasttextCorpus.
struct FasttextClassifier {
  static constexpr int kDim = 10;
  ScopedTempDir dir{"fasttext_classifier"};
  std::string path;  // the .bin
};
// Trains it once per test process; nullptr (with a test failure recorded) when the CLI fails.
const FasttextClassifier* TrainedFasttextClassifier();
// The CLI's own answers for `texts` (one line each): `predict-prob MODEL - k` and
// `print-sentence-vectors MODEL`. Empty (with a test failure recorded) when the CLI fails.
std::vector<std::vector<TextLabel>> FasttextPredictProb(const FasttextClassifier& model,
                                                        const std::vector<std::string>& texts,
                                                        int k);
std::vector<std::vector<float>> FasttextSentenceVectors(const FasttextClassifier& model,
                                                        const std::vector<std::string>& texts);

}  // namespace freshet::testing
