#include "api/api.h"
#include "api/api_json.h"
#include "server/json_error.h"

namespace freshet {
namespace {

void ListModels(Instance* instance, HttpResponse* res) {
  auto models = instance->registry()->List();
  if (!models.ok()) {
    SetError(res, models.status());
    return;
  }
  res->body = ModelListToJson(*models);
}

// GET /v1/models/{name}?version=REF: a version number, an alias or "latest" (the default).
void ShowModel(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  const std::string& name = *req.PathParam("name");
  const std::string* ref = req.QueryParam("version");
  auto model = instance->registry()->Get(name);
  if (!model.ok()) {
    SetError(res, model.status());
    return;
  }
  auto version = instance->registry()->Resolve(name, ref ? *ref : "latest");
  if (!version.ok()) {
    SetError(res, version.status());
    return;
  }
  res->body = ModelVersionToJson(*version, model->aliases);
}

}  // namespace

Status RegisterModelRoutes(Router* router, Instance* instance) {
  RETURN_IF_ERROR(router->Add(
      "GET", "/v1/models",
      [instance](const HttpRequest&, HttpResponse* res) { ListModels(instance, res); }));
  return router->Add(
      "GET", "/v1/models/{name}",
      [instance](const HttpRequest& req, HttpResponse* res) { ShowModel(instance, req, res); });
}

}  // namespace freshet
