#include "api/api.h"

namespace freshet {

Status RegisterApi(Router* router, Instance* instance) {
  RETURN_IF_ERROR(RegisterEventRoutes(router, instance));
  RETURN_IF_ERROR(RegisterFeatureRoutes(router, instance));
  RETURN_IF_ERROR(RegisterPredictRoutes(router, instance));
  RETURN_IF_ERROR(RegisterModelRoutes(router, instance));
  RETURN_IF_ERROR(RegisterHealthRoutes(router, instance));
  RETURN_IF_ERROR(RegisterV2Routes(router, instance));
  RETURN_IF_ERROR(RegisterTableRoutes(router, instance));
  RETURN_IF_ERROR(RegisterPredictionRoutes(router, instance));
  RETURN_IF_ERROR(RegisterQueueRoutes(router, instance));
  RETURN_IF_ERROR(RegisterDeploymentRoutes(router, instance));
  return Status::Ok();
}

}  // namespace freshet
