#include "serving/request_features.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>

namespace freshet {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

Result<size_t> SentenceVectorWidth(const ModelRuntime* model) {
  if (model->input() != RuntimeInput::kText) {
    return Status::InvalidArgument(
        fmt::format("needs a text model (fasttext); runtime '{}' takes {}", model->name(),
                    RuntimeInputName(model->input())));
  }
  std::vector<float> vector;
  RETURN_IF_ERROR(model->SentenceVectors({""}, &vector));
  if (vector.empty()) return Status::InvalidArgument("the model gives empty sentence vectors");
  return vector.size();
}

Status MeanSentenceVector(const ModelRuntime* model, const Value& input, std::string_view what,
                          size_t width, float* out) {
  std::vector<std::string> texts;
  if (input.is_string()) {
    texts.push_back(input.as_string());
  } else if (input.is_list()) {
    for (const Value& item : input.as_list()) {
      if (!item.is_string()) {
        return Status::InvalidArgument(fmt::format(
            "{}: mean_sentence_vector takes a string or a list of strings, got a list holding {}",
            what, item.ToString()));
      }
      texts.push_back(item.as_string());
    }
  } else if (!input.is_null()) {
    return Status::InvalidArgument(
        fmt::format("{}: mean_sentence_vector takes a string or a list of strings, got {}", what,
                    input.ToString()));
  }
  if (texts.empty()) {
    std::fill(out, out + width, kMissing);
    return Status::Ok();
  }
  std::vector<float> vectors;
  RETURN_IF_ERROR(model->SentenceVectors(texts, &vectors));
  if (vectors.size() != texts.size() * width) {
    return Status::Internal(fmt::format("{}: sentence vectors of {} values, expected {}", what,
                                        vectors.size() / texts.size(), width));
  }
  for (size_t d = 0; d < width; ++d) {
    double sum = 0;
    for (size_t t = 0; t < texts.size(); ++t) sum += vectors[t * width + d];
    out[d] = static_cast<float>(sum / static_cast<double>(texts.size()));
  }
  return Status::Ok();
}

// Sorted by name.
constexpr std::array<RequestFeatureFn, 1> kFunctions = {{
    {"mean_sentence_vector", true, &SentenceVectorWidth, &MeanSentenceVector},
}};

}  // namespace

const RequestFeatureFn* FindRequestFeatureFn(std::string_view name) {
  for (const RequestFeatureFn& fn : kFunctions) {
    if (fn.name == name) return &fn;
  }
  return nullptr;
}

std::vector<std::string> KnownRequestFeatureFns() {
  std::vector<std::string> names;
  for (const RequestFeatureFn& fn : kFunctions) names.emplace_back(fn.name);
  return names;
}

bool IsContextInput(const FeatureServiceSpec& service, const std::string& name) {
  if (service.text && service.text->context_field == name) return true;
  return std::any_of(service.request_features.begin(), service.request_features.end(),
                     [&](const RequestFeatureSpec& f) { return f.of.context_field == name; });
}

Result<const Value*> InputValue(const InputRef& input, const FeatureTable& features,
                                const PredictContext& context, size_t row, std::string_view what) {
  if (input.from_context()) {
    auto it = context.find(input.context_field);
    if (it == context.end()) {
      return Status::InvalidArgument(
          fmt::format("{}: the request has no context.{}", what, input.context_field));
    }
    if (it->second.size() != features.num_rows) {
      return Status::InvalidArgument(fmt::format("context.{}: {} values for {} entity rows",
                                                 input.context_field, it->second.size(),
                                                 features.num_rows));
    }
    return &it->second[row];
  }
  for (size_t c = 0; c < features.features.size(); ++c) {
    const FeatureRef& f = features.features[c];
    if (f.view == input.feature.view && f.feature == input.feature.feature) {
      return &features.values[c][row];
    }
  }
  return Status::Internal(fmt::format("{}: feature '{}' was not read", what, input.ToString()));
}

Result<RequestFeatures> RequestFeatures::Bind(const FeatureServiceSpec& service,
                                              const ModelLoader& load) {
  RequestFeatures out;
  for (const RequestFeatureSpec& spec : service.request_features) {
    auto refuse = [&](const std::string& why) {
      return Status::InvalidArgument(
          fmt::format("feature service '{}': request feature '{}' ({}): {}", service.name,
                      spec.name, spec.fn, why));
    };
    Bound bound{&spec, FindRequestFeatureFn(spec.fn), nullptr, 0};
    if (bound.fn == nullptr) {
      return refuse(
          fmt::format("unknown function (known: {})", fmt::join(KnownRequestFeatureFns(), ", ")));
    }
    if (bound.fn->needs_model) {
      if (spec.model.empty()) return refuse("needs a model (`model:`)");
      ASSIGN_OR_RETURN(bound.model, load(spec.model));
    }
    Result<size_t> width = bound.fn->width(bound.model.get());
    if (!width.ok()) {
      return refuse(fmt::format("model '{}': {}", spec.model, width.status().message()));
    }
    bound.width = *width;
    out.width_ += bound.width;
    out.features_.push_back(std::move(bound));
  }
  return out;
}

std::vector<std::string> RequestFeatures::ColumnNames(size_t i) const {
  std::vector<std::string> names;
  for (size_t d = 0; d < features_[i].width; ++d) {
    names.push_back(fmt::format("{}_{}", features_[i].spec->name, d));
  }
  return names;
}

std::vector<FeatureRef> RequestFeatures::FeatureInputs() const {
  std::vector<FeatureRef> refs;
  for (const Bound& f : features_) {
    if (f.spec->of.from_context()) continue;
    const FeatureRef& ref = f.spec->of.feature;
    bool seen = std::any_of(refs.begin(), refs.end(), [&](const FeatureRef& r) {
      return r.view == ref.view && r.feature == ref.feature;
    });
    if (!seen) refs.push_back(ref);
  }
  return refs;
}

Status RequestFeatures::Compute(size_t i, const Value& input, float* out) const {
  const Bound& f = features_[i];
  return f.fn->compute(
      f.model.get(), input,
      fmt::format("request feature '{}' ({})", f.spec->name, f.spec->of.ToString()), f.width, out);
}

Status RequestFeatures::ComputeRows(const FeatureStore& store, const EntityColumns& entities,
                                    std::optional<int64_t> as_of_ms, const PredictContext& context,
                                    size_t rows, size_t stride, size_t offset, float* out) const {
  if (features_.empty()) return Status::Ok();
  FeatureTable inputs;
  inputs.num_rows = rows;
  std::vector<FeatureRef> refs = FeatureInputs();
  if (!refs.empty()) {
    ASSIGN_OR_RETURN(inputs, store.Get(refs, entities, as_of_ms));
  }
  for (size_t r = 0; r < rows; ++r) {
    size_t column = offset;
    for (size_t i = 0; i < features_.size(); ++i) {
      const Bound& f = features_[i];
      std::string what =
          fmt::format("request feature '{}' ({}), row {}", f.spec->name, f.spec->of.ToString(), r);
      ASSIGN_OR_RETURN(const Value* input, InputValue(f.spec->of, inputs, context, r, what));
      RETURN_IF_ERROR(
          f.fn->compute(f.model.get(), *input, what, f.width, out + r * stride + column));
      column += f.width;
    }
  }
  return Status::Ok();
}

}  // namespace freshet
