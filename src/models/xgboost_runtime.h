// XgboostRuntime: ModelRuntime over XGBoost 1.7's C API. Loads .json, .ubj and legacy binary
// models (XGBoosterLoadModel picks the format by file extension).
//
// Prediction is tuned for the serving path's small batches: tree boosters (gbtree, dart) score
// with XGBoosterPredictFromDense (in-place, no DMatrix built per call) on the calling thread
// (nthread = 1; concurrency comes from the callers, not from an OpenMP pool per request).
// XGBoost 1.7 documents prediction on tree boosters as thread-safe, with results in thread-local
// buffers, so those Predict calls run in parallel (holding a lock only to borrow a proxy DMatrix
// from a pool). gblinear has no in-place prediction; it is scored through a DMatrix under a
// mutex, since XGBoost promises no thread-safety for it.
//
// Thread-safety: as ModelRuntime (Load once, then Predict from any thread).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

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
  // "major.minor.patch" of the linked libxgboost (XGBoostVersion()).
  std::string library_version() const override;

 private:
  // XGBoost's opaque handles (BoosterHandle, DMatrixHandle), freed by their XGBoost functions.
  struct BoosterDeleter {
    void operator()(void* handle) const;
  };
  struct DMatrixDeleter {
    void operator()(void* handle) const;
  };
  using BoosterPtr = std::unique_ptr<void, BoosterDeleter>;
  using DMatrixPtr = std::unique_ptr<void, DMatrixDeleter>;

  Status PredictInplace(const float* rows, size_t n_rows, size_t n_cols,
                        std::vector<float>* out) const;
  Status PredictWithDMatrix(const float* rows, size_t n_rows, size_t n_cols,
                            std::vector<float>* out) const;
  // Scores one all-missing row so XGBoost configures the booster here, single-threaded, rather
  // than inside the first concurrent Predict; on failure, switches to the DMatrix path.
  Status WarmUp();
  // In-place prediction reads the rows through a proxy DMatrix. Given none, XGBoost builds one
  // per call, and building one reads cgroup files (two file opens, most of a small batch's
  // latency). A proxy is rebound to each call's rows, so every concurrent caller borrows its
  // own from this pool, which grows to the peak number of concurrent callers.
  Result<DMatrixPtr> AcquireProxy() const;
  void ReleaseProxy(DMatrixPtr proxy) const;

  BoosterPtr booster_;
  int64_t num_features_ = -1;
  bool use_dmatrix_ = false;
  // Serializes the DMatrix path only.
  mutable std::mutex dmatrix_mu_;
  mutable std::mutex proxies_mu_;
  mutable std::vector<DMatrixPtr> idle_proxies_;  // guarded by proxies_mu_
};

}  // namespace freshet
