#include <fmt/format.h>

#include "api/api.h"
#include "api/api_json.h"
#include "core/json.h"
#include "core/parse_int.h"
#include "core/time_util.h"
#include "server/json_error.h"

namespace freshet {
namespace {

// GET /v1/late/{source}?limit=N: how many late events one call lists.
constexpr int64_t kDefaultLateLimit = 100;
constexpr int64_t kMaxLateLimit = 10'000;

void Ingest(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  const std::string* key = req.headers.Get("Idempotency-Key");
  ParseError bad_record;
  auto ack = instance->Ingest(*req.PathParam("source"), req.body, key ? *key : "", &bad_record);
  if (!ack.ok()) {
    // Ingest stopped (or shutting down): worth retrying once the instance is healthy again.
    if (ack.status().code() == StatusCode::kUnavailable)
      res->headers.emplace_back("Retry-After", "1");
    SetError(res, ack.status(), ParseErrorDetailsToJson(bad_record));
    return;
  }
  res->body = AppendAckToJson(*ack);
}

void ListLate(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  const std::string& source = *req.PathParam("source");
  auto it = instance->spec().sources.find(source);
  if (it == instance->spec().sources.end()) {
    SetError(res, Status::NotFound(fmt::format("unknown source '{}'", source)));
    return;
  }
  int64_t limit = kDefaultLateLimit;
  if (const std::string* l = req.QueryParam("limit")) {
    auto parsed = ParseInt64InRange(*l, "limit", 1, kMaxLateLimit);
    if (!parsed.ok()) {
      SetError(res, parsed.status());
      return;
    }
    limit = *parsed;
  }
  auto late = instance->engine()->ListLate(source, static_cast<size_t>(limit));
  if (!late.ok()) {
    SetError(res, late.status());
    return;
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("late");
  w.StartArray();
  for (const LateEvent& e : *late) {
    w.StartObject();
    w.Key("offset");
    w.Uint64(e.offset);
    w.Key("watermark_ms");
    w.Int64(e.watermark_ms);
    w.Key("record");
    w.StartObject();
    const auto& fields = it->second.fields;
    for (size_t i = 0; i < fields.size() && i < e.record.values.size(); ++i) {
      w.Key(fields[i].name.c_str());
      WriteJsonValue(&w, e.record.values[i]);
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  res->body = buf.GetString();
}

}  // namespace

Status RegisterEventRoutes(Router* router, Instance* instance) {
  RETURN_IF_ERROR(router->Add(
      "POST", "/v1/events/{source}",
      [instance](const HttpRequest& req, HttpResponse* res) { Ingest(instance, req, res); }));
  return router->Add(
      "GET", "/v1/late/{source}",
      [instance](const HttpRequest& req, HttpResponse* res) { ListLate(instance, req, res); });
}

}  // namespace freshet
