#include <fmt/format.h>

#include <optional>

#include "api/api.h"
#include "api/api_json.h"
#include "core/json.h"
#include "core/parse_int.h"
#include "core/time_util.h"
#include "server/json_error.h"

namespace freshet {
namespace {

// GET /v1/late/{source} and /v1/quarantine/{source}?limit=N: how many entries one call lists.
constexpr int64_t kDefaultLateLimit = 100;
constexpr int64_t kMaxLateLimit = 10'000;

// The `limit` query parameter of the dead-letter listings, or an error set on `res`.
std::optional<size_t> LimitParam(const HttpRequest& req, HttpResponse* res) {
  int64_t limit = kDefaultLateLimit;
  if (const std::string* l = req.QueryParam("limit")) {
    auto parsed = ParseInt64InRange(*l, "limit", 1, kMaxLateLimit);
    if (!parsed.ok()) {
      SetError(res, parsed.status());
      return std::nullopt;
    }
    limit = *parsed;
  }
  return static_cast<size_t>(limit);
}

void Ingest(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  const std::string* key = req.headers.Get("Idempotency-Key");
  ParseError bad_record;
  IngestQuality quality;
  auto ack =
      instance->Ingest(*req.PathParam("source"), req.body, key ? *key : "", &bad_record, &quality);
  if (!ack.ok()) {
    // Ingest stopped (or shutting down), or a queue full (the log's, the prediction queue):
    // worth retrying once the instance is healthy again or the queue has drained.
    if (ack.status().code() == StatusCode::kUnavailable ||
        ack.status().code() == StatusCode::kResourceExhausted) {
      res->headers.emplace_back("Retry-After", "1");
    }
    SetError(res, ack.status(), ParseErrorDetailsToJson(bad_record));
    return;
  }
  res->body = AppendAckToJson(*ack, &quality);
}

// A dead letter's listing, GET /v1/{late|quarantine}/{source}?limit=N: {member: [entry, ...]},
// newest first. `list(source, limit)` reads the entries; `write(w, source_spec, entry)` writes one.
template <typename List, typename Write>
void ListDeadLetter(Instance* instance, const HttpRequest& req, HttpResponse* res,
                    const char* member, List list, Write write) {
  const std::string& source = *req.PathParam("source");
  auto it = instance->spec().sources.find(source);
  if (it == instance->spec().sources.end()) {
    SetError(res, Status::NotFound(fmt::format("unknown source '{}'", source)));
    return;
  }
  std::optional<size_t> limit = LimitParam(req, res);
  if (!limit) return;
  auto entries = list(source, *limit);
  if (!entries.ok()) {
    SetError(res, entries.status());
    return;
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key(member);
  w.StartArray();
  for (const auto& entry : *entries) write(&w, it->second, entry);
  w.EndArray();
  w.EndObject();
  res->body = buf.GetString();
}

void ListLate(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  ListDeadLetter(
      instance, req, res, "late",
      [instance](const std::string& source, size_t limit) {
        return instance->engine()->ListLate(source, limit);
      },
      WriteLateEventJson);
}

void ListQuarantine(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  ListDeadLetter(
      instance, req, res, "quarantine",
      [instance](const std::string& source, size_t limit) {
        return instance->quarantine()->List(source, limit);
      },
      WriteQuarantinedJson);
}

// GET /v1/quality: the persisted violation counts (quality/quality_report.h).
void QualityCounts(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  res->body = instance->quarantine()->Counts().ToJson();
}

}  // namespace

Status RegisterEventRoutes(Router* router, Instance* instance) {
  RETURN_IF_ERROR(router->Add(
      "POST", "/v1/events/{source}",
      [instance](const HttpRequest& req, HttpResponse* res) { Ingest(instance, req, res); },
      Runs::kOffIoThread));  // waits for the log's group commit
  RETURN_IF_ERROR(router->Add(
      "GET", "/v1/late/{source}",
      [instance](const HttpRequest& req, HttpResponse* res) { ListLate(instance, req, res); }));
  RETURN_IF_ERROR(router->Add("GET", "/v1/quarantine/{source}",
                              [instance](const HttpRequest& req, HttpResponse* res) {
                                ListQuarantine(instance, req, res);
                              }));
  return router->Add("GET", "/v1/quality", [instance](const HttpRequest& req, HttpResponse* res) {
    QualityCounts(instance, req, res);
  });
}

}  // namespace freshet
