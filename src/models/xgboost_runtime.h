// XgboostRuntime: ModelRuntime over XGBoost 1.7's C API. Loads .json, .ubj and legacy binary
// models (XGBoosterLoadModel picks the format by file extension).
//
// Prediction is tuned for the serving path's small batches: tree boosters (gbtree, dart) score
// with XGBoosterPredictFromDense (in-place, no DMatrix built per call) on the calling thread
// (nthread = 1; concurrency comes from the callers, not from an OpenMP pool per request).
// XGBoost 1.7 documents prediction on tree boosters as thread-safe, with results in thread-local
// buffers, so those Predict calls take no lock. gblinear has no in-place prediction; it is scored
// through a DMatrix under a mutex, since XGBoost promises no thread-safety for it.
//
// Thread-safety: as ModelRuntime (Load once, then Predict from any thread).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "models/model_runtime.h"

namespace freshet {

class XgboostRuntime final : public ModelRuntime {
 public:
  static constexpr std::string_view kName = "xgboost";

  XgboostRuntime();
  ~XgboostRuntime() override;

  std::string_view name() const override { return kName; }
  Status Load(const std::string& artifact_path) override;
  Status Predict(const float* rows, size_t n_rows, size_t n_cols,
                 std::vector<float>* out) const override;
  int64_t num_features() const override { return num_features_; }

 private:
  // XGBoost's opaque BoosterHandle, freed by XGBoosterFree.
  struct BoosterDeleter {
    void operator()(void* handle) const;
  };
  using BoosterPtr = std::unique_ptr<void, BoosterDeleter>;

  Status PredictInplace(const float* rows, size_t n_rows, size_t n_cols,
                        std::vector<float>* out) const;
  Status PredictWithDMatrix(const float* rows, size_t n_rows, size_t n_cols,
                            std::vector<float>* out) const;
  // Scores one all-missing row so XGBoost configures the booster here, single-threaded, rather
  // than inside the first concurrent Predict; on failure, switches to the DMatrix path.
  Status WarmUp();

  BoosterPtr booster_;
  int64_t num_features_ = -1;
  bool use_dmatrix_ = false;
  // Serializes the DMatrix path only.
  mutable std::mutex dmatrix_mu_;
};

}  // namespace freshet
