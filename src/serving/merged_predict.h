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
#include <memory>
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

// A call's answer: rows [begin, begin + count) of a Prediction of `total` rows, which it shares
// with the calls merged with it. Read-only; the accessors give this call's part.
struct PredictionRows {
  std::shared_ptr<const Prediction> all;  // never null
  size_t begin = 0;
  size_t count = 0;
  size_t total = 0;

  // This call's outputs (scores of feature-row models, labels of text models).
  std::span<const double> scores() const;
  std::span<const std::vector<TextLabel>> labels() const;
  std::span<const int64_t> versions() const;
  std::span<const std::string> models() const;  // empty unless model_by
  // The model and version of this call's first row.
  const std::string& model() const;
  int64_t version() const;
  // The status of feature `column` for this call's row `row`.
  ReadStatus status(size_t column, size_t row) const;
};

// The answer to each of `calls`, in order.
std::vector<Result<PredictionRows>> MergePredictCalls(Predictor* predictor,
                                                      std::span<const PredictCall> calls,
                                                      size_t max_rows = 64);

}  // namespace freshet
