#include "instance/service_backfill.h"

#include <fmt/format.h>

#include <memory>

namespace freshet {

Status BindServiceBackfill(const ProjectSpec& spec, const std::string& service,
                           Predictor* predictor, BackfillOptions* options) {
  auto it = spec.feature_services.find(service);
  if (it == spec.feature_services.end()) {
    return Status::NotFound(fmt::format("unknown feature service '{}'", service));
  }
  ASSIGN_OR_RETURN(RequestFeatures bound, predictor->BindRequestFeatures(it->second));
  auto shared = std::make_shared<const RequestFeatures>(std::move(bound));
  options->features = it->second.features;
  options->computed.clear();
  for (size_t i = 0; i < shared->size(); ++i) {
    ComputedColumns columns;
    columns.input = shared->spec(i).of;
    columns.names = shared->ColumnNames(i);
    columns.compute = [shared, i](const Value& input, float* out) {
      return shared->Compute(i, input, out);
    };
    options->computed.push_back(std::move(columns));
  }
  return Status::Ok();
}

}  // namespace freshet
