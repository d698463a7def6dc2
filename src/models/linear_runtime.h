// LinearRuntime ("linear"): a logistic or plain linear model in a small JSON artifact,
//   {"weights": [w0, w1, ...], "bias": b, "link": "identity" | "logistic"}
// ("bias" defaults to 0 and "link" to "identity"). A prediction is link(bias + sum w_i * x_i);
// a missing (NaN) feature contributes nothing, as if it were 0. It keeps simple baselines and
// hand-written rules servable, and proves the ModelRuntime interface is not XGBoost-shaped.
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

  enum class Link { kIdentity, kLogistic };

  std::string_view name() const override { return kName; }
  Status Load(const std::string& artifact_path) override;
  Status Predict(const float* rows, size_t n_rows, size_t n_cols,
                 std::vector<float>* out) const override;
  int64_t num_features() const override {
    return loaded_ ? static_cast<int64_t>(weights_.size()) : -1;
  }

 private:
  // Parses the artifact's JSON text into the members; `path` is for messages only.
  Status Parse(const std::string& text, const std::string& path);
  float Score(const float* row) const;

  bool loaded_ = false;
  std::vector<double> weights_;
  double bias_ = 0;
  Link link_ = Link::kIdentity;
};

}  // namespace freshet
