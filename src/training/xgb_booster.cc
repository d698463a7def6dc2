#include "training/xgb_booster.h"

#include <fmt/format.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <limits>

#include "core/parse_int.h"
#include "models/xgboost_error.h"

namespace freshet {
namespace {

struct DMatrixDeleter {
  void operator()(void* matrix) const { XGDMatrixFree(matrix); }
};
using DMatrixPtr = std::unique_ptr<void, DMatrixDeleter>;

// The rows of `data` with their labels; missing values are NaN.
Result<DMatrixPtr> MakeDMatrix(const TrainingSet& data) {
  DMatrixHandle handle = nullptr;
  RETURN_IF_ERROR(CheckXgb(XGDMatrixCreateFromMat(data.x.data(), data.rows(), data.cols(),
                                                  std::numeric_limits<float>::quiet_NaN(), &handle),
                           StatusCode::kInvalidArgument, "create DMatrix"));
  DMatrixPtr matrix(handle);
  RETURN_IF_ERROR(CheckXgb(XGDMatrixSetFloatInfo(handle, "label", data.y.data(), data.rows()),
                           StatusCode::kInvalidArgument, "set labels"));
  return matrix;
}

}  // namespace

void XgbBooster::Deleter::operator()(void* booster) const { XGBoosterFree(booster); }

XgbBooster::~XgbBooster() = default;

Result<XgbBooster> XgbBooster::Train(const TrainingSet& data,
                                     const std::map<std::string, std::string>& params) {
  if (data.rows() == 0) return Status::InvalidArgument("xgboost train: no rows");
  auto rounds_it = params.find(std::string(kRoundsParam));
  if (rounds_it == params.end()) {
    return Status::InvalidArgument(fmt::format("xgboost train: no {}", kRoundsParam));
  }
  ASSIGN_OR_RETURN(int64_t rounds, ParseInt64InRange(rounds_it->second, kRoundsParam, 1, 100'000));
  ASSIGN_OR_RETURN(DMatrixPtr matrix, MakeDMatrix(data));
  DMatrixHandle matrices[] = {matrix.get()};
  BoosterHandle handle = nullptr;
  RETURN_IF_ERROR(
      CheckXgb(XGBoosterCreate(matrices, 1, &handle), StatusCode::kInternal, "create booster"));
  XgbBooster booster(handle);
  for (const auto& [key, value] : params) {
    if (key == kRoundsParam) continue;
    RETURN_IF_ERROR(CheckXgb(XGBoosterSetParam(handle, key.c_str(), value.c_str()),
                             StatusCode::kInvalidArgument,
                             fmt::format("parameter {}={}", key, value)));
  }
  for (int64_t round = 0; round < rounds; ++round) {
    RETURN_IF_ERROR(CheckXgb(XGBoosterUpdateOneIter(handle, static_cast<int>(round), matrix.get()),
                             StatusCode::kInvalidArgument,
                             fmt::format("train round {}", round + 1)));
  }
  return booster;
}

Result<std::vector<float>> XgbBooster::Predict(const TrainingSet& data) const {
  ASSIGN_OR_RETURN(DMatrixPtr matrix, MakeDMatrix(data));
  bst_ulong length = 0;
  const float* result = nullptr;
  RETURN_IF_ERROR(CheckXgb(XGBoosterPredict(booster_.get(), matrix.get(), /*option_mask=*/0,
                                            /*ntree_limit=*/0, /*training=*/0, &length, &result),
                           StatusCode::kInternal, "predict"));
  if (length != data.rows()) {
    return Status::Internal(
        fmt::format("xgboost predict: {} values for {} rows", length, data.rows()));
  }
  return std::vector<float>(result, result + length);
}

Status XgbBooster::Save(const std::string& path) const {
  return CheckXgb(XGBoosterSaveModel(booster_.get(), path.c_str()), StatusCode::kIoError,
                  "save " + path);
}

}  // namespace freshet
