// Predictor's text deployments and request-time features (predictor.h): the parts of a
// prediction that are not a feature-row model reading its service's features.
#include <fmt/format.h>

#include <algorithm>

#include "serving/predictor.h"

namespace freshet {
namespace {

// Labels `texts` with a text model into `out`.
Status LabelTexts(const LoadedModel& model, const std::vector<std::string>& texts, int32_t top_k,
                  Prediction* out) {
  if (top_k < 1)
    return Status::InvalidArgument(fmt::format("k: must be at least 1, got {}", top_k));
  out->model = model.version.name;
  out->version = model.version.version;
  if (texts.empty()) return Status::Ok();
  return model.runtime->PredictText(texts, top_k, 0.0f, &out->labels);
}

// The rows of a request that reads no feature: the entity columns', else the text's.
size_t RowsWithoutFeatures(const EntityColumns& entities, const PredictContext& context,
                           const InputRef& text) {
  if (!entities.empty()) return entities.begin()->second.size();
  auto it = context.find(text.context_field);
  return it == context.end() ? 0 : it->second.size();
}

}  // namespace

Result<RequestFeatures> Predictor::BindRequestFeatures(const FeatureServiceSpec& service) {
  if (service.request_features.empty()) return RequestFeatures();
  return RequestFeatures::Bind(
      service, [this](const std::string& model) -> Result<std::shared_ptr<const ModelRuntime>> {
        ASSIGN_OR_RETURN(LoadedModel loaded, Load(model, "champion"));
        return loaded.runtime;
      });
}

Result<Prediction> Predictor::PredictText(const DeploymentSpec& d, const LoadedModel& model,
                                          const EntityColumns& entities,
                                          std::optional<int64_t> as_of_ms,
                                          const PredictContext& context, int32_t top_k) {
  const FeatureServiceSpec& service = spec_->feature_services.at(d.feature_service);
  if (!service.text) {
    return Status::FailedPrecondition(fmt::format(
        "deployment '{}': model {} v{} (runtime {}) takes text, but feature service '{}' declares "
        "no text input (add `text: view:feature` or `text: context.NAME`)",
        d.name, model.version.name, model.version.version, model.version.runtime,
        d.feature_service));
  }
  const InputRef& text = *service.text;
  std::vector<FeatureRef> refs = service.features;
  if (!text.from_context() && std::none_of(refs.begin(), refs.end(), [&](const FeatureRef& r) {
        return r.view == text.feature.view && r.feature == text.feature.feature;
      })) {
    refs.push_back(text.feature);
  }
  Prediction out;
  if (refs.empty()) {
    out.features.num_rows = RowsWithoutFeatures(entities, context, text);
  } else {
    ASSIGN_OR_RETURN(out.features, features_->Get(refs, entities, as_of_ms));
  }
  RETURN_IF_ERROR(ApplyContext(service, context, &out.features));
  std::vector<std::string> texts;
  texts.reserve(out.features.num_rows);
  for (size_t r = 0; r < out.features.num_rows; ++r) {
    std::string what = fmt::format("text ({}), row {}", text.ToString(), r);
    ASSIGN_OR_RETURN(const Value* value, InputValue(text, out.features, context, r, what));
    if (!value->is_string()) {
      return Status::InvalidArgument(
          fmt::format("{}: expected a string, got {}", what,
                      value->is_null() ? "no value" : value->ToString()));
    }
    texts.push_back(value->as_string());
  }
  RETURN_IF_ERROR(LabelTexts(model, texts, top_k, &out));
  return out;
}

Result<Prediction> Predictor::ScoreTexts(const std::string& deployment,
                                         const std::vector<std::string>& texts, int32_t top_k) {
  auto it = spec_->deployments.find(deployment);
  if (it == spec_->deployments.end()) {
    return Status::NotFound(fmt::format("unknown deployment '{}'", deployment));
  }
  ASSIGN_OR_RETURN(LoadedModel model, Load(it->second.model, it->second.alias));
  if (model.runtime->input() != RuntimeInput::kText) {
    return Status::FailedPrecondition(
        fmt::format("deployment '{}': model {} v{} (runtime {}) takes feature rows, not text",
                    deployment, model.version.name, model.version.version, model.version.runtime));
  }
  Prediction out;
  out.features.num_rows = texts.size();
  RETURN_IF_ERROR(LabelTexts(model, texts, top_k, &out));
  return out;
}

}  // namespace freshet
