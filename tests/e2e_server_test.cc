// End to end: a real `freshet serve` process on a free loopback port, driven over HTTP —
// ingest, exact feature values, Feast-shaped reads, a prediction equal to python3-xgboost's,
// bad input rejected with the right 4xx and nothing changed, the data-directory lock, metrics
// and graceful shutdown on SIGTERM.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/http_client.h"
#include "server_process.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using cli::HttpCall;
using cli::HttpReply;
using testing::RunCommand;
using testing::ServerProcess;

constexpr int64_t kT = 1'767'225'600'000;  // the read time of every check (as_of)

constexpr const char* kSpec = R"(project: e2e
entities:
  user: {key: user_id}
sources:
  app_events:
    kind: http
    timestamp: ts_ms
    fields: {user_id: string, event: string, category: string, duration_s: double}
    allowed_lateness: 1h
feature_views:
  user_activity:
    entity: user
    source: app_events
    features:
      events_10m: {agg: count, window: 10m}
      sleep_exits_10m: {agg: count, window: 10m, where: "event = 'exit' and category = 'sleep'"}
      listen_s_1h: {agg: sum, of: duration_s, window: 1h}
feature_services:
  recommender: [user_activity:events_10m, user_activity:sleep_exits_10m, user_activity:listen_s_1h]
models:
  next_content: {runtime: xgboost}
deployments:
  recommend: {model: next_content, features: recommender}
)";

constexpr const char* kTrain = R"(
import sys, numpy as np, xgboost as xgb
rng = np.random.default_rng(3)
X = rng.uniform(0, 10, size=(500, 3)); X[:, 2] *= 100
y = ((X[:, 0] + X[:, 1] * 2 + X[:, 2] / 100) > 12).astype(int)
b = xgb.train({"objective": "binary:logistic", "max_depth": 4, "seed": 1},
              xgb.DMatrix(X, label=y), num_boost_round=100)
b.save_model(sys.argv[1])
)";

constexpr const char* kPredict = R"(
import sys, numpy as np, xgboost as xgb
b = xgb.Booster(); b.load_model(sys.argv[1])
x = np.array([[float(v) for v in sys.argv[2:]]], dtype=np.float32)
print(repr(float(b.predict(xgb.DMatrix(x))[0])))
)";

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("freshet_e2e_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "project");
    std::ofstream(root_ / "project" / "freshet.yaml") << kSpec;
    std::ofstream(root_ / "train.py") << kTrain;
    std::ofstream(root_ / "predict.py") << kPredict;
    model_ = (root_ / "model.json").string();
    int rc;
    std::string out =
        RunCommand("/usr/bin/python3 " + (root_ / "train.py").string() + " " + model_, &rc);
    ASSERT_EQ(rc, 0) << out;
    out = RunCommand(Cli("models register next_content " + model_), &rc);
    ASSERT_EQ(rc, 0) << out;
    server_ = std::make_unique<ServerProcess>(FRESHET_BIN, (root_ / "project").string(),
                                              (root_ / "data").string());
    ASSERT_TRUE(server_->Start());
  }

  void TearDown() override {
    server_.reset();
    fs::remove_all(root_);
  }

  std::string Cli(const std::string& args) const {
    return std::string(FRESHET_BIN) + " " + args + " --project " + (root_ / "project").string() +
           " --data " + (root_ / "data").string();
  }

  HttpReply Post(const std::string& target, const std::string& body,
                 const cli::HttpHeaders& headers = {}) {
    auto r = server_->Call("POST", target, body, headers);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : HttpReply{};
  }

  // The three features of u1 at kT, as numbers.
  std::vector<double> Features(const std::string& user) {
    HttpReply r =
        Post("/v1/features", R"({"feature_service":"recommender","entities":{"user_id":[")" + user +
                                 R"("]},"as_of":)" + std::to_string(kT) + "}");
    EXPECT_EQ(r.status, 200) << r.body;
    simdjson::dom::parser parser;
    std::vector<double> out;
    for (auto v : parser.parse(r.body)["rows"].at(0)["values"].get_array()) {
      out.push_back(v.is_int64() ? double(int64_t(v)) : double(v));
    }
    return out;
  }

  // Appends one event of user "probe" and returns its offset.
  uint64_t AppendProbe() {
    HttpReply r = Post("/v1/events/app_events", Event("probe", kT - 1000, "search", "sleep", 0));
    simdjson::dom::parser parser;
    return uint64_t(parser.parse(r.body)["first_offset"]);
  }

  static std::string Event(const std::string& user, int64_t ts, const std::string& event,
                           const std::string& category, double duration) {
    return "{\"user_id\":\"" + user + "\",\"ts_ms\":" + std::to_string(ts) + ",\"event\":\"" +
           event + "\",\"category\":\"" + category +
           "\",\"duration_s\":" + std::to_string(duration) + "}";
  }

  fs::path root_;
  std::string model_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(E2eTest, IngestReadPredictRejectAndShutDown) {
  // Ingest: an object, an array and NDJSON; one event falls outside the 10m window.
  HttpReply a = Post("/v1/events/app_events", Event("u1", kT - 5 * 60'000, "start", "sleep", 0));
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_NE(a.body.find("\"accepted\":1"), std::string::npos) << a.body;
  HttpReply b = Post("/v1/events/app_events",
                     "[" + Event("u1", kT - 4 * 60'000, "exit", "sleep", 120) + "," +
                         Event("u1", kT - 20 * 60'000, "complete", "focus", 600) + "]");
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_NE(b.body.find("\"first_offset\":1"), std::string::npos) << b.body;
  HttpReply c =
      Post("/v1/events/app_events", Event("u1", kT - 2 * 60'000, "exit", "sleep", 30) + "\n" +
                                        Event("u2", kT - 60'000, "start", "focus", 0) + "\n");
  ASSERT_EQ(c.status, 200) << c.body;

  // Exact values at kT: events_10m = 3 (the focus complete is 20 min old), sleep exits 2,
  // listened 120 + 600 + 30 s in the last hour.
  std::vector<double> before = Features("u1");
  ASSERT_EQ(before.size(), 3u);
  EXPECT_EQ(before[0], 3);
  EXPECT_EQ(before[1], 2);
  EXPECT_DOUBLE_EQ(before[2], 750);
  // Time passes: 15 minutes later the 10m window has emptied, the 1h sum has not.
  HttpReply later = Post(
      "/v1/features",
      R"({"features":["user_activity:events_10m","user_activity:listen_s_1h"],"entities":{"user_id":["u1"]},"as_of":)" +
          std::to_string(kT + 15 * 60'000) + "}");
  EXPECT_NE(later.body.find("\"values\":[0,750"), std::string::npos) << later.body;

  // Feast-compatible shape.
  HttpReply feast = Post(
      "/get-online-features",
      R"({"features":["user_activity:events_10m"],"entities":{"user_id":["u1","nobody"]},"as_of":)" +
          std::to_string(kT) + "}");
  ASSERT_EQ(feast.status, 200) << feast.body;
  simdjson::dom::parser parser;
  auto doc = parser.parse(feast.body);
  EXPECT_EQ(std::string_view(doc["metadata"]["feature_names"].at(0)), "user_id");
  EXPECT_EQ(std::string_view(doc["metadata"]["feature_names"].at(1)), "events_10m");
  EXPECT_EQ(int64_t(doc["results"].at(1)["values"].at(0)), 3);
  EXPECT_EQ(std::string_view(doc["results"].at(1)["statuses"].at(0)), "PRESENT");
  EXPECT_EQ(std::string_view(doc["results"].at(1)["statuses"].at(1)), "NOT_FOUND");

  // Predict equals python3-xgboost on the same feature vector.
  HttpReply p = Post("/v1/predict/recommend",
                     R"({"entities":{"user_id":["u1"]},"as_of":)" + std::to_string(kT) + "}");
  ASSERT_EQ(p.status, 200) << p.body;
  simdjson::dom::parser pparser;
  auto pdoc = pparser.parse(p.body);
  double got = double(pdoc["predictions"].at(0));
  EXPECT_EQ(std::string_view(pdoc["model"]["name"]), "next_content");
  EXPECT_EQ(int64_t(pdoc["model"]["version"]), 1);
  int rc;
  std::string expected = RunCommand(
      "/usr/bin/python3 " + (root_ / "predict.py").string() + " " + model_ + " 3 2 750", &rc);
  ASSERT_EQ(rc, 0) << expected;
  EXPECT_NEAR(got, std::stod(expected), 1e-6);

  // Bad input: each is refused with the right status and a message naming the problem,
  // and nothing changes.
  uint64_t offset = AppendProbe();
  struct Bad {
    std::string target, body;
    int status;
    std::string message;
  };
  std::vector<Bad> bad = {
      {"/v1/events/app_events", "{\"user_id\": \"u1\", ", 400, "malformed JSON"},
      {"/v1/events/app_events",
       Event("u1", kT - 1000, "start", "sleep", 0) + "\n" +
           R"({"user_id":"u1","ts_ms":1,"event":"x","category":"y","duration_s":"long"})",
       400, "line 2: field 'duration_s'"},
      {"/v1/events/app_events", R"({"ts_ms":1767225500000,"event":"start"})", 400, "user_id"},
      {"/v1/events/nope", Event("u1", kT - 1000, "start", "sleep", 0), 404,
       "unknown source 'nope'"},
      {"/v1/events/app_events", std::string(17u << 20, ' '), 413, ""},
      {"/v1/features", R"({"features":["user_activity:nope"],"entities":{"user_id":["u1"]}})", 404,
       "no feature 'nope'"},
      {"/v1/predict/recommend", R"({"entities":{"customer":["u1"]}})", 400,
       "missing key 'user_id'"},
      {"/v1/predict/nope", R"({"entities":{"user_id":["u1"]}})", 404, "unknown deployment"},
      {"/v1/features",
       R"({"feature_service":"recommender","entities":{"user_id":["u1"]},)"
       R"("as_of":"99999999999999999999"})",
       400, "as_of: '99999999999999999999' is out of range for a 64-bit integer"},
      {"/v1/features",
       R"({"feature_service":"recommender","entities":{"user_id":["u1"]},)"
       R"("as_of":"2026-02-31T00:00:00Z"})",
       400, "day 31 is not 1-28 in 2026-02"},
  };
  for (const Bad& b : bad) {
    HttpReply r = Post(b.target, b.body);
    EXPECT_EQ(r.status, b.status) << b.target << " " << r.body;
    EXPECT_NE(r.body.find("\"error\""), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(b.message), std::string::npos) << r.body;
  }
  for (const auto& [limit, message] : std::vector<std::pair<std::string, std::string>>{
           {"abc", "limit: 'abc' is not an integer"},
           {"-1", "limit: -1 is not in 1-10000"},
           {"0", "limit: 0 is not in 1-10000"},
           {"10001", "limit: 10001 is not in 1-10000"},
           {"99999999999999999999", "limit: '99999999999999999999' is out of range"}}) {
    auto r = server_->Call("GET", "/v1/late/app_events?limit=" + limit, "");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 400) << limit << " " << r->body;
    EXPECT_NE(r->body.find(message), std::string::npos) << r->body;
  }
  EXPECT_EQ(Features("u1"), before);
  EXPECT_EQ(AppendProbe(), offset + 1) << "a rejected batch must store nothing";

  // A retried batch with the same Idempotency-Key counts once.
  std::string retry = Event("u3", kT - 1000, "start", "sleep", 0);
  HttpReply first = Post("/v1/events/app_events", retry, {{"Idempotency-Key", "batch-7"}});
  HttpReply second = Post("/v1/events/app_events", retry, {{"Idempotency-Key", "batch-7"}});
  EXPECT_NE(second.body.find("\"duplicate\":true"), std::string::npos) << second.body;
  EXPECT_EQ(Features("u3")[0], 1);

  // A second process cannot open the held data directory: a clear error, no crash.
  std::string out = RunCommand(Cli("ingest --source app_events -"), &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("in use"), std::string::npos) << out;

  // Metrics.
  auto metrics = server_->Call("GET", "/metrics", "");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("freshet_http_requests_total{"), std::string::npos);
  EXPECT_NE(metrics->body.find("route=\"/v1/events/{source}\""), std::string::npos);
  EXPECT_NE(metrics->body.find("freshet_events_ingested_total"), std::string::npos);

  // Graceful shutdown on SIGTERM, then a restart serves the same values.
  int wstatus = server_->Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);

  // Offline, from the same event log: the backfill's values at kT equal the online ones.
  std::ofstream(root_ / "labels.csv") << "user_id,ts_ms,label\nu1," << kT << ",1\n";
  out = RunCommand(Cli("backfill --labels " + (root_ / "labels.csv").string() + " --out " +
                       (root_ / "train.csv").string()),
                   &rc);
  ASSERT_EQ(rc, 0) << out;
  std::ifstream train(root_ / "train.csv");
  std::string header, row;
  std::getline(train, header);
  std::getline(train, row);
  EXPECT_EQ(header, "user_id,ts_ms,label,events_10m,sleep_exits_10m,listen_s_1h");
  EXPECT_EQ(row, "u1," + std::to_string(kT) + ",1,3,2,750");

  ASSERT_TRUE(server_->Start());
  EXPECT_EQ(Features("u1"), before);
}

// Bodies built to break a parser: nesting 100,000 deep, a 10 MB string. Each gets a 4xx naming
// the problem, nothing is stored, and the server keeps serving.
// Concurrent predict requests may be scored together (requests read in one turn of an I/O
// thread share a model call): each must still get exactly the answer it gets alone, and a bad
// request only its own error.
TEST_F(E2eTest, ConcurrentPredictionsEachGetTheirOwnAnswer) {
  constexpr int kUsers = 6;
  std::string events;
  for (int u = 0; u < kUsers; ++u) {
    for (int e = 0; e <= u; ++e) {
      events += Event("u" + std::to_string(u), kT - (e + 1) * 60'000, e % 2 ? "exit" : "start",
                      "sleep", 10.0 * (u + 1)) +
                "\n";
    }
  }
  ASSERT_EQ(Post("/v1/events/app_events", events).status, 200);
  auto body = [](const std::string& users) {
    return R"({"entities":{"user_id":[)" + users + R"(]},"as_of":)" + std::to_string(kT) + "}";
  };
  std::vector<std::string> requests, alone;
  for (int u = 0; u < kUsers; ++u) requests.push_back(body("\"u" + std::to_string(u) + "\""));
  requests.push_back(body(R"("u1","u4")"));
  requests.push_back(body("7"));  // user_id is a string key: 400
  for (const std::string& r : requests) alone.push_back(Post("/v1/predict/recommend", r).body);
  ASSERT_NE(alone[1], alone[4]);
  EXPECT_NE(alone.back().find("user_id"), std::string::npos) << alone.back();

  constexpr int kThreads = 6, kRounds = 40;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const size_t which = static_cast<size_t>(t + i) % requests.size();
        auto r = server_->Call("POST", "/v1/predict/recommend", requests[which]);
        const int expected_status = which + 1 == requests.size() ? 400 : 200;
        if (!r.ok() || r->status != expected_status || r->body != alone[which]) ++wrong;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  // How many were scored together: model calls against rows (recorded, not asserted: it
  // depends on how the requests happened to arrive).
  auto reply = server_->Call("GET", "/metrics", "");
  const std::string metrics_text = reply.ok() ? reply->body : "";
  for (const char* name : {"freshet_model_requests_total{", "freshet_model_rows_total{"}) {
    size_t at = metrics_text.find(std::string("\n") + name);
    if (at == std::string::npos) continue;
    std::string line = metrics_text.substr(at + 1, metrics_text.find('\n', at + 1) - at - 1);
    std::cout << line << "\n";
  }
}

TEST_F(E2eTest, HostileJsonBodiesAre4xx) {
  uint64_t offset = AppendProbe();
  const std::string deep_arrays = std::string(100'000, '[') + std::string(100'000, ']');
  std::string deep_objects;
  for (int i = 0; i < 100'000; ++i) deep_objects += "{\"a\":";
  deep_objects += "1" + std::string(100'000, '}');
  const std::string huge(10u << 20, 'x');
  struct Bad {
    std::string target, body;
    int status;
    std::string message;
  };
  std::vector<Bad> bad = {
      {"/v1/events/app_events", deep_arrays, 400, "too deep"},
      {"/v1/events/app_events", deep_objects, 400, "too deep"},
      {"/v1/events/app_events", "{\"nested\":" + deep_arrays + "}", 400, "too deep"},
      {"/v1/events/app_events", Event(huge, kT - 1000, "start", "sleep", 0), 400,
       "record 1: field 'user_id': a string of 10485760 bytes is over the limit of 4194304 bytes"},
      {"/v1/events/app_events",
       Event("u1", kT - 1000, "start", "sleep", 0) + "\n" +
           Event("u1", kT - 1000, huge, "sleep", 0) + "\n",
       400, "line 2: field 'event': a string of 10485760 bytes"},
      {"/v1/features", deep_arrays, 400, "too deep"},
      {"/v1/features",
       R"({"features":["user_activity:events_10m"],"entities":)" + deep_objects + "}", 400,
       "too deep"},
      {"/v1/features",
       R"({"features":["user_activity:events_10m"],"entities":{"user_id":[")" + huge + "\"]}}", 400,
       "a string of 10485760 bytes is over the limit"},
      {"/get-online-features", deep_objects, 400, "too deep"},
      {"/v1/predict/recommend", deep_arrays, 400, "too deep"},
      {"/v1/predict/recommend", R"({"entities":{"user_id":[")" + huge + "\"]}}", 400,
       "a string of 10485760 bytes is over the limit"},
  };
  for (const Bad& b : bad) {
    HttpReply r = Post(b.target, b.body);
    EXPECT_EQ(r.status, b.status) << b.target << " " << r.body.substr(0, 300);
    EXPECT_NE(r.body.find("\"error\""), std::string::npos) << r.body.substr(0, 300);
    EXPECT_NE(r.body.find(b.message), std::string::npos) << r.body.substr(0, 300);
    EXPECT_LT(r.body.size(), 4096u) << "the error does not echo the body";
  }
  EXPECT_EQ(AppendProbe(), offset + 1) << "a rejected batch must store nothing";
  auto health = server_->Call("GET", "/healthz", "");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
}

// `freshet serve`'s queue flags reach the prediction queue (its capacity is in GET /v1/queue),
// and a value out of range is refused naming the flag, before anything is opened.
TEST(ServeCliTest, QueueFlagsReachThePredictionQueue) {
  const fs::path root =
      fs::temp_directory_path() / ("freshet-serve-cli-" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "project");
  std::ofstream(root / "project" / "freshet.yaml") << "project: p\n";
  {
    ServerProcess server(FRESHET_BIN, (root / "project").string(), (root / "data").string());
    ASSERT_TRUE(server.Start({"--queue-max-jobs", "7", "--queue-visibility-ms", "5000",
                              "--queue-max-attempts", "9", "--queue-retention-ms", "60000"}));
    auto stats = server.Call("GET", "/v1/queue", "");
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    ASSERT_EQ(stats->status, 200) << stats->body;
    simdjson::dom::parser parser;
    EXPECT_EQ(uint64_t(parser.parse(stats->body)["capacity"]), 7u) << stats->body;
  }
  for (const char* flag : {"--queue-max-jobs 0", "--queue-visibility-ms 0",
                           "--queue-max-attempts 0", "--queue-retention-ms -1"}) {
    int rc = 0;
    std::string out =
        RunCommand(std::string(FRESHET_BIN) + " serve --project " + (root / "project").string() +
                       " --data " + (root / "bad-data").string() + " --listen 127.0.0.1:0 " + flag,
                   &rc);
    EXPECT_NE(rc, 0) << flag;
    const std::string name = std::string(flag).substr(0, std::string(flag).find(' '));
    EXPECT_NE(out.find(name), std::string::npos) << out;
    EXPECT_FALSE(fs::exists(root / "bad-data")) << flag;  // refused before opening anything
  }
  fs::remove_all(root);
}

// `freshet bench stream` wires its options through: a small run with several batches and
// checkpoints reports every event, and a zero batch size is refused.
TEST(BenchCliTest, StreamOptionsReachTheBenchmark) {
  const fs::path data =
      fs::temp_directory_path() / ("freshet-bench-cli-" + std::to_string(getpid()));
  int rc = 0;
  std::string out = RunCommand(std::string(FRESHET_BIN) +
                                   " bench stream --events 3000 --entities 200 --chunk-bytes 4096 "
                                   "--checkpoint-records 1000 --data " +
                                   data.string(),
                               &rc);
  ASSERT_EQ(rc, 0) << out;
  std::string last = out.substr(out.rfind('{'));
  simdjson::dom::parser parser;
  simdjson::dom::element result = parser.parse(last);
  EXPECT_EQ(int64_t(result["events"]), 3000);
  EXPECT_LE(int64_t(result["entities"]), 200);
  EXPECT_GE(int64_t(result["checkpoints"]), 3);  // 1,000 records each, and the final one
  EXPECT_GT(double(result["events_per_s"]), 0);

  out = RunCommand(std::string(FRESHET_BIN) + " bench stream --chunk-bytes 0 2>&1", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("--chunk-bytes"), std::string::npos) << out;
  fs::remove_all(data);
}

// `freshet apply` checks source kinds, output kinds and model runtimes against what this
// build implements, naming the file and line; a project using only built kinds passes.
TEST(ApplyCliTest, KindsNotBuiltNameFileAndLine) {
  const fs::path dir =
      fs::temp_directory_path() / ("freshet-apply-cli-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string head =
      "project: p\n"
      "sources:\n"
      "  replayed: {kind: file, timestamp: ts, path: events.ndjson}\n";
  auto apply = [&](const std::string& yaml, int* rc) {
    std::ofstream(dir / "freshet.yaml") << yaml;
    return RunCommand(std::string(FRESHET_BIN) + " apply --project " + dir.string() + " 2>&1", rc);
  };
  int rc = 0;
  std::string out = apply(head, &rc);
  EXPECT_EQ(rc, 0) << out;

  // Every source kind the spec accepts is built.
  out = apply(head + "  clicks:\n    kind: kafka\n    timestamp: ts\n    topic: clicks\n", &rc);
  EXPECT_EQ(rc, 0) << out;

  // Every runtime the spec names is built.
  out = apply(head + "models:\n  m: {runtime: torchscript}\n  t: {runtime: fasttext}\n", &rc);
  EXPECT_EQ(rc, 0) << out;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace freshet
