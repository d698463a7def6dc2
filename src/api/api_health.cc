#include "api/api.h"
#include "server/json_error.h"

namespace freshet {

Status RegisterHealthRoutes(Router* router, Instance* instance) {
  RETURN_IF_ERROR(router->Add("GET", "/healthz", [](const HttpRequest&, HttpResponse* res) {
    res->body = R"({"status":"ok"})";
  }));
  // Ready once the Instance exists (the log was replayed before the server started listening)
  // and while ingest is not stopped by a failed commit or checkpoint.
  RETURN_IF_ERROR(router->Add("GET", "/readyz", [instance](const HttpRequest&, HttpResponse* res) {
    Status health = instance->health();
    if (!health.ok()) return SetError(res, health);
    res->body = R"({"status":"ready"})";
  }));
  return router->Add("GET", "/metrics", [instance](const HttpRequest&, HttpResponse* res) {
    instance->RefreshMetrics();
    res->content_type = "text/plain; version=0.0.4";
    res->body = instance->metrics()->Render();
  });
}

}  // namespace freshet
