// Triggered predictions across kill -9 of a real `freshet serve`: every ingested event triggers
// one prediction (one user per event, so nothing coalesces), pushed to a webhook receiver run by
// the test. The server is SIGKILLed while batches are in flight and restarted; the client retries each unacknowledged batch under its
// Idempotency-Key. At the end, after dedupe by id, the receiver holds exactly one prediction per
// event, none lost, and every redelivery of an id carries the same prediction.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <random>
#include <thread>

#include "server_process.h"
#include "webhook_receiver.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using testing::ServerProcess;
using testing::WebhookReceiver;

constexpr int kBatches = 30;
constexpr int kEventsPerBatch = 5;
constexpr int kEvents = kBatches * kEventsPerBatch;

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
    on: {{source: app_events, where: "event = 'exit'"}}
    outputs:
      - {{kind: webhook, url: '{}', timeout: 2s}}
)yaml",
                     webhook_url);
}

// Batch i: kEventsPerBatch exits, each of its own user.
std::string Batch(int i) {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::string out;
  for (int e = 0; e < kEventsPerBatch; ++e) {
    out += fmt::format(R"({{"user_id":"u{}","ts_ms":{},"event":"exit"}})", i * kEventsPerBatch + e,
                       now) +
           "\n";
  }
  return out;
}

TEST(TriggersCrashTest, EveryEventPredictedOnceAfterKills) {
  const fs::path root =
      fs::temp_directory_path() / ("freshet_triggers_crash_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "project");
  WebhookReceiver receiver;
  std::ofstream(root / "project" / "freshet.yaml") << Spec(receiver.url());
  std::ofstream(root / "linear.json") << R"({"weights":[1, 100],"bias":0})";

  ServerProcess server(FRESHET_BIN, (root / "project").string(), (root / "data").string());
  ASSERT_TRUE(server.Start());
  auto registered = server.Call("POST", "/v1/models/ranker/versions",
                                fmt::format(R"({{"artifact_path":"{}","runtime":"linear"}})",
                                            (root / "linear.json").string()));
  ASSERT_TRUE(registered.ok() && registered->status == 200)
      << (registered.ok() ? registered->body : registered.status().ToString());

  std::mt19937 rng(11);
  int kills = 0;
  for (int i = 0; i < kBatches; ++i) {
    const std::string body = Batch(i);
    const cli::HttpHeaders key = {{"Idempotency-Key", "batch-" + std::to_string(i)}};
    bool acked = false;
    bool kill = i % 5 == 2;  // one kill in every five batches, on its first attempt
    while (!acked) {
      if (kill) {
        kill = false;
        // Kill while this batch is in flight: before, during or after its commit and enqueue,
        // or while workers predict and deliver earlier jobs.
        auto post = std::async(std::launch::async, [&] {
          return server.Call("POST", "/v1/events/app_events", body, key);
        });
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 5000));
        server.Kill(SIGKILL);
        ++kills;
        post.wait();
        ASSERT_TRUE(server.Start()) << "restart after kill " << kills;
        continue;
      }
      auto r = server.Call("POST", "/v1/events/app_events", body, key);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_EQ(r->status, 200) << r->body;
      acked = true;
    }
  }
  EXPECT_GE(kills, 6);
  ASSERT_TRUE(receiver.WaitForIds(kEvents, std::chrono::seconds(60)))
      << receiver.by_id().size() << " of " << kEvents << " predictions arrived";

  // Exactly one prediction per event after dedupe by id: the ids are the events' offsets.
  std::map<std::string, std::string> by_id = receiver.by_id();
  EXPECT_EQ(by_id.size(), static_cast<size_t>(kEvents));
  for (int offset = 0; offset < kEvents; ++offset) {
    EXPECT_EQ(by_id.count(fmt::format("recommend/app_events/0/{}", offset)), 1u) << offset;
  }
  // Redeliveries of an id carry the same prediction; each reflects its event (1 + 100).
  simdjson::dom::parser parser;
  for (const auto& [id, prediction] : receiver.records()) {
    EXPECT_EQ(prediction, by_id[id]) << id;
    EXPECT_DOUBLE_EQ(double(parser.parse(prediction)["score"]), 101) << prediction;
  }
  server.Kill(SIGTERM);
  fs::remove_all(root);
}

}  // namespace
}  // namespace freshet
