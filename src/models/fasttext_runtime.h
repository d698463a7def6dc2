// FasttextRuntime ("fasttext"): fastText 0.9 models (Debian libfasttext) in the `.bin` format
// the fastText CLI and library save: supervised classifiers (PredictText, SentenceVectors) and
// unsupervised word-vector models (cbow, skipgram: SentenceVectors only). Quantized models
// (`.ftz`) are refused. Its input() is kText; Predict (float rows) is refused.
//
// fastText's loader trusts the file: a truncated dictionary makes it loop forever, and corrupt
// sizes make it allocate without bound or later read outside its matrices. Load therefore reads
// the file into memory and checks the whole structure (magic number, version, arguments,
// dictionary, both matrices' shapes against the dictionary and arguments, exact length) before
// fastText parses those same bytes; every exception fastText throws becomes a Status. Format
// details: docs/models.md.
//
// Thread-safety: as ModelRuntime. PredictText calls run in parallel (fastText's prediction is
// const and keeps its state per call). SentenceVectors calls are serialized by a mutex:
// fastText's getSentenceVector is not declared const, so no concurrency is assumed there.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "models/model_runtime.h"

namespace freshet {

class FasttextRuntime final : public ModelRuntime {
 public:
  static constexpr std::string_view kName = "fasttext";

  FasttextRuntime();
  ~FasttextRuntime() override;

  std::string_view name() const override { return kName; }
  RuntimeInput input() const override { return RuntimeInput::kText; }
  Status Load(const std::string& artifact_path) override;
  // Always kInvalidArgument (or kFailedPrecondition before Load): fastText takes text.
  Status Predict(const float* rows, size_t n_rows, size_t n_cols,
                 std::vector<float>* out) const override;
  int64_t num_features() const override { return -1; }
  Status PredictText(const std::vector<std::string>& texts, int32_t k, float threshold,
                     std::vector<std::vector<TextLabel>>* out) const override;
  Status SentenceVectors(const std::vector<std::string>& texts,
                         std::vector<float>* out) const override;

  // The width of a sentence vector; -1 before Load.
  int64_t dimension() const { return dimension_; }
  // The number of labels of a supervised model; 0 for word-vector models and before Load.
  int64_t num_labels() const { return num_labels_; }

 private:
  class Model;  // fastText's FastText, kept out of this header

  std::unique_ptr<Model> model_;
  int64_t dimension_ = -1;
  int64_t num_labels_ = 0;
  bool supervised_ = false;
  mutable std::mutex sentence_mu_;  // serializes SentenceVectors
};

}  // namespace freshet
