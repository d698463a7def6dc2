// ModelRuntime: the interface every model backend implements (xgboost, linear, torchscript,
// fasttext), created by runtime name so a registry entry or a freshet.yaml `runtime:` field picks
// the implementation.
//
// Input kinds: most runtimes score rows of float features (Predict); fastText scores text
// (PredictText, SentenceVectors). input() tells a caller which entry points a runtime serves;
// the others return kInvalidArgument naming the input the runtime does take.
//
// Lifecycle (after Triton's backend contract):
//   1. CreateRuntime(name) returns a fresh, unloaded runtime owned by the caller.
//   2. Load(path) is called exactly once, by one thread. The runtime reads the artifact and keeps
//      whatever it needs in memory; it does not keep the file open or depend on it afterwards.
//   3. Predict() may then be called concurrently from any number of threads. A loaded runtime
//      never changes, which is why it is handed out as shared_ptr<const ModelRuntime>
//      (models/model_cache.h): whoever holds one can keep predicting while a newer version is
//      swapped in elsewhere.
//   4. Destruction releases the model; the owner must ensure no Predict is in flight.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace freshet {

// What a runtime's entry points take.
enum class RuntimeInput {
  kFeatureRows,  // Predict: row-major float features
  kText,         // PredictText and SentenceVectors: UTF-8 texts
};

// "feature_rows" or "text", for messages and API responses.
std::string_view RuntimeInputName(RuntimeInput input);

// One label of a text classification, with the model's probability for it.
struct TextLabel {
  std::string label;
  float probability = 0;
};

class ModelRuntime {
 public:
  virtual ~ModelRuntime() = default;

  // The name this runtime is created by, e.g. "xgboost".
  virtual std::string_view name() const = 0;

  // Reads the model at `artifact_path`. A file the runtime cannot use is kInvalidArgument (the
  // registry relies on this to reject bad artifacts); an unreadable file is kIoError or
  // kInvalidArgument. A second call returns kFailedPrecondition: a loaded runtime is immutable.
  virtual Status Load(const std::string& artifact_path) = 0;

  // Scores `n_rows` rows of `n_cols` features stored row-major at `rows`; a missing feature value
  // is NaN. Replaces *out with the model's outputs, row-major: one value per row for regression
  // and binary models, one per class for multi-class probabilities (out->size() / n_rows).
  // kFailedPrecondition before a successful Load; kInvalidArgument when `n_cols` does not match
  // a known num_features(). Thread-safe after Load.
  virtual Status Predict(const float* rows, size_t n_rows, size_t n_cols,
                         std::vector<float>* out) const = 0;

  // The number of input features the loaded model expects, or -1 when the model does not say
  // (and always -1 for text runtimes).
  virtual int64_t num_features() const = 0;

  // The version of the library that scores the model (XGBoost's XGBoostVersion(), ...), for a
  // version's lineage; empty for runtimes that are freshet's own code. Callable before Load.
  virtual std::string library_version() const { return ""; }

  // Which entry points this runtime serves. Fixed per runtime type; valid before Load.
  virtual RuntimeInput input() const { return RuntimeInput::kFeatureRows; }

  // Text classification: replaces *out with one entry per text, each the at most `k` (>= 1)
  // most probable labels whose probability is >= `threshold`, most probable first. A text is
  // scored as one line (line breaks count as spaces). kFailedPrecondition before Load or when
  // the model is not a classifier; kInvalidArgument for k < 1 and for runtimes whose input() is
  // not kText. Thread-safe after Load.
  virtual Status PredictText(const std::vector<std::string>& texts, int32_t k, float threshold,
                             std::vector<std::vector<TextLabel>>* out) const;

  // One embedding per text: replaces *out with texts.size() rows of out->size() / texts.size()
  // floats, row-major. Errors as PredictText. Thread-safe after Load.
  virtual Status SentenceVectors(const std::vector<std::string>& texts,
                                 std::vector<float>* out) const;

 protected:
  // kInvalidArgument: this runtime does not take `requested` input (it takes input()).
  Status WrongInput(RuntimeInput requested) const;
};

// Creates an unloaded runtime by name. Unknown name: kInvalidArgument listing the known ones.
Result<std::unique_ptr<ModelRuntime>> CreateRuntime(std::string_view name);

// The names CreateRuntime accepts, sorted.
std::vector<std::string> KnownRuntimes();

// CreateRuntime + Load: the usual way to get a ready runtime from an artifact.
Result<std::unique_ptr<ModelRuntime>> LoadRuntime(std::string_view name,
                                                  const std::string& artifact_path);

}  // namespace freshet
