#include "models/xgboost_runtime.h"

#include <fmt/format.h>
#include <xgboost/c_api.h>

#include <cstdint>
#include <filesystem>
#include <limits>

#include "models/xgboost_error.h"

namespace freshet {
namespace {

// Normal prediction over all trees. XGBoost parses these JSON arguments on every call, and its
// parser builds a std::ostringstream (locale set-up included) for every string, keys too: about
// half of a single row's cost. So each config holds only the keys its call requires, no spaces.
// In-place prediction (XGBoost 1.7): "missing": NaN matches the ModelRuntime contract and
// "cache_id" must be 0.
constexpr char kInplaceConfig[] =
    R"({"type":0,"iteration_begin":0,"iteration_end":0,"strict_shape":false,"missing":NaN,)"
    R"("cache_id":0})";
// Prediction from a DMatrix, whose missing value was given when it was built.
constexpr char kDMatrixConfig[] =
    R"({"type":0,"training":false,"iteration_begin":0,"iteration_end":0,"strict_shape":false})";

// Copies XGBoost's thread-local result buffer, which the next call on this thread overwrites.
void CopyPrediction(const bst_ulong* shape, bst_ulong dim, const float* result,
                    std::vector<float>* out) {
  size_t size = dim == 0 ? 0 : 1;
  for (bst_ulong i = 0; i < dim; ++i) size *= shape[i];
  out->assign(result, result + size);
}

}  // namespace

void XgboostRuntime::BoosterDeleter::operator()(void* handle) const { XGBoosterFree(handle); }
void XgboostRuntime::DMatrixDeleter::operator()(void* handle) const { XGDMatrixFree(handle); }

XgboostRuntime::XgboostRuntime() = default;
XgboostRuntime::~XgboostRuntime() = default;

std::string XgboostRuntime::library_version() const {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return fmt::format("{}.{}.{}", major, minor, patch);
}

Status XgboostRuntime::Load(const std::string& artifact_path) {
  if (booster_) return Status::FailedPrecondition("xgboost runtime is already loaded");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(artifact_path, ec)) {
    return Status::InvalidArgument(fmt::format("model artifact {} is not a file", artifact_path));
  }
  BoosterHandle handle = nullptr;
  RETURN_IF_ERROR(CheckXgb(XGBoosterCreate(nullptr, 0, &handle), StatusCode::kInternal, "create"));
  BoosterPtr booster(handle);
  RETURN_IF_ERROR(CheckXgb(XGBoosterLoadModel(handle, artifact_path.c_str()),
                           StatusCode::kInvalidArgument, "load " + artifact_path));
  RETURN_IF_ERROR(
      CheckXgb(XGBoosterSetParam(handle, "nthread", "1"), StatusCode::kInternal, "set nthread"));
  bst_ulong features = 0;
  RETURN_IF_ERROR(CheckXgb(XGBoosterGetNumFeature(handle, &features), StatusCode::kInvalidArgument,
                           "read feature count"));
  if (features == 0) {
    return Status::InvalidArgument(fmt::format("xgboost model {} has no features", artifact_path));
  }
  booster_ = std::move(booster);
  num_features_ = static_cast<int64_t>(features);
  Status warm = WarmUp();
  if (!warm.ok()) {  // Not loaded: a retry starts from scratch.
    booster_.reset();
    num_features_ = -1;
    use_dmatrix_ = false;
  }
  return warm;
}

Status XgboostRuntime::WarmUp() {
  std::vector<float> row(static_cast<size_t>(num_features_),
                         std::numeric_limits<float>::quiet_NaN());
  std::vector<float> out;
  if (PredictInplace(row.data(), 1, row.size(), &out).ok()) return Status::Ok();
  use_dmatrix_ = true;
  return PredictWithDMatrix(row.data(), 1, row.size(), &out)
      .WithContext("xgboost model cannot predict");
}

Status XgboostRuntime::Predict(const float* rows, size_t n_rows, size_t n_cols,
                               std::vector<float>* out) const {
  if (!booster_) return Status::FailedPrecondition("xgboost runtime: Predict before Load");
  if (static_cast<int64_t>(n_cols) != num_features_) {
    return Status::InvalidArgument(
        fmt::format("xgboost model expects {} features, got {}", num_features_, n_cols));
  }
  if (n_rows == 0) {
    out->clear();
    return Status::Ok();
  }
  if (rows == nullptr) return Status::InvalidArgument("xgboost runtime: rows is null");
  return use_dmatrix_ ? PredictWithDMatrix(rows, n_rows, n_cols, out)
                      : PredictInplace(rows, n_rows, n_cols, out);
}

Status XgboostRuntime::PredictInplace(const float* rows, size_t n_rows, size_t n_cols,
                                      std::vector<float>* out) const {
  // NumPy's __array_interface__ (version 3; every key is required): XGBoost reads the caller's
  // buffer in place. Three numbers of at most 20 digits and the fixed text (about 120
  // characters) fit; a truncated text would be refused by XGBoost, never read past.
  char array[160];
  auto end = fmt::format_to_n(array, sizeof(array) - 1,
                              R"({{"data":[{},true],"shape":[{},{}],"typestr":"<f4","version":3}})",
                              reinterpret_cast<uintptr_t>(rows), n_rows, n_cols);
  *end.out = '\0';
  ASSIGN_OR_RETURN(DMatrixPtr proxy, AcquireProxy());
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  Status status = CheckXgb(XGBoosterPredictFromDense(booster_.get(), array, kInplaceConfig,
                                                     proxy.get(), &shape, &dim, &result),
                           StatusCode::kInternal, "predict");
  if (status.ok()) CopyPrediction(shape, dim, result, out);
  ReleaseProxy(std::move(proxy));
  return status;
}

Result<XgboostRuntime::DMatrixPtr> XgboostRuntime::AcquireProxy() const {
  {
    std::lock_guard<std::mutex> lock(proxies_mu_);
    if (!idle_proxies_.empty()) {
      DMatrixPtr proxy = std::move(idle_proxies_.back());
      idle_proxies_.pop_back();
      return proxy;
    }
  }
  DMatrixHandle handle = nullptr;
  RETURN_IF_ERROR(
      CheckXgb(XGProxyDMatrixCreate(&handle), StatusCode::kInternal, "create proxy DMatrix"));
  return DMatrixPtr(handle);
}

void XgboostRuntime::ReleaseProxy(DMatrixPtr proxy) const {
  std::lock_guard<std::mutex> lock(proxies_mu_);
  idle_proxies_.push_back(std::move(proxy));
}

Status XgboostRuntime::PredictWithDMatrix(const float* rows, size_t n_rows, size_t n_cols,
                                          std::vector<float>* out) const {
  DMatrixHandle handle = nullptr;
  RETURN_IF_ERROR(CheckXgb(XGDMatrixCreateFromMat(rows, n_rows, n_cols,
                                                  std::numeric_limits<float>::quiet_NaN(), &handle),
                           StatusCode::kInternal, "create DMatrix"));
  DMatrixPtr dmatrix(handle);
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  std::lock_guard<std::mutex> lock(dmatrix_mu_);
  RETURN_IF_ERROR(CheckXgb(
      XGBoosterPredictFromDMatrix(booster_.get(), handle, kDMatrixConfig, &shape, &dim, &result),
      StatusCode::kInternal, "predict"));
  CopyPrediction(shape, dim, result, out);
  return Status::Ok();
}

}  // namespace freshet
