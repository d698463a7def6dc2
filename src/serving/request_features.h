// Request-time features and request inputs: model inputs computed when a prediction is made,
// from a stored feature or a field of the request's `context`, by a function freshet.yaml names
// (`request_features:` of a feature service, spec/project_spec.h RequestFeatureSpec). The same
// code computes them online (Predictor) and in the backfill (instance/service_backfill.h), so a
// training set has exactly the columns the server feeds the model.
//
// Functions, by name (a table in request_features.cc: a new one is one entry):
//   mean_sentence_vector   model: a text model (fasttext). Input: a string or a list of strings
//                          (e.g. a last_n feature of a string field). Output: the model's
//                          dimension of values, the mean of the texts' sentence vectors (as
//                          `fasttext print-sentence-vectors` prints them); all NaN (missing) for
//                          null or an empty list.
//
// Inputs (InputRef): "view:feature" reads the feature with the service's features (at now or
// `as_of`; the label's time in the backfill); "context.NAME" takes the request context's NAME
// (a labels column NAME in the backfill). A request feature's columns are named NAME_0, NAME_1, ...
//
// Thread-safety: RequestFeatures is immutable after Bind; its models are shared, loaded runtimes.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/value.h"
#include "models/model_runtime.h"
#include "spec/project_spec.h"
#include "store/feature_store.h"

namespace freshet {

// Values a predict request supplies by name, one per entity row: replacements for some of the
// service's features, and the `context.NAME` inputs of its text and request features.
using PredictContext = std::map<std::string, std::vector<Value>>;

// A request feature function. `width` and `compute` get the bound model (null when !needs_model).
struct RequestFeatureFn {
  std::string_view name;
  bool needs_model = false;
  // The number of values it computes with `model`; kInvalidArgument when it cannot use the model.
  Result<size_t> (*width)(const ModelRuntime* model) = nullptr;
  // Writes `width` (= width(model)) floats to `out`. kInvalidArgument for an input of the wrong
  // type, naming `what` (the input, as the caller wants it named).
  Status (*compute)(const ModelRuntime* model, const Value& input, std::string_view what,
                    size_t width, float* out) = nullptr;
};

// nullptr for an unknown name.
const RequestFeatureFn* FindRequestFeatureFn(std::string_view name);
// The function names, sorted (for freshet apply's CheckBuiltKinds).
std::vector<std::string> KnownRequestFeatureFns();

// Whether `name` is a `context.NAME` input (text or a request feature's `of`) of `service`.
bool IsContextInput(const FeatureServiceSpec& service, const std::string& name);

// The value of `input` for entity row `row` (< features.num_rows): from `features` (a table
// holding the input's feature) or `context`. kInvalidArgument naming `what` when the context lacks
// the field or has not one value per row; kInternal when `features` lacks the feature (a caller
// bug).
Result<const Value*> InputValue(const InputRef& input, const FeatureTable& features,
                                const PredictContext& context, size_t row, std::string_view what);

// A feature service's request features with their models loaded.
class RequestFeatures {
 public:
  // Loads the runtime of a model of `models:` (the version the server serves: its champion).
  using ModelLoader =
      std::function<Result<std::shared_ptr<const ModelRuntime>>(const std::string& model)>;

  RequestFeatures() = default;

  // kInvalidArgument naming the request feature for an unknown function, a missing or unusable
  // model; `load`'s errors pass through. REQUIRES: `service` outlives the result.
  static Result<RequestFeatures> Bind(const FeatureServiceSpec& service, const ModelLoader& load);

  bool empty() const { return features_.empty(); }
  // The number of model inputs all request features add.
  size_t width() const { return width_; }
  // NAME_0, NAME_1, ... of request feature `i`.
  std::vector<std::string> ColumnNames(size_t i) const;
  // The features their inputs read, each once, in order of first use.
  std::vector<FeatureRef> FeatureInputs() const;

  size_t size() const { return features_.size(); }
  const RequestFeatureSpec& spec(size_t i) const { return *features_[i].spec; }
  size_t width(size_t i) const { return features_[i].width; }
  // Computes request feature `i` from its input's value: width(i) floats into `out`.
  Status Compute(size_t i, const Value& input, float* out) const;

  // Online: reads the feature inputs of every row of `entities` from `store` (at `as_of_ms`),
  // takes the context inputs from `context`, and writes each row's width() values at
  // out[row * stride + offset ...]. Errors as InputValue and Compute, naming the row.
  Status ComputeRows(const FeatureStore& store, const EntityColumns& entities,
                     std::optional<int64_t> as_of_ms, const PredictContext& context, size_t rows,
                     size_t stride, size_t offset, float* out) const;

 private:
  struct Bound {
    const RequestFeatureSpec* spec;
    const RequestFeatureFn* fn;
    std::shared_ptr<const ModelRuntime> model;
    size_t width;
  };
  std::vector<Bound> features_;
  size_t width_ = 0;
};

}  // namespace freshet
