#include "api/api.h"
#include "models/registry_codec.h"
#include "server/json_error.h"

namespace freshet {
namespace {

void ListModels(Instance* instance, HttpResponse* res) {
  auto models = instance->registry()->List();
  if (!models.ok()) {
    SetError(res, models.status());
    return;
  }
  std::string body = "{\"models\":[";
  for (size_t i = 0; i < models->size(); ++i) {
    const ModelInfo& m = (*models)[i];
    std::string aliases;
    for (const auto& [alias, version] : m.aliases) {
      aliases += (aliases.empty() ? "" : ",") + ("\"" + alias + "\":" + std::to_string(version));
    }
    body += (i ? "," : "") + ("{\"name\":\"" + m.name + "\",\"aliases\":{" + aliases +
                              "},\"latest\":" + EncodeModelVersion(m.latest) + "}");
  }
  res->body = body + "]}";
}

void ShowModel(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  const std::string* ref = req.QueryParam("version");
  auto version = instance->registry()->Resolve(*req.PathParam("name"), ref ? *ref : "latest");
  if (!version.ok()) {
    SetError(res, version.status());
    return;
  }
  res->body = EncodeModelVersion(*version);
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
