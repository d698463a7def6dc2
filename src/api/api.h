// The freshet HTTP API: registers every route on a Router, served by HttpServer.
//   POST /v1/events/{source}        ingest (JSON object, array or NDJSON; Idempotency-Key)
//   POST /v1/features               online features, freshet's shape
//   POST /get-online-features       online features, Feast's request and response shape
//   POST /v1/predict/{deployment}   predictions + model version
//   GET  /v1/models, /v1/models/{name}, /v1/models/{name}/versions/{version}
//   POST /v1/models/{name}/versions, /v1/models/{name}/import-mlflow   register
//   PUT, DELETE /v1/models/{name}/aliases/{alias};  DELETE /v1/models/{name}/versions/{version}
//   POST /v1/models/{name}/promote, /v1/models/{name}/rollback, /v1/models/{name}/tags
//   GET  /v1/predictions/{deployment}?{key}={value}   triggered predictions: latest + history
//   GET  /v1/late/{source}          the late-event dead letter
//   POST, DELETE /v1/tables/{source}  upsert / delete rows of a table source (api_tables.cc)
//   GET  /v1/queue, /v1/queue/dead;  POST /v1/queue/dead/replay;  DELETE /v1/queue/dead
//                                   the prediction queue's stats and dead letter (api_queue.cc)
//   GET, POST /v1/deployments/{d}/release, POST .../rollback   releases (api_deployments.cc)
//   GET /v1/generations, POST /v1/generations/{view}/rebuild, DELETE .../{view}/{generation}
//   GET  /healthz, /readyz, /metrics
//   /v2/...                         Open Inference Protocol (KServe v2), api_v2.cc
// Handlers are thin: parse, call the Instance, encode. Errors use SetError (json_error.h).
#pragma once

#include "core/status.h"
#include "instance/instance.h"
#include "server/router.h"

namespace freshet {

// `instance` must outlive the router's use.
Status RegisterApi(Router* router, Instance* instance);

// Parts, one per file (api_*.cc).
Status RegisterEventRoutes(Router* router, Instance* instance);
Status RegisterFeatureRoutes(Router* router, Instance* instance);
Status RegisterPredictRoutes(Router* router, Instance* instance);
Status RegisterModelRoutes(Router* router, Instance* instance);
Status RegisterHealthRoutes(Router* router, Instance* instance);
Status RegisterV2Routes(Router* router, Instance* instance);
Status RegisterTableRoutes(Router* router, Instance* instance);
Status RegisterPredictionRoutes(Router* router, Instance* instance);
Status RegisterQueueRoutes(Router* router, Instance* instance);
Status RegisterDeploymentRoutes(Router* router, Instance* instance);

}  // namespace freshet
