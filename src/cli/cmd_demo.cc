// `freshet demo`: the meditation example end to end on the embedded default — generate a
// seeded history, backfill a point-in-time training set from the project's own definitions,
// train XGBoost (examples/.../train.py with Debian's python3-xgboost), register the model,
// load the history, serve the API, then stream one user's live session over HTTP and print the
// recommendation after each event; an exit from a sleep track triggers a prediction, and the
// demo measures when it is readable by pull and when it reaches the webhook receiver it runs.
#include <fmt/format.h>
#include <simdjson.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "cli/cli_context.h"
#include "cli/commands.h"
#include "cli/demo_data.h"
#include "cli/http_client.h"
#include "cli/serve_runner.h"
#include "core/json.h"
#include "instance/instance.h"
#include "offline/backfill.h"
#include "server/http_server.h"
#include "serving/model_signature.h"
#include "spec/spec_loader.h"

namespace freshet::cli {
namespace {

namespace fs = std::filesystem;

struct DemoFlags {
  ProjectFlags project{.project_dir = "examples/meditation", .data_dir = "", .json = false};
  std::string listen = "127.0.0.1:8080";
  uint64_t seed = 42;
  int users = 2000;
  int64_t pause_ms = 700;
  bool exit_after = false;
  std::string python = "/usr/bin/python3";
};

constexpr const char* kDeployment = "recommend";
// Where examples/meditation/freshet.yaml pushes triggered recommendations.
constexpr const char* kReceiverListen = "127.0.0.1:8090";
constexpr const char* kReceiverPath = "/recommendations";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The demo's webhook receiver: records when each pushed prediction id first arrived.
class Receiver {
 public:
  static Result<std::unique_ptr<Receiver>> Start() {
    std::unique_ptr<Receiver> r(new Receiver());
    RETURN_IF_ERROR(r->router_.Add("POST", kReceiverPath,
                                   [p = r.get()](const HttpRequest& req, HttpResponse* res) {
                                     p->Received(req.body);
                                     res->body = "{}";
                                   }));
    HttpServerOptions options;
    options.listen_address = kReceiverListen;
    options.threads = 1;
    r->server_ = std::make_unique<HttpServer>(options, &r->router_);
    RETURN_IF_ERROR(r->server_->Start().WithContext("the demo's webhook receiver"));
    return r;
  }
  ~Receiver() { server_->Stop(); }

  // When `id` first arrived (epoch ms), waiting up to `timeout_ms`; nullopt if it did not.
  std::optional<int64_t> WaitFor(const std::string& id, int64_t timeout_ms) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                 [&] { return arrived_.count(id) > 0; });
    auto it = arrived_.find(id);
    if (it == arrived_.end()) return std::nullopt;
    return it->second;
  }
  size_t received() {
    std::lock_guard<std::mutex> lock(mu_);
    return arrived_.size();
  }

 private:
  Receiver() = default;
  void Received(const std::string& body) {
    const int64_t now = NowMs();
    simdjson::dom::parser parser;
    simdjson::dom::array records;
    if (parser.parse(body)["predictions"].get_array().get(records)) return;
    std::lock_guard<std::mutex> lock(mu_);
    for (simdjson::dom::element record : records) {
      std::string_view id;
      if (!record["id"].get_string().get(id)) arrived_.emplace(std::string(id), now);
    }
    cv_.notify_all();
  }

  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int64_t> arrived_;  // guarded by mu_
};

void Step(const std::string& text) {
  fmt::print("\n== {}\n", text);
  std::fflush(stdout);
}

Result<std::string> RunCommand(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return Status::Internal(fmt::format("cannot run: {}", command));
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) output.append(buf, n);
  int rc = ::pclose(pipe);
  if (rc != 0) return Status::Internal(fmt::format("'{}' failed ({}):\n{}", command, rc, output));
  return output;
}

// Trains the model from the training set; returns the metrics line train.py prints last.
Result<std::map<std::string, double>> Train(const DemoFlags& f, const std::string& training,
                                            const std::string& model) {
  std::string script = (fs::path(f.project.project_dir) / "train.py").string();
  ASSIGN_OR_RETURN(std::string out, RunCommand(fmt::format("'{}' '{}' '{}' '{}' 2>&1", f.python,
                                                           script, training, model)));
  std::map<std::string, double> metrics;
  std::string last = out.substr(out.rfind('{') == std::string::npos ? 0 : out.rfind('{'));
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (!parser.parse(last).get_object().get(obj)) {
    for (auto field : obj) {
      double v;
      if (!field.value.get_double().get(v)) metrics[std::string(field.key)] = v;
    }
  }
  return metrics;
}

Status LoadHistory(Instance* instance, const DemoData& data) {
  constexpr size_t kChunk = 20'000;
  std::span<const DemoEvent> events(data.events);
  for (size_t i = 0; i < events.size(); i += kChunk) {
    auto chunk = events.subspan(i, std::min(kChunk, events.size() - i));
    ASSIGN_OR_RETURN(AppendAck ack, instance->Ingest("app_events", ToNdjson(chunk)));
    (void)ack;
  }
  return instance->Checkpoint();
}

// The most active user with nothing in the last two hours: their live session then starts
// fresh, as a user opening the app does.
std::string PickUser(const DemoData& data) {
  const int64_t quiet_since = data.events.back().ts_ms - 2 * 3600 * 1000;
  std::map<std::string, std::pair<int64_t, int>> seen;  // user -> (last ts, events)
  for (const DemoEvent& e : data.events) {
    auto& [last, count] = seen[e.user_id];
    last = e.ts_ms;
    ++count;
  }
  std::string best = data.events.back().user_id;
  int best_count = 0;
  for (const auto& [user, s] : seen) {
    if (s.first < quiet_since && s.second > best_count) {
      best = user;
      best_count = s.second;
    }
  }
  return best;
}

std::string Recommendation(double p_sleep) {
  return p_sleep >= 0.5 ? "a sleep story" : "focus music";
}

// {"feature_service": SERVICE (when given), "entities": {"user_id": [USER]}}: a predict body,
// or with a service a features body.
std::string EntityBody(const std::string& user, std::string_view service = {}) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  if (!service.empty()) {
    w.Key("feature_service");
    w.String(service.data(), static_cast<rapidjson::SizeType>(service.size()));
  }
  w.Key("entities");
  w.StartObject();
  w.Key("user_id");
  w.StartArray();
  w.String(user.data(), static_cast<rapidjson::SizeType>(user.size()));
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<double> PredictOverHttp(const std::string& base, const std::string& user) {
  std::string body = EntityBody(user);
  ASSIGN_OR_RETURN(HttpReply reply,
                   HttpCall(base, "POST", fmt::format("/v1/predict/{}", kDeployment), body));
  RETURN_IF_ERROR(reply.ToStatus());
  simdjson::dom::parser parser;
  double p;
  if (parser.parse(reply.body)["predictions"].at(0).get_double().get(p)) {
    return Status::Internal("unexpected predict response: " + reply.body);
  }
  return p;
}

// After the ingest of an event that triggers `recommend` (acknowledged at `ack_ms`, at log
// offset `offset`): waits for its prediction to be readable by pull and to reach the webhook
// receiver, and prints both delays.
Status ShowTriggered(const std::string& base, const std::string& user, uint64_t offset,
                     int64_t ack_ms, Receiver* receiver) {
  const std::string id = fmt::format("{}/app_events/0/{}", kDeployment, offset);
  const std::string target = fmt::format("/v1/predictions/{}?user_id={}", kDeployment, user);
  const int64_t deadline = ack_ms + 10'000;
  simdjson::dom::parser parser;
  while (true) {
    ASSIGN_OR_RETURN(HttpReply reply, HttpCall(base, "GET", target, ""));
    RETURN_IF_ERROR(reply.ToStatus());
    std::string_view job_id;
    double score = 0;
    simdjson::dom::element latest = parser.parse(reply.body)["latest"];
    if (!latest["job_id"].get_string().get(job_id) && job_id == id &&
        !latest["score"].get_double().get(score)) {
      const int64_t pulled_ms = NowMs();
      std::optional<int64_t> pushed_ms = receiver->WaitFor(id, 10'000);
      fmt::print("  {:<34} triggered: p(sleep next) = {:.3f}, readable by pull after {} ms, {}\n",
                 "", score, pulled_ms - ack_ms,
                 pushed_ms ? fmt::format("at the webhook after {} ms", *pushed_ms - ack_ms)
                           : std::string("not at the webhook within 10 s"));
      return Status::Ok();
    }
    if (NowMs() > deadline) {
      return Status::DeadlineExceeded(fmt::format("no triggered prediction {} within 10 s", id));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

Status StreamLiveSession(const DemoFlags& f, const std::string& base, const std::string& user,
                         Receiver* receiver) {
  ASSIGN_OR_RETURN(double before, PredictOverHttp(base, user));
  fmt::print("  {:<34} p(sleep next) = {:.3f}  -> recommend {}\n", "(before the session)", before,
             Recommendation(before));
  for (DemoEvent e : LiveSession(user, NowMs(), f.seed)) {
    e.ts_ms = NowMs() - 1;  // live: it just happened (reads cover ts < now)
    ASSIGN_OR_RETURN(HttpReply ack, HttpCall(base, "POST", "/v1/events/app_events", ToNdjson(e)));
    const int64_t ack_ms = NowMs();
    RETURN_IF_ERROR(ack.ToStatus());
    ASSIGN_OR_RETURN(double p, PredictOverHttp(base, user));
    std::string what =
        fmt::format("{} {}{}", e.event, e.category,
                    e.duration_s > 0 ? fmt::format(" ({:.0f} s)", e.duration_s) : "");
    fmt::print("  {:<34} p(sleep next) = {:.3f}  -> recommend {}\n", what, p, Recommendation(p));
    if (e.event == "exit" && e.category == "sleep") {
      uint64_t offset = 0;
      simdjson::dom::parser parser;
      if (parser.parse(ack.body)["first_offset"].get_uint64().get(offset)) {
        return Status::Internal("unexpected ingest response: " + ack.body);
      }
      RETURN_IF_ERROR(ShowTriggered(base, user, offset, ack_ms, receiver));
    }
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(f.pause_ms));
  }
  return Status::Ok();
}

Status RunDemo(const DemoFlags& f) {
  ApiServer::BlockStopSignals();
  const std::string data_dir = f.project.DataDir();
  fs::remove_all(data_dir);
  const fs::path work = fs::path(data_dir) / "demo";
  fs::create_directories(work);
  ASSIGN_OR_RETURN(ProjectSpec spec, LoadProject(f.project.project_dir));

  Step("1/5 generating 3 days of app events (seeded, local)");
  DemoDataOptions data_options;
  data_options.seed = f.seed;
  data_options.users = f.users;
  data_options.start_ms = SystemClock::Default()->NowMs() - data_options.span_ms;
  DemoData data = GenerateDemoData(data_options);
  const std::string events_path = (work / "events.ndjson").string();
  const std::string labels_path = (work / "labels.csv").string();
  RETURN_IF_ERROR(WriteEventsNdjson(data, events_path));
  RETURN_IF_ERROR(WriteLabelsCsv(data, labels_path));
  fmt::print("{} events of {} users, {} labels -> {}\n", data.events.size(), f.users,
             data.labels.size(), work.string());

  Step("2/5 point-in-time training set from the feature definitions (backfill)");
  BackfillOptions backfill;
  backfill.labels_path = labels_path;
  backfill.out_path = (work / "training.csv").string();
  backfill.event_files = {events_path};
  backfill.features = spec.feature_services.at("recommender").features;
  ASSIGN_OR_RETURN(BackfillStats stats, RunBackfill(spec, backfill));
  fmt::print("{} rows x {} features -> {}\n", stats.labels, stats.columns.size(),
             backfill.out_path);

  Step("3/5 training the XGBoost model and registering it");
  const std::string model_path = (work / "model.json").string();
  ASSIGN_OR_RETURN(auto metrics, Train(f, backfill.out_path, model_path));
  InstanceOptions options;
  options.project_dir = f.project.project_dir;
  options.data_dir = data_dir;
  ASSIGN_OR_RETURN(auto instance, Instance::Open(options));
  RegisterOptions reg;
  reg.metrics = metrics;
  reg.description = "P(next start is sleep content), trained by freshet demo";
  reg.lineage.training_data = backfill.out_path;
  RETURN_IF_ERROR(BindFeatureService(spec, "recommender", &reg));
  ASSIGN_OR_RETURN(ModelVersion version,
                   instance->registry()->Register("next_content", model_path, "xgboost", reg));
  fmt::print("registered next_content v{} (holdout auc {:.3f})\n", version.version,
             metrics.count("auc") ? metrics.at("auc") : 0.0);

  Step("4/5 loading the history into the online store and serving");
  ASSIGN_OR_RETURN(auto receiver, Receiver::Start());
  RETURN_IF_ERROR(LoadHistory(instance.get(), data));
  // The history's sleep exits triggered predictions too: let them drain first, so the live
  // session's latencies are not those of a backlog.
  for (const int64_t until = NowMs() + 120'000; instance->queue()->held() > 0;) {
    if (NowMs() > until) {
      return Status::DeadlineExceeded(fmt::format(
          "the history's triggered predictions did not drain within 2 minutes ({} jobs held)",
          instance->queue()->held()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  fmt::print("the history triggered {} recommendations, pushed to http://{}{}\n",
             receiver->received(), kReceiverListen, kReceiverPath);
  ASSIGN_OR_RETURN(auto server, ApiServer::Start(instance.get(), f.listen, 0));
  const std::string host = f.listen.substr(0, f.listen.rfind(':'));
  const std::string base = fmt::format("http://{}:{}", host, server->port());
  fmt::print("serving on {}\n", base);

  const std::string user = PickUser(data);
  Step(fmt::format("5/5 live session of user {}: each event, then their recommendation", user));
  RETURN_IF_ERROR(StreamLiveSession(f, base, user, receiver.get()));

  const DemoEvent example{user, SystemClock::Default()->NowMs(), "start", "sleep", 0};
  fmt::print(
      "\nTry it yourself:\n"
      "  curl -s -X POST {0}/v1/predict/{1} -d '{2}'\n"
      "  curl -s '{0}/v1/predictions/{1}?user_id={5}'\n"
      "  curl -s -X POST {0}/v1/features -d '{3}'\n"
      "  curl -s -X POST {0}/v1/events/app_events -d '{4}'\n"
      "  curl -s {0}/metrics\n",
      base, kDeployment, EntityBody(user), EntityBody(user, "recommender"), ToNdjson(example),
      user);
  if (f.exit_after) return Status::Ok();
  fmt::print("\nServing until Ctrl-C.\n");
  std::fflush(stdout);
  ApiServer::WaitForSignal();
  return Status::Ok();
}

}  // namespace

void RegisterDemo(CLI::App* app) {
  auto f = std::make_shared<DemoFlags>();
  CLI::App* cmd = app->add_subcommand("demo", "Run the meditation demo end to end");
  f->project.AddTo(cmd);
  cmd->add_option("--listen,-l", f->listen, "HOST:PORT to serve on")->capture_default_str();
  cmd->add_option("--seed", f->seed, "Data seed")->capture_default_str();
  cmd->add_option("--users", f->users, "Simulated users")->capture_default_str();
  cmd->add_option("--pause-ms", f->pause_ms, "Pause between live events")->capture_default_str();
  cmd->add_flag("--exit", f->exit_after, "Exit after the live session instead of serving on");
  cmd->add_option("--python", f->python, "Python with xgboost for training")->capture_default_str();
  cmd->callback([f] {
    Status st = RunDemo(*f);
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
  });
}

}  // namespace freshet::cli
