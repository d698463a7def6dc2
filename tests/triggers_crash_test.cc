// Triggered predictions across kill -9 of a real `freshet serve`, pushed to a webhook receiver
// run by the test. Each batch holds exits of users of their own (one prediction each), a burst
// of exits of one user (coalesced by the debounce into one prediction) and an event that
// triggers nothing. The receiver is down for the first part of the run; the server is
// SIGKILLed while batches are in flight and restarted, and the client retries each
// unacknowledged batch under its Idempotency-Key. At the end, after dedupe by job id, the
// receiver holds exactly one prediction per triggering event or burst, none lost, none extra;
// every redelivery of an id carries the same prediction, and each entity has one prediction.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "crash_support.h"
#include "server_process.h"
#include "webhook_receiver.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using testing::KillMidPost;
using testing::PostAcked;
using testing::ServerProcess;
using testing::WebhookReceiver;

constexpr int kBatches = 16;
constexpr int kSingles = 4;                             // exits, each of its own user
constexpr int kBurst = 3;                               // exits of one user, coalesced
constexpr int kEventsPerBatch = kSingles + kBurst + 1;  // + one event triggering nothing
constexpr int kPredictionsPerBatch = kSingles + 1;      // + the burst's one
constexpr int kPredictions = kBatches * kPredictionsPerBatch;
constexpr int kReceiverBackAt = 3;  // down for the batches before

// `recommend` scores events + 100 * exits: 101 for a single exit, 303 for a whole burst.
std::string Spec(const std::string& webhook_url) {
  return fmt::format(R"yaml(project: triggers_crash
entities:
  user: {{key: user_id}}
sources:
  app_events:
    kind: http
    timestamp: ts_ms
    fields: {{user_id: string, ts_ms: int64, event: string}}
    allowed_lateness: 1d
feature_views:
  activity:
    entity: user
    source: app_events
    features:
      events: {{agg: count}}
      exits: {{agg: count, where: "event = 'exit'"}}
feature_services:
  scoring: [activity:events, activity:exits]
models:
  ranker: {{runtime: linear}}
deployments:
  recommend:
    model: ranker
    features: scoring
    on: {{source: app_events, where: "event = 'exit'", debounce: 300ms}}
    outputs:
      - {{kind: webhook, url: '{}', timeout: 2s}}
)yaml",
                     webhook_url);
}

std::string Event(const std::string& user, const char* event) {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  return fmt::format(R"({{"user_id":"{}","ts_ms":{},"event":"{}"}})", user, now, event) + "\n";
}

// Batch i (log offsets i * kEventsPerBatch ...): exits of s<i>_0..s<i>_3, a burst of b<i>'s
// exits, a start of n<i>.
std::string Batch(int i) {
  std::string out;
  for (int e = 0; e < kSingles; ++e) out += Event(fmt::format("s{}_{}", i, e), "exit");
  for (int e = 0; e < kBurst; ++e) out += Event(fmt::format("b{}", i), "exit");
  return out + Event(fmt::format("n{}", i), "start");
}

// The job ids batch i must yield: its singles' offsets and its burst's first offset.
std::set<std::string> ExpectedIds() {
  std::set<std::string> ids;
  for (int i = 0; i < kBatches; ++i) {
    for (int e = 0; e <= kSingles; ++e) {
      ids.insert(fmt::format("recommend/app_events/0/{}", i * kEventsPerBatch + e));
    }
  }
  return ids;
}

// The number of predictions `user` has in the server's store (its history), or -1.
int64_t StoredPredictions(const ServerProcess& server, const std::string& user) {
  auto r = server.Call("GET", "/v1/predictions/recommend?user_id=" + user, "");
  if (!r.ok() || r->status != 200) return -1;
  simdjson::dom::parser parser;
  simdjson::dom::array history;
  if (parser.parse(r->body)["history"].get(history)) return -1;
  return static_cast<int64_t>(history.size());
}

TEST(TriggersCrashTest, EveryTriggerDeliveredOnceAfterKillsAndADownReceiver) {
  const fs::path root =
      fs::temp_directory_path() / ("freshet_triggers_crash_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "project");
  WebhookReceiver receiver;
  receiver.down = true;
  std::ofstream(root / "project" / "freshet.yaml") << Spec(receiver.url());
  std::ofstream(root / "linear.json") << R"({"weights":[1, 100],"bias":0})";

  ServerProcess server(FRESHET_BIN, (root / "project").string(), (root / "data").string());
  ASSERT_TRUE(server.Start());
  auto registered = server.Call("POST", "/v1/models/ranker/versions",
                                fmt::format(R"({{"artifact_path":"{}","runtime":"linear"}})",
                                            (root / "linear.json").string()));
  ASSERT_TRUE(registered.ok() && registered->status == 201)
      << (registered.ok() ? registered->body : registered.status().ToString());

  std::mt19937 rng(11);
  int kills = 0;
  for (int i = 0; i < kBatches; ++i) {
    if (i == kReceiverBackAt) {
      // Deliveries have been failing: some are backing off, some are in flight. One more kill
      // with no batch in flight, then the receiver is back and must get everything. (The first
      // attempts follow the debounce and the restart: wait for one.)
      ASSERT_TRUE(receiver.WaitForPosts(1, std::chrono::seconds(10)));
      server.Kill(SIGKILL);
      ++kills;
      ASSERT_TRUE(server.Start());
      receiver.down = false;
    }
    const std::string body = Batch(i);
    const std::string key = "batch-" + std::to_string(i);
    // One kill in every four batches, while the batch is in flight: before, during or after
    // its commit and enqueue, or while workers predict and deliver earlier jobs.
    if (i % 4 == 1) {
      ASSERT_TRUE(KillMidPost(&server, "/v1/events/app_events", body, key,
                              std::chrono::microseconds(rng() % 5000)));
      ++kills;
    }
    ASSERT_TRUE(PostAcked(server, "/v1/events/app_events", body, key));
  }
  EXPECT_GE(kills, 5);
  ASSERT_TRUE(receiver.WaitForIds(kPredictions, std::chrono::seconds(30)))
      << receiver.by_id().size() << " of " << kPredictions << " predictions arrived";
  // Anything more (a prediction for another id) would arrive by now.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  // Exactly one prediction per trigger after dedupe by id: the ids are the events' offsets.
  std::map<std::string, std::string> by_id = receiver.by_id();
  const std::set<std::string> expected = ExpectedIds();
  std::set<std::string> got;
  for (const auto& [id, prediction] : by_id) got.insert(id);
  EXPECT_EQ(got, expected);
  // Redeliveries of an id carry the same prediction; each reflects its trigger's events.
  simdjson::dom::parser parser;
  for (const auto& [id, prediction] : receiver.records()) {
    EXPECT_EQ(prediction, by_id[id]) << id;
    const uint64_t offset = std::stoull(id.substr(id.rfind('/') + 1));
    const bool burst = offset % kEventsPerBatch == kSingles;
    EXPECT_DOUBLE_EQ(double(parser.parse(prediction)["score"]), burst ? 303 : 101)
        << id << ": " << prediction;
  }
  // The server's store agrees: one prediction per single exit and per burst, none for n<i>.
  for (int i = 0; i < kBatches; ++i) {
    for (int e = 0; e < kSingles; ++e) {
      EXPECT_EQ(StoredPredictions(server, fmt::format("s{}_{}", i, e)), 1) << i << " " << e;
    }
    EXPECT_EQ(StoredPredictions(server, fmt::format("b{}", i)), 1) << i;
    EXPECT_EQ(StoredPredictions(server, fmt::format("n{}", i)), 0) << i;
  }
  server.Kill(SIGTERM);
  fs::remove_all(root);
}

}  // namespace
}  // namespace freshet
