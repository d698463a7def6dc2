// Event-triggered predictions through a real Instance: RocksDB in a temporary directory, the
// durable queue, a registered linear model, worker threads, real sinks (an NDJSON file and a
// webhook receiver on 127.0.0.1). Each test ingests events and waits (bounded) for what the
// triggers must produce: predictions in the store, the pull API's answer, deliveries.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "api/api.h"
#include "instance/instance.h"
#include "models/models_test_util.h"
#include "server/http_server.h"
#include "webhook_receiver.h"

namespace freshet {
namespace {

using std::chrono::milliseconds;
using testing::ScopedTempDir;
using testing::WebhookReceiver;

constexpr auto kWait = std::chrono::seconds(20);

// `recommend` is triggered by exits; its linear model scores events + 100 * sleep exits, so a
// prediction shows how many of the entity's events it reflects.
std::string Spec(const std::string& debounce, const std::string& outputs) {
  return fmt::format(R"yaml(project: triggers_test
entities:
  user: {{key: user_id}}
sources:
  app_events:
    kind: http
    timestamp: ts_ms
    fields: {{user_id: string, ts_ms: int64, event: string, category: string}}
    allowed_lateness: 1d
feature_views:
  activity:
    entity: user
    source: app_events
    features:
      events: {{agg: count}}
      sleep_exits: {{agg: count, where: "event = 'exit' and category = 'sleep'"}}
feature_services:
  scoring: [activity:events, activity:sleep_exits]
models:
  ranker: {{runtime: linear}}
deployments:
  recommend:
    model: ranker
    features: scoring
    on: {{source: app_events, where: "event = 'exit'", debounce: {}}}
{}
)yaml",
                     debounce, outputs);
}

std::string Event(const std::string& user, const std::string& event,
                  const std::string& category = "sleep") {
  int64_t now =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  return fmt::format(R"({{"user_id":"{}","ts_ms":{},"event":"{}","category":"{}"}})", user, now,
                     event, category);
}

// One HTTP/1.1 POST on a fresh connection to 127.0.0.1:`port`: the whole response as received
// (status line, headers, body), or "" when the connection fails.
std::string RawPost(int port, const std::string& target, const std::string& body) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval timeout{10, 0};  // a server that does not answer fails the test instead of hanging it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = fmt::format(
        "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        target, body.size(), body);
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, n);
    }
  }
  ::close(fd);
  return response;
}

// Blocks every model call until Release(); counts the calls that reached it.
class Gate {
 public:
  PredictFn Wrap(Instance** instance) {
    return [this, instance](const std::string& deployment, const EntityColumns& entities) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        ++entered_;
        cv_.notify_all();
        cv_.wait(lock, [this] { return open_; });
      }
      return (*instance)->predictor()->Predict(deployment, entities);
    };
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool WaitEntered(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return entered_ > 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int entered_ = 0;
};

class TriggersTest : public ::testing::Test {
 protected:
  void TearDown() override {
    gate_.Release();  // a blocked worker must not stop the instance from closing
    instance_.reset();
  }

  void Open(const std::string& debounce, const std::string& outputs = "", bool gated = false,
            size_t queue_capacity = 0) {
    std::filesystem::create_directories(dir_.File("project"));
    std::ofstream(dir_.File("project/freshet.yaml")) << Spec(debounce, outputs);
    InstanceOptions options;
    options.project_dir = dir_.File("project");
    options.data_dir = dir_.File("data");
    options.checkpoint_interval_ms = 3'600'000;
    options.state_backend = state_backend_;
    options.triggers.poll_ms = 20;
    if (gated) options.triggers.predict = gate_.Wrap(&raw_);
    if (max_batch_ > 0) options.triggers.max_batch = max_batch_;
    if (queue_capacity > 0) options.queue.max_jobs = queue_capacity;
    options.queue.backoff_base_ms = 50;
    options.queue.backoff_max_ms = 200;
    options.queue.max_attempts = 1000;  // a receiver down for a while must not dead-letter
    auto instance = Instance::Open(options);
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    instance_ = std::move(*instance);
    raw_ = instance_.get();
    const std::string model = dir_.File("linear.json");
    std::ofstream(model) << R"({"weights":[1, 100],"bias":0})";
    if (instance_->registry()->Get("ranker").ok()) return;  // reopened
    auto v = instance_->registry()->Register("ranker", model, "linear");
    ASSERT_TRUE(v.ok()) << v.status().ToString();
  }

  void Ingest(const std::string& body) {
    auto ack = instance_->Ingest("app_events", body);
    ASSERT_TRUE(ack.ok()) << ack.status().ToString();
  }

  // The entity's predictions once it has at least `n`, newest first (fails after kWait).
  std::vector<StoredPrediction> WaitPredictions(const std::string& user, size_t n) {
    auto deadline = std::chrono::steady_clock::now() + kWait;
    while (true) {
      auto got = instance_->predictions()->Get("recommend", {Value::String(user)});
      EXPECT_TRUE(got.ok()) << got.status().ToString();
      if (!got.ok() || got->size() >= n) return got.ok() ? *got : std::vector<StoredPrediction>{};
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << user << " has " << got->size() << " predictions, waited for " << n;
        return *got;
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
  }

  ScopedTempDir dir_{"triggers_test"};
  Gate gate_;
  std::string state_backend_ = "rocksdb";
  size_t max_batch_ = 0;  // TriggerWorkersOptions::max_batch when set
  Instance* raw_ = nullptr;
  std::unique_ptr<Instance> instance_;
};

TEST_F(TriggersTest, WhereFilterTriggersOnlyMatchingEvents) {
  Open("0s");
  Ingest(Event("u2", "start"));  // no exit: never triggers
  Ingest(Event("u1", "start"));
  Ingest(Event("u1", "exit"));
  std::vector<StoredPrediction> got = WaitPredictions("u1", 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].job_id, "recommend/app_events/0/2");
  EXPECT_EQ(got[0].event.offset, 2u);
  EXPECT_DOUBLE_EQ(got[0].score, 2 + 100);  // both of u1's events, one a sleep exit
  EXPECT_EQ(got[0].model, "ranker");
  EXPECT_EQ(got[0].version, 1);
  EXPECT_LE(got[0].ack_ms, got[0].enqueued_ms);
  EXPECT_LE(got[0].enqueued_ms, got[0].predicted_ms);
  auto u2 = instance_->predictions()->Get("recommend", {Value::String("u2")});
  ASSERT_TRUE(u2.ok());
  EXPECT_TRUE(u2->empty());
}

TEST_F(TriggersTest, DebounceCoalescesABurstIntoOnePredictionOfAllItsEvents) {
  Open("3s");
  for (int i = 0; i < 5; ++i) Ingest(Event("u1", "exit"));
  std::vector<StoredPrediction> got = WaitPredictions("u1", 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].job_id, "recommend/app_events/0/0");  // the burst keeps its first job's id
  EXPECT_EQ(got[0].event.offset, 4u);                    // and carries its last event
  EXPECT_DOUBLE_EQ(got[0].score, 5 + 500);
  Ingest(Event("u2", "exit"));  // a later job of another entity, after the burst's
  WaitPredictions("u2", 1);
  EXPECT_EQ(WaitPredictions("u1", 1).size(), 1u);  // still one prediction for the burst
}

TEST_F(TriggersTest, ABlockedModelDoesNotBlockIngest) {
  Open("0s", "", /*gated=*/true);
  Ingest(Event("u0", "exit"));
  ASSERT_TRUE(gate_.WaitEntered(kWait));  // a worker is inside the model call, blocked
  for (int i = 1; i < 20; ++i) Ingest(Event("u" + std::to_string(i), "exit"));
  auto none = instance_->predictions()->Get("recommend", {Value::String("u0")});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());  // every ingest was acknowledged with the model still blocked
  gate_.Release();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(WaitPredictions("u" + std::to_string(i), 1).size(), 1u);
}

// Over HTTP: while the prediction queue is full, a batch of a triggering source gets 429 with
// Retry-After and nothing of it is stored; once the queue drains (predictions made and
// delivered to the output), the same batch is accepted.
TEST_F(TriggersTest, FullQueueAnswers429OverHttpStoresNothingAndAcceptsOnceDrained) {
  const std::string file = dir_.File("out/predictions.ndjson");
  Open("0s", fmt::format("    outputs:\n      - {{kind: file, path: {}}}", file),
       /*gated=*/true, /*queue_capacity=*/3);
  Router router;
  ASSERT_TRUE(RegisterApi(&router, instance_.get()).ok());
  HttpServerOptions server_options;
  server_options.listen_address = "127.0.0.1:0";
  server_options.threads = 2;
  HttpServer server(server_options, &router);
  ASSERT_TRUE(server.Start().ok());
  const std::string features = R"({"features":["activity:events"],"entities":{"user_id":["u9"]}})";
  const std::string before = RawPost(server.port(), "/v1/features", features);
  ASSERT_NE(before.find("HTTP/1.1 200"), std::string::npos) << before;

  // Three jobs held (the model blocked): the queue is full.
  for (int i = 0; i < 3; ++i) Ingest(Event("u" + std::to_string(i), "exit"));
  ASSERT_TRUE(gate_.WaitEntered(kWait));
  auto next = instance_->log()->NextOffset("app_events");
  ASSERT_TRUE(next.ok());
  const std::string batch = "[" + Event("u9", "start") + "," + Event("u9", "exit") + "]";
  const std::string refused = RawPost(server.port(), "/v1/events/app_events", batch);
  EXPECT_EQ(refused.rfind("HTTP/1.1 429 ", 0), 0u) << refused;
  EXPECT_NE(refused.find("\r\nRetry-After: 1\r\n"), std::string::npos) << refused;
  EXPECT_NE(refused.find("prediction queue is full"), std::string::npos) << refused;
  // Nothing of the batch was stored: not in the event log, not in the features.
  auto after = instance_->log()->NextOffset("app_events");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, *next);
  const std::string unchanged = RawPost(server.port(), "/v1/features", features);
  // The same rows (NOT_FOUND) as before the refused batch; only the read time differs.
  ASSERT_NE(unchanged.find("\"rows\""), std::string::npos) << unchanged;
  EXPECT_EQ(unchanged.substr(unchanged.find("\"rows\"")), before.substr(before.find("\"rows\"")));

  // The queue drains once the model answers: the full queue takes the predictions'
  // deliveries all the same. Then the same batch is accepted and predicted.
  gate_.Release();
  for (int i = 0; i < 3; ++i) WaitPredictions("u" + std::to_string(i), 1);
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (instance_->queue()->held() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_EQ(instance_->queue()->held(), 0u);
  const std::string accepted = RawPost(server.port(), "/v1/events/app_events", batch);
  EXPECT_EQ(accepted.rfind("HTTP/1.1 200 ", 0), 0u) << accepted;
  std::vector<StoredPrediction> got = WaitPredictions("u9", 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_DOUBLE_EQ(got[0].score, 2 + 100);  // both events of the accepted batch
  server.Stop();
}

TEST_F(TriggersTest, PullApiAnswersLatestAndHistory) {
  Open("0s");
  Router router;
  ASSERT_TRUE(RegisterApi(&router, instance_.get()).ok());
  auto get = [&router](const std::string& path, std::map<std::string, std::string> query) {
    HttpRequest req;
    req.method = "GET";
    req.path = path;
    for (auto& [k, v] : query) req.query.emplace(k, v);
    HttpResponse res;
    auto match = router.Match("GET", path);
    EXPECT_TRUE(match.ok() && match->route != nullptr) << path;
    req.path_params = match->path_params;
    match->route->handler(req, &res);
    return res;
  };
  Ingest(Event("u1", "exit"));
  WaitPredictions("u1", 1);
  Ingest(Event("u1", "exit", "focus"));
  WaitPredictions("u1", 2);
  HttpResponse res = get("/v1/predictions/recommend", {{"user_id", "u1"}});
  ASSERT_EQ(res.status, 200) << res.body;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(res.body);
  EXPECT_EQ(std::string_view(doc["entity"]["user_id"]), "u1");
  EXPECT_DOUBLE_EQ(double(doc["latest"]["score"]), 2 + 100);
  EXPECT_EQ(std::string_view(doc["latest"]["job_id"]), "recommend/app_events/0/1");
  EXPECT_EQ(int64_t(doc["latest"]["version"]), 1);
  EXPECT_EQ(std::string_view(doc["latest"]["event"]["source"]), "app_events");
  EXPECT_EQ(int64_t(doc["latest"]["event"]["offset"]), 1);
  simdjson::dom::array history = doc["history"];
  ASSERT_EQ(history.size(), 2u);
  EXPECT_DOUBLE_EQ(double(history.at(1)["score"]), 1 + 100);

  HttpResponse unknown = get("/v1/predictions/nope", {{"user_id", "u1"}});
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("unknown deployment 'nope'"), std::string::npos) << unknown.body;
  HttpResponse missing = get("/v1/predictions/recommend", {{"user", "u1"}});
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find("missing query parameter 'user_id'"), std::string::npos)
      << missing.body;
  HttpResponse none = get("/v1/predictions/recommend", {{"user_id", "nobody"}});
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_NE(none.body.find("\"latest\":null"), std::string::npos) << none.body;
}

TEST_F(TriggersTest, DownWebhookGetsEverythingOnceBackWhileTheFileSinkIsNotBlocked) {
  WebhookReceiver receiver;
  receiver.down = true;
  const std::string file = dir_.File("out/predictions.ndjson");
  Open("0s", fmt::format("    outputs:\n      - {{kind: webhook, url: '{}', timeout: 2s}}\n"
                         "      - {{kind: file, path: {}}}",
                         receiver.url(), file));
  for (int i = 0; i < 5; ++i) Ingest(Event("u" + std::to_string(i), "exit"));
  // The file output gets all five while the webhook answers 503.
  auto deadline = std::chrono::steady_clock::now() + kWait;
  size_t lines = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(file);
    std::string line;
    for (lines = 0; std::getline(in, line);) ++lines;
    if (lines >= 5) break;
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(lines, 5u);
  EXPECT_TRUE(receiver.WaitForPosts(1, kWait));
  EXPECT_TRUE(receiver.by_id().empty());
  receiver.down = false;
  ASSERT_TRUE(receiver.WaitForIds(5, kWait));
  std::map<std::string, std::string> got = receiver.by_id();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(got.count(fmt::format("recommend/app_events/0/{}", i)), 1u) << i;
  }
}

// A delivery job carries a whole predict batch: with batches of at most 4, 20 predictions
// reach a webhook that was down, each once, in POSTs of at most 4 records.
TEST_F(TriggersTest, BatchedDeliveriesReachTheWebhookInPostsOfAtMostMaxBatch) {
  WebhookReceiver receiver;
  receiver.down = true;
  max_batch_ = 4;
  Open("0s",
       fmt::format("    outputs:\n      - {{kind: webhook, url: '{}', timeout: 2s}}",
                   receiver.url()),
       /*gated=*/true);
  Ingest(Event("u0", "exit"));
  ASSERT_TRUE(gate_.WaitEntered(kWait));  // the others queue up behind the blocked model call
  for (int i = 1; i < 20; ++i) Ingest(Event("u" + std::to_string(i), "exit"));
  // Every job queued (they are enqueued after the ingest acknowledgement) before the model
  // answers, so the workers' next receives take full batches.
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (instance_->queue()->held() < 20 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_EQ(instance_->queue()->held(), 20u);
  gate_.Release();
  for (int i = 0; i < 20; ++i) WaitPredictions("u" + std::to_string(i), 1);
  // Delivery jobs: the two workers' first batches (blocked in the model), then batches of 4.
  EXPECT_LE(instance_->queue()->held(), 7u);
  receiver.down = false;
  ASSERT_TRUE(receiver.WaitForIds(20, kWait));
  std::map<std::string, std::string> got = receiver.by_id();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(got.count(fmt::format("recommend/app_events/0/{}", i)), 1u) << i;
  }
  EXPECT_GE(receiver.largest_post(), 1u);
  EXPECT_LE(receiver.largest_post(), 4u);
}

// A webhook that is down is probed with one batch per pause (50 ms, doubling, at most 2 s), not
// sent every delivery whose own retry backoff (here 50-200 ms) has run out; once it is back,
// everything arrives.
TEST_F(TriggersTest, ADownWebhookIsProbedNotHammered) {
  WebhookReceiver receiver;
  receiver.down = true;
  Open("0s", fmt::format("    outputs:\n      - {{kind: webhook, url: '{}', timeout: 2s}}",
                         receiver.url()));
  // Predictions made at different times: their deliveries come due at different times.
  for (int i = 0; i < 20; ++i) {
    Ingest(Event("u" + std::to_string(i), "exit"));
    std::this_thread::sleep_for(milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));
  // Pauses of 50+100+200+400+800+1600 ms fill ~3.2 s: at most 7 posts (without them, each
  // group of deliveries would come back every 200 ms at most: dozens of posts).
  EXPECT_GE(receiver.posts(), 1);
  EXPECT_LE(receiver.posts(), 8);
  receiver.down = false;
  ASSERT_TRUE(receiver.WaitForIds(20, kWait));
}

TEST_F(TriggersTest, RestartRetriggersTheTailAndDedupesByJobId) {
  // The memory state backend keeps no checkpoint: every Open replays the whole log, so every
  // event is a tail event that triggers again (the worst case of a crash).
  state_backend_ = "memory";
  const std::string file = dir_.File("out/predictions.ndjson");
  const std::string outputs = fmt::format("    outputs:\n      - {{kind: file, path: {}}}", file);
  Open("0s", outputs);
  for (int i = 0; i < 4; ++i) Ingest(Event("u" + std::to_string(i), "exit"));
  // A burst in one batch: its later events coalesce into the first one's job, so the queue
  // never knew their ids; the replay must not predict them again either.
  Ingest(Event("b", "exit") + "\n" + Event("b", "exit") + "\n" + Event("b", "exit"));
  for (int i = 0; i < 4; ++i) WaitPredictions("u" + std::to_string(i), 1);
  const size_t burst = WaitPredictions("b", 1).size();
  instance_.reset();
  Open("0s", outputs);
  // The replay triggered every event again; none became a new job.
  const std::string metrics = instance_->metrics()->Render();
  EXPECT_EQ(metrics.find("freshet_triggered_jobs_total{"), std::string::npos) << metrics;
  Ingest(Event("u4", "exit"));
  WaitPredictions("u4", 1);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(WaitPredictions("u" + std::to_string(i), 1).size(), 1u) << i;
  }
  EXPECT_EQ(WaitPredictions("b", 1).size(), burst);
  // Every delivered line carries a distinct prediction id: nothing was predicted twice.
  const size_t expected = 5 + burst;
  auto deadline = std::chrono::steady_clock::now() + kWait;
  std::set<std::string> ids;
  size_t lines = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(file);
    std::string line;
    ids.clear();
    for (lines = 0; std::getline(in, line); ++lines) {
      simdjson::dom::parser parser;
      ids.insert(std::string(std::string_view(parser.parse(line)["id"])));
    }
    if (ids.size() >= expected) break;
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(ids.size(), expected);
  EXPECT_EQ(lines, ids.size());
  EXPECT_EQ(ids.count("recommend/app_events/0/7"), 1u);  // u4's, after the reopen
}

}  // namespace
}  // namespace freshet
