// `freshet queue stats|dead|replay|purge`: the prediction queue's stats and its dead letter.
// Works on the data directory (opened for writing: fails while a server holds it) or, with
// --server, through a running server's /v1/queue routes (api/api_queue.cc). --json prints the
// documents of the HTTP API (api/queue_json.h).
#include <fmt/format.h>
#include <simdjson.h>

#include <cctype>
#include <filesystem>
#include <memory>

#include "api/queue_json.h"
#include "cli/cli_context.h"
#include "cli/commands.h"
#include "cli/http_client.h"
#include "core/time_util.h"
#include "queue/job_queue.h"
#include "storage/db.h"

namespace freshet::cli {
namespace {

struct QueueFlags {
  ProjectFlags project;
  std::string server;
  HttpClientOptions http;
  std::string queue;
  std::string id;
  size_t limit = 100;
};

// `text` for a URL query value: every byte but unreserved ones (RFC 3986) as %XX.
std::string QueryValue(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// The bytes of `hex` (two hex digits per byte, as api/queue_json.h writes "payload_hex"), or
// false when it is not that.
bool FromHex(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  auto digit = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
  };
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

struct StatsView {
  std::vector<JobQueue::QueueStats> queues;
  size_t held = 0, capacity = 0;
};

// The queue of a data directory, or of a server: the four operations the commands need.
class QueueAccess {
 public:
  virtual ~QueueAccess() = default;
  virtual Result<StatsView> Stats() = 0;
  virtual Result<std::vector<Job>> Dead(const std::string& queue, size_t limit) = 0;
  virtual Result<size_t> Replay(const std::string& queue, const std::string& id) = 0;
  virtual Result<size_t> Purge(const std::string& queue) = 0;
};

class LocalQueue final : public QueueAccess {
 public:
  static Result<std::unique_ptr<QueueAccess>> Open(const std::string& data_dir) {
    if (!std::filesystem::exists(data_dir)) {
      return Status::NotFound(fmt::format("no data directory {}", data_dir));
    }
    auto local = std::make_unique<LocalQueue>();
    DbOptions options;
    options.create_if_missing = false;
    ASSIGN_OR_RETURN(local->db_, Db::Open(data_dir, options));
    ASSIGN_OR_RETURN(local->queue_,
                     JobQueue::Open(local->db_.get(), SystemClock::Default(), QueueOptions()));
    return std::unique_ptr<QueueAccess>(std::move(local));
  }
  Result<StatsView> Stats() override {
    return StatsView{queue_->Stats(), queue_->held(), queue_->capacity()};
  }
  Result<std::vector<Job>> Dead(const std::string& queue, size_t limit) override {
    return queue_->ListDead(queue, limit);
  }
  Result<size_t> Replay(const std::string& queue, const std::string& id) override {
    return queue_->ReplayDead(queue, id);
  }
  Result<size_t> Purge(const std::string& queue) override { return queue_->PurgeDead(queue); }

 private:
  std::unique_ptr<Db> db_;
  std::unique_ptr<JobQueue> queue_;  // destroyed before db_
};

// Reads the documents of api/queue_json.h back.
class RemoteQueue final : public QueueAccess {
 public:
  RemoteQueue(std::string server, HttpClientOptions http)
      : server_(std::move(server)), http_(http) {}

  Result<StatsView> Stats() override {
    ASSIGN_OR_RETURN(simdjson::dom::element doc, Call("GET", "/v1/queue", ""));
    StatsView view;
    simdjson::dom::array queues;
    if (doc["held"].get(view.held) || doc["capacity"].get(view.capacity) ||
        doc["queues"].get(queues)) {
      return Malformed();
    }
    for (simdjson::dom::element q : queues) {
      JobQueue::QueueStats s;
      std::string_view name;
      if (q["queue"].get(name) || q["ready"].get(s.ready) || q["delayed"].get(s.delayed) ||
          q["in_flight"].get(s.in_flight) || q["dead"].get(s.dead) ||
          q["oldest_age_ms"].get(s.oldest_age_ms) || q["retries"].get(s.retries) ||
          q["dead_lettered"].get(s.dead_lettered) || q["coalesced"].get(s.coalesced)) {
        return Malformed();
      }
      s.queue = name;
      view.queues.push_back(std::move(s));
    }
    return view;
  }

  Result<std::vector<Job>> Dead(const std::string& queue, size_t limit) override {
    std::string target = fmt::format("/v1/queue/dead?limit={}", limit);
    if (!queue.empty()) target += "&queue=" + QueryValue(queue);
    ASSIGN_OR_RETURN(simdjson::dom::element doc, Call("GET", target, ""));
    simdjson::dom::array dead;
    if (doc["dead"].get(dead)) return Malformed();
    std::vector<Job> jobs;
    for (simdjson::dom::element d : dead) {
      Job job;
      std::string_view id, name, payload, error;
      int64_t receive_count;
      if (d["id"].get(id) || d["queue"].get(name) || d["enqueued_ms"].get(job.enqueued_ms) ||
          d["dead_ms"].get(job.dead_ms) || d["receive_count"].get(receive_count) ||
          d["last_error"].get(error)) {
        return Malformed();
      }
      job.id = id;
      job.queue = name;
      job.last_error = error;
      job.receive_count = static_cast<int>(receive_count);
      if (!d["payload"].get(payload)) {
        job.payload = payload;
      } else if (d["payload_hex"].get(payload) || !FromHex(payload, &job.payload)) {
        return Malformed();
      }
      jobs.push_back(std::move(job));
    }
    return jobs;
  }

  Result<size_t> Replay(const std::string& queue, const std::string& id) override {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("queue");
    w.String(queue.data(), static_cast<rapidjson::SizeType>(queue.size()));
    w.Key("id");
    w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
    w.EndObject();
    return Count("POST", "/v1/queue/dead/replay", buf.GetString(), "replayed");
  }

  Result<size_t> Purge(const std::string& queue) override {
    return Count("DELETE", "/v1/queue/dead?queue=" + QueryValue(queue), "", "purged");
  }

 private:
  Result<simdjson::dom::element> Call(const std::string& method, const std::string& target,
                                      const std::string& body) {
    ASSIGN_OR_RETURN(HttpReply reply, HttpCall(server_, method, target, body, {}, http_));
    RETURN_IF_ERROR(reply.ToStatus());
    body_ = std::move(reply.body);
    simdjson::dom::element doc;
    if (parser_.parse(body_).get(doc)) return Malformed();
    return doc;
  }
  Result<size_t> Count(const std::string& method, const std::string& target,
                       const std::string& body, const char* member) {
    ASSIGN_OR_RETURN(simdjson::dom::element doc, Call(method, target, body));
    uint64_t n;
    if (doc[member].get(n)) return Malformed();
    return static_cast<size_t>(n);
  }
  Status Malformed() const {
    return Status::Internal(fmt::format("unexpected answer from {}: {}", server_, body_));
  }

  std::string server_;
  HttpClientOptions http_;
  simdjson::dom::parser parser_;
  std::string body_;
};

Result<std::unique_ptr<QueueAccess>> Reach(const QueueFlags& f) {
  if (!f.server.empty()) {
    return std::unique_ptr<QueueAccess>(std::make_unique<RemoteQueue>(f.server, f.http));
  }
  return LocalQueue::Open(f.project.DataDir());
}

std::string Json(const char* member, size_t n) { return fmt::format("{{\"{}\":{}}}", member, n); }

Status ShowStats(const QueueFlags& f) {
  ASSIGN_OR_RETURN(auto queue, Reach(f));
  ASSIGN_OR_RETURN(StatsView view, queue->Stats());
  if (f.project.json) {
    fmt::print("{}\n", QueueStatsToJson(view.queues, view.held, view.capacity));
    return Status::Ok();
  }
  fmt::print("{} jobs held (limit {})\n", view.held, view.capacity);
  if (view.queues.empty()) return Status::Ok();
  fmt::print("{:<28} {:>8} {:>8} {:>9} {:>6} {:>11} {:>8} {:>13} {:>9}\n", "queue", "ready",
             "delayed", "in_flight", "dead", "oldest_age", "retries", "dead_lettered", "coalesced");
  for (const auto& s : view.queues) {
    fmt::print("{:<28} {:>8} {:>8} {:>9} {:>6} {:>11} {:>8} {:>13} {:>9}\n", s.queue, s.ready,
               s.delayed, s.in_flight, s.dead, FormatDurationMs(s.oldest_age_ms), s.retries,
               s.dead_lettered, s.coalesced);
  }
  return Status::Ok();
}

Status ShowDead(const QueueFlags& f) {
  ASSIGN_OR_RETURN(auto queue, Reach(f));
  ASSIGN_OR_RETURN(std::vector<Job> dead, queue->Dead(f.queue, f.limit));
  if (f.project.json) {
    fmt::print("{}\n", DeadJobsToJson(dead));
    return Status::Ok();
  }
  fmt::print("{} dead jobs{} (oldest first)\n", dead.size(),
             f.queue.empty() ? "" : fmt::format(" of '{}'", f.queue));
  for (const Job& j : dead) {
    fmt::print("{}  queue {}  dead {}  after {} attempts  {}\n", j.id, j.queue,
               FormatRfc3339Ms(j.dead_ms), j.receive_count, j.last_error);
  }
  return Status::Ok();
}

Status Replay(const QueueFlags& f) {
  ASSIGN_OR_RETURN(auto queue, Reach(f));
  ASSIGN_OR_RETURN(size_t n, queue->Replay(f.queue, f.id));
  fmt::print("{}\n",
             f.project.json ? Json("replayed", n) : fmt::format("replayed {} dead jobs", n));
  return Status::Ok();
}

Status Purge(const QueueFlags& f) {
  ASSIGN_OR_RETURN(auto queue, Reach(f));
  ASSIGN_OR_RETURN(size_t n, queue->Purge(f.queue));
  fmt::print("{}\n", f.project.json ? Json("purged", n)
                                    : fmt::format("purged {} dead jobs of '{}'", n, f.queue));
  return Status::Ok();
}

// `queue NAME` running `run`, with the flags every subcommand shares.
CLI::App* AddQueueCommand(CLI::App* parent, const char* name, const char* description,
                          Status (*run)(const QueueFlags&), std::shared_ptr<QueueFlags> f) {
  CLI::App* command = parent->add_subcommand(name, description);
  f->project.AddTo(command);
  command->add_option("--server", f->server,
                      "Ask a running server (http://127.0.0.1:PORT) instead of the data dir");
  AddHttpClientFlags(command, &f->http);
  command->callback([f, run] {
    Status st = run(*f);
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
  });
  return command;
}

}  // namespace

void RegisterQueue(CLI::App* app) {
  CLI::App* queue = app->add_subcommand("queue", "The prediction queue: stats and dead letter");
  // At most one; with none, the error lists them. (An unknown one, `queue bogus`, is an
  // argument CLI11 names as not expected.)
  queue->require_subcommand(0, 1);
  queue->callback([queue] {
    if (queue->get_subcommands().empty()) {
      throw CLI::ValidationError("queue", "a subcommand is required: stats, dead, replay or purge");
    }
  });
  AddQueueCommand(queue, "stats", "Jobs per queue: ready, delayed, in flight, dead, retries",
                  ShowStats, std::make_shared<QueueFlags>());

  auto dead_flags = std::make_shared<QueueFlags>();
  CLI::App* dead =
      AddQueueCommand(queue, "dead", "List the dead letter (oldest first)", ShowDead, dead_flags);
  dead->add_option("--queue,-q", dead_flags->queue, "Only this queue (default: every queue)");
  dead->add_option("--limit", dead_flags->limit, "How many")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{10'000}));

  auto replay_flags = std::make_shared<QueueFlags>();
  CLI::App* replay = AddQueueCommand(
      queue, "replay", "Make dead jobs ready again (receive count 0)", Replay, replay_flags);
  replay->add_option("--queue,-q", replay_flags->queue, "Only this queue (default: every queue)");
  replay->add_option("--id", replay_flags->id, "Only this job");

  auto purge_flags = std::make_shared<QueueFlags>();
  CLI::App* purge =
      AddQueueCommand(queue, "purge", "Delete a queue's dead letter", Purge, purge_flags);
  purge->add_option("--queue,-q", purge_flags->queue, "The queue")->required();
}

}  // namespace freshet::cli
