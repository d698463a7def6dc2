// MergePredictCalls: answers several predict calls with as few Predictor::Predict calls as it
// can. Calls that can share one (same deployment, as_of, top_k, entity keys and context fields)
// are merged, up to `max_rows` entity rows, into one call over their concatenated rows (one
// feature read, one release, one model call), whose Prediction is split back per call. Since
// every row of a predict call is read and scored on its own, each call's answer is the one it
// would get alone, except that merged calls share one release and model version.
//
// A call whose entity columns or context columns do not all have the same number of rows is not
// merged (alone it gets its own error). When a merged call fails, each of its calls runs alone,
// so an error is only ever the failing call's own, naming its own rows.
//
// Thread-safety: as Predictor::Predict.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "serving/predictor.h"

namespace freshet {

// One predict call; the pointed-to values must outlive MergePredictCalls.
struct PredictCall {
  const std::string* deployment = nullptr;
  const EntityColumns* entities = nullptr;
  std::optional<int64_t> as_of_ms;
  const PredictContext* context = nullptr;
  int32_t top_k = 1;
};

// The answer to each of `calls`, in order.
std::vector<Result<Prediction>> MergePredictCalls(Predictor* predictor,
                                                  std::span<const PredictCall> calls,
                                                  size_t max_rows = 64);

// Rows [begin, begin + count) of `p`, a prediction of `rows` entity rows, as a Prediction of
// its own: their outputs, versions, models and feature values; `model` and `version` those of
// its first row.
Prediction PredictionRows(const Prediction& p, size_t rows, size_t begin, size_t count);

}  // namespace freshet
