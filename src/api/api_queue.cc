// The prediction queue over HTTP (api/queue_json.h for the shapes):
//   GET    /v1/queue                      stats per queue, jobs held and the capacity
//   GET    /v1/queue/dead?queue=Q&limit=N  the dead letter, oldest first (every queue without
//                                          `queue`; limit 1..10000, default 100)
//   POST   /v1/queue/dead/replay          body {"queue"?: Q, "id"?: ID} (both optional; empty
//                                          body: every dead job) -> {"replayed": N}
//   DELETE /v1/queue/dead?queue=Q         purge a queue's dead letter -> {"purged": N}
// Bad input answers 400 naming the parameter or member; replaying an id not dead 404; a replay
// that would overfill the queue 429.
#include <fmt/format.h>

#include <optional>

#include "api/api.h"
#include "api/queue_json.h"
#include "core/json.h"
#include "core/parse_int.h"
#include "server/json_error.h"

namespace freshet {
namespace {

constexpr int64_t kDefaultDeadLimit = 100;
constexpr int64_t kMaxDeadLimit = 10'000;

void AnswerCount(HttpResponse* res, const char* what, size_t n) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key(what);
  w.Uint64(n);
  w.EndObject();
  res->body = buf.GetString();
}

void Stats(JobQueue* queue, HttpResponse* res) {
  res->body = QueueStatsToJson(queue->Stats(), queue->held(), queue->capacity());
}

void ListDead(JobQueue* queue, const HttpRequest& req, HttpResponse* res) {
  int64_t limit = kDefaultDeadLimit;
  if (const std::string* text = req.QueryParam("limit")) {
    auto parsed = ParseInt64InRange(*text, "limit", 1, kMaxDeadLimit);
    if (!parsed.ok()) return SetError(res, parsed.status());
    limit = *parsed;
  }
  const std::string* name = req.QueryParam("queue");
  auto dead = queue->ListDead(name ? *name : "", static_cast<size_t>(limit));
  if (!dead.ok()) return SetError(res, dead.status());
  res->body = DeadJobsToJson(*dead);
}

// The optional string members "queue" and "id" of a replay body; kInvalidArgument naming the
// member that is not a string, or any other member.
Status ReadReplayBody(const std::string& body, std::string* queue_name, std::string* id) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return Status::Ok();
  simdjson::dom::parser parser;
  simdjson::dom::object doc;
  if (parser.parse(body).get(doc)) {
    return Status::InvalidArgument("body: expected a JSON object {\"queue\"?, \"id\"?}");
  }
  for (auto [key, value] : doc) {
    std::string* target = key == "queue" ? queue_name : key == "id" ? id : nullptr;
    if (!target) {
      return Status::InvalidArgument(
          fmt::format("member \"{}\": unknown (expected \"queue\", \"id\")", key));
    }
    std::string_view text;
    if (value.get(text)) {
      return Status::InvalidArgument(fmt::format("member \"{}\": expected a string", key));
    }
    *target = text;
  }
  return Status::Ok();
}

void Replay(JobQueue* queue, const HttpRequest& req, HttpResponse* res) {
  std::string queue_name, id;
  if (Status st = ReadReplayBody(req.body, &queue_name, &id); !st.ok()) return SetError(res, st);
  auto n = queue->ReplayDead(queue_name, id);
  if (!n.ok()) return SetError(res, n.status());
  AnswerCount(res, "replayed", *n);
}

void Purge(JobQueue* queue, const HttpRequest& req, HttpResponse* res) {
  const std::string* name = req.QueryParam("queue");
  if (!name || name->empty()) {
    return SetError(res, Status::InvalidArgument(
                             "query parameter 'queue' is required: the queue whose dead letter "
                             "to purge"));
  }
  auto n = queue->PurgeDead(*name);
  if (!n.ok()) return SetError(res, n.status());
  AnswerCount(res, "purged", *n);
}

}  // namespace

Status RegisterQueueRoutes(Router* router, Instance* instance) {
  JobQueue* queue = instance->queue();
  RETURN_IF_ERROR(router->Add(
      "GET", "/v1/queue", [queue](const HttpRequest&, HttpResponse* res) { Stats(queue, res); }));
  RETURN_IF_ERROR(router->Add(
      "GET", "/v1/queue/dead",
      [queue](const HttpRequest& req, HttpResponse* res) { ListDead(queue, req, res); }));
  RETURN_IF_ERROR(
      router->Add("POST", "/v1/queue/dead/replay",
                  [queue](const HttpRequest& req, HttpResponse* res) { Replay(queue, req, res); }));
  return router->Add(
      "DELETE", "/v1/queue/dead",
      [queue](const HttpRequest& req, HttpResponse* res) { Purge(queue, req, res); });
}

}  // namespace freshet
