// LinearRuntime ("linear"): linear models in a small JSON artifact, in one of two forms.
//
// Hand-written (a single output):
//   {"weights": [w0, w1, ...], "bias": b, "link": "identity" | "logistic"}
// ("bias" defaults to 0 and "link" to "identity").
//
// Exported from scikit-learn's linear models (scripts/export_sklearn_linear.py):
//   {"kind": "regression" | "logistic" | "multinomial" | "ovr",
//    "coef": [[w00, w01, ...], ...] or [w0, w1, ...],  "intercept": [b0, ...] or b0,
//    "classes": [c0, c1, ...], "estimator": "LogisticRegression"}
// with `coef` and `intercept` as sklearn's coef_ and intercept_ (one row per output), `classes`
// (optional, strings or numbers) naming the outputs and `estimator` (optional) for people. Per
// kind, with z_k = intercept_k + coef_k . x:
//   regression   identity: one output per coef row (ElasticNet, Ridge, LinearRegression, ...)
//   logistic     one coef row, P(classes[1]) = sigmoid(z_0): binary LogisticRegression
//   multinomial  softmax over the rows: one probability per class
//   ovr          sigmoid per row, normalized to sum 1: one-vs-rest LogisticRegression
// which is what sklearn's predict (regression) and predict_proba (the positive column for
// logistic) return. A missing (NaN) feature contributes nothing, as if it were 0.
//
// Thread-safety: as ModelRuntime (Load once, then Predict from any thread; Predict reads only).
#pragma once

#include <string>
#include <vector>

#include "models/model_runtime.h"

namespace freshet {

class LinearRuntime final : public ModelRuntime {
 public:
  static constexpr std::string_view kName = "linear";

  // How the linear scores z_k become outputs.
  enum class Link { kIdentity, kLogistic, kSoftmax, kOneVsRest };

  std::string_view name() const override { return kName; }
  Status Load(const std::string& artifact_path) override;
  Status Predict(const float* rows, size_t n_rows, size_t n_cols,
                 std::vector<float>* out) const override;
  int64_t num_features() const override { return loaded_ ? static_cast<int64_t>(n_features_) : -1; }

  // The outputs' class names ("classes"; numbers as their JSON text), empty when not given.
  const std::vector<std::string>& classes() const { return classes_; }

 private:
  // Parses the artifact's JSON text into the members; `path` is for messages only.
  Status Parse(const std::string& text, const std::string& path);
  // Writes the row's outputs to `out` (outputs() of them); `scores` (one per intercept) is
  // scratch space.
  void Score(const float* row, std::vector<double>* scores, float* out) const;
  size_t outputs() const { return link_ == Link::kLogistic ? 1 : intercepts_.size(); }

  bool loaded_ = false;
  size_t n_features_ = 0;
  std::vector<double> weights_;     // one row of n_features_ per linear score, row-major
  std::vector<double> intercepts_;  // one per linear score
  Link link_ = Link::kIdentity;
  std::vector<std::string> classes_;
};

}  // namespace freshet
