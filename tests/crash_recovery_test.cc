// Exactly-once across kill -9: the same batches are ingested into two servers, one left alone
// and one SIGKILLed at random moments (mid-request, mid-commit, mid-checkpoint) and restarted,
// with the client retrying each unacknowledged batch under its Idempotency-Key. After every
// restart and at the end, the crashed server's features must equal the reference's: no
// acknowledged event lost, none counted twice.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include "crash_support.h"
#include "server_process.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using testing::KillMidPost;
using testing::PostAcked;
using testing::ServerProcess;

constexpr int kUsers = 150;
constexpr int kBatches = 60;
constexpr int kEventsPerBatch = 150;
constexpr int64_t kT0 = 1'767'225'600'000;

constexpr const char* kSpec = R"(project: crash
entities:
  user: {key: user_id}
sources:
  clicks:
    kind: http
    timestamp: ts_ms
    fields: {user_id: string, kind: string, amount: double}
    allowed_lateness: 30s
feature_views:
  activity:
    entity: user
    source: clicks
    features:
      clicks_10m: {agg: count, window: 10m}
      buys_1h: {agg: count, window: 1h, where: "kind = 'buy'"}
      amount_1h: {agg: sum, of: amount, window: 1h}
      mean_amount_1h: {agg: mean, of: amount, window: 1h}
      kinds_1h: {agg: distinct_count, of: kind, window: 1h}
      session_clicks: {agg: count, session_gap: 5m}
      hourly_amount: {agg: sum, of: amount, window: 2h, hop: 10m}
      last_kind: {agg: last, of: kind}
      total: {agg: count}
)";

// Batch i as NDJSON: event time advances ~1 s per event with up to 40 s of disorder, so some
// events are out of order (applied) and a few later than the 30 s lateness (dead letter).
std::string Batch(int i) {
  std::mt19937_64 rng(1000 + i);
  static constexpr const char* kKinds[] = {"view", "click", "buy", "share"};
  std::string out;
  for (int e = 0; e < kEventsPerBatch; ++e) {
    int64_t n = int64_t{i} * kEventsPerBatch + e;
    int64_t ts = kT0 + n * 1000 - static_cast<int64_t>(rng() % 40'000);
    out += "{\"user_id\":\"u" + std::to_string(rng() % kUsers) +
           "\",\"ts_ms\":" + std::to_string(ts) + ",\"kind\":\"" + kKinds[rng() % 4] +
           "\",\"amount\":" + std::to_string(static_cast<int>(rng() % 1000)) + ".5}\n";
  }
  return out;
}

std::string FeaturesRequest() {
  std::string users;
  for (int u = 0; u < kUsers; ++u) users += (u ? ",\"u" : "\"u") + std::to_string(u) + "\"";
  int64_t as_of = kT0 + int64_t{kBatches} * kEventsPerBatch * 1000;
  return R"({"features":["activity:clicks_10m","activity:buys_1h","activity:amount_1h",)"
         R"("activity:mean_amount_1h","activity:kinds_1h","activity:session_clicks",)"
         R"("activity:hourly_amount","activity:last_kind","activity:total"],)"
         R"("entities":{"user_id":[)" +
         users + "]},\"as_of\":" + std::to_string(as_of) + "}";
}

class CrashRecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("freshet_crash_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "project");
    std::ofstream(root_ / "project" / "freshet.yaml") << kSpec;
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<ServerProcess> NewServer(const std::string& data) {
    return std::make_unique<ServerProcess>(FRESHET_BIN, (root_ / "project").string(),
                                           (root_ / data).string());
  }

  static std::string Features(const ServerProcess& server) {
    auto r = server.Call("POST", "/v1/features", FeaturesRequest());
    EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
    return r.ok() ? r->body : "";
  }

  fs::path root_;
};

TEST_F(CrashRecoveryTest, FeaturesEqualUninterruptedRunAfterRandomKills) {
  auto reference = NewServer("reference");
  ASSERT_TRUE(reference->Start());
  for (int i = 0; i < kBatches; ++i) {
    auto r = reference->Call("POST", "/v1/events/clicks", Batch(i));
    ASSERT_TRUE(r.ok() && r->status == 200);
  }
  const std::string expected = Features(*reference);
  ASSERT_NE(expected.find("\"PRESENT\""), std::string::npos);

  auto crashed = NewServer("crashed");
  ASSERT_TRUE(crashed->Start());
  std::mt19937 rng(7);
  int kills = 0;
  for (int i = 0; i < kBatches; ++i) {
    const std::string body = Batch(i);
    const std::string key = "batch-" + std::to_string(i);
    while (rng() % 3 == 0) {
      // Kill while this batch is in flight: before, during or after its commit.
      ASSERT_TRUE(KillMidPost(crashed.get(), "/v1/events/clicks", body, key,
                              std::chrono::microseconds(rng() % 8000)))
          << "kill " << kills + 1;
      ++kills;
    }
    // Retried under the same key: counted once whether or not it had committed.
    ASSERT_TRUE(PostAcked(*crashed, "/v1/events/clicks", body, key));
    if (i % 20 == 19) {
      EXPECT_FALSE(Features(*crashed).empty());
    }
  }
  EXPECT_GE(kills, 10);
  EXPECT_EQ(Features(*crashed), expected) << "after " << kills << " kills";

  // One more kill -9 with nothing in flight, then a cold restart: still equal.
  crashed->Kill(SIGKILL);
  ASSERT_TRUE(crashed->Start());
  EXPECT_EQ(Features(*crashed), expected);
  // And the reference itself survives a graceful restart unchanged.
  reference->Kill(SIGTERM);
  ASSERT_TRUE(reference->Start());
  EXPECT_EQ(Features(*reference), expected);
}

}  // namespace
}  // namespace freshet
