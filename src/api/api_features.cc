#include "api/api.h"
#include "server/json_error.h"
#include "store/feature_json.h"

namespace freshet {
namespace {

// Both feature routes share the request shape; they differ in the response encoding.
template <typename Encode>
Handler FeatureHandler(Instance* instance, Encode encode) {
  return [instance, encode](const HttpRequest& req, HttpResponse* res) {
    auto request = ParseFeatureRequest(req.body, *instance->features());
    if (!request.ok()) {
      SetError(res, request.status());
      return;
    }
    int64_t as_of = request->as_of_ms.value_or(instance->clock()->NowMs());
    auto table = instance->features()->Get(request->features, request->entities, as_of);
    if (!table.ok()) {
      SetError(res, table.status());
      return;
    }
    res->body = encode(*request, *table, as_of);
  };
}

}  // namespace

Status RegisterFeatureRoutes(Router* router, Instance* instance) {
  RETURN_IF_ERROR(router->Add(
      "POST", "/v1/features",
      FeatureHandler(instance, [](const FeatureRequest& r, const FeatureTable& t, int64_t as_of) {
        return FeatureTableToJson(r, t, as_of);
      })));
  return router->Add(
      "POST", "/get-online-features",
      FeatureHandler(instance, [](const FeatureRequest& r, const FeatureTable& t, int64_t) {
        return FeatureTableToFeastJson(r, t);
      }));
}

}  // namespace freshet
