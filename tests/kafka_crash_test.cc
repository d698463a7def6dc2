// Exactly-once from Kafka across kill -9: a stream produced into a topic of librdkafka's mock
// cluster (in this process, so it outlives the servers, which reach it over loopback TCP) is
// consumed by a real `freshet serve`, which is SIGKILLed while it consumes and restarted; its
// features must then equal those of an uninterrupted run over the same topic: no record lost, none
// counted twice.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

#include "kafka_mock_cluster.h"
#include "server_process.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using testing::MockKafkaCluster;
using testing::ServerProcess;

constexpr int kUsers = 40;
constexpr int kPartitions = 2;
constexpr int kRecords = 2000;
constexpr int64_t kT0 = 1'767'225'600'000;

constexpr const char* kSpec = R"(project: kafka_crash
entities:
  user: {{key: user_id}}
sources:
  clicks:
    kind: kafka
    topic: clicks
    brokers: "{}"
    group: crash
    timestamp: ts_ms
    fields: {{user_id: string, kind: string, amount: double}}
    allowed_lateness: 1h
feature_views:
  activity:
    entity: user
    source: clicks
    features:
      clicks_10m: {{agg: count, window: 10m}}
      amount_1h: {{agg: sum, of: amount, window: 1h}}
      kinds_1h: {{agg: distinct_count, of: kind, window: 1h}}
      last_kind: {{agg: last, of: kind}}
      total: {{agg: count}}
)";

// Records [begin, end): a user's records all go to one partition, so each user's order is the
// topic's.
void ProduceRecords(MockKafkaCluster* cluster, int begin, int end) {
  static constexpr const char* kKinds[] = {"view", "click", "buy", "share"};
  std::vector<std::pair<int32_t, std::string>> messages;
  for (int n = begin; n < end; ++n) {
    std::mt19937_64 rng(n);
    const int user = static_cast<int>(rng() % kUsers);
    messages.emplace_back(
        user % kPartitions,
        fmt::format(R"({{"user_id":"u{}","ts_ms":{},"kind":"{}","amount":{}.5}})", user,
                    kT0 + int64_t{n} * 1000, kKinds[rng() % 4], rng() % 1000));
  }
  ASSERT_TRUE(cluster->ProduceAll("clicks", messages));
}

std::string FeaturesRequest() {
  std::string users;
  for (int u = 0; u < kUsers; ++u) users += fmt::format("{}\"u{}\"", u ? "," : "", u);
  return fmt::format(
      R"({{"features":["activity:clicks_10m","activity:amount_1h","activity:kinds_1h",)"
      R"("activity:last_kind","activity:total"],"entities":{{"user_id":[{}]}},"as_of":{}}})",
      users, kT0 + int64_t{kRecords} * 1000);
}

// The sum of activity:total over every user (records applied), or -1.
int64_t Applied(const ServerProcess& server) {
  std::string users;
  for (int u = 0; u < kUsers; ++u) users += fmt::format("{}\"u{}\"", u ? "," : "", u);
  auto r = server.Call(
      "POST", "/v1/features",
      fmt::format(R"({{"features":["activity:total"],"entities":{{"user_id":[{}]}}}})", users));
  if (!r.ok() || r->status != 200) return -1;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array rows;
  if (parser.parse(r->body).get(doc) || doc["rows"].get_array().get(rows)) return -1;
  int64_t total = 0;
  for (simdjson::dom::element row : rows) {
    int64_t n = 0;
    if (!row["values"].at(0).get(n)) total += n;  // null (no record yet) counts 0
  }
  return total;
}

class KafkaCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.CreateTopic("clicks", kPartitions));
    root_ = fs::temp_directory_path() / ("freshet_kafka_crash_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "project");
    std::ofstream(root_ / "project" / "freshet.yaml")
        << fmt::format(fmt::runtime(kSpec), cluster_.bootstraps());
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<ServerProcess> NewServer(const std::string& data) {
    return std::make_unique<ServerProcess>(FRESHET_BIN, (root_ / "project").string(),
                                           (root_ / data).string());
  }
  // Waits (up to 30 s: a restart waits for the group to drop the killed member, 10 s) until the
  // server applied `records` records.
  static bool WaitApplied(const ServerProcess& server, int64_t records) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Applied(server) >= records) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  static std::string Features(const ServerProcess& server) {
    auto r = server.Call("POST", "/v1/features", FeaturesRequest());
    EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
    return r.ok() ? r->body : "";
  }

  MockKafkaCluster cluster_;
  fs::path root_;
};

TEST_F(KafkaCrashTest, FeaturesEqualUninterruptedRunAfterKillMidStream) {
  auto crashed = NewServer("crashed");
  ASSERT_TRUE(crashed->Start());
  // Kill it once it applied part of what was produced (with checkpoints every 100 ms, what it
  // applied since the last one is read again), produce more while it is down, restart it.
  ProduceRecords(&cluster_, 0, kRecords / 2);
  ASSERT_TRUE(WaitApplied(*crashed, kRecords / 8)) << Applied(*crashed);
  crashed->Kill(SIGKILL);
  ProduceRecords(&cluster_, kRecords / 2, kRecords);
  ASSERT_TRUE(crashed->Start());
  ASSERT_TRUE(WaitApplied(*crashed, kRecords)) << Applied(*crashed);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // anything more would show
  EXPECT_EQ(Applied(*crashed), kRecords);
  const std::string crashed_features = Features(*crashed);
  crashed->Kill(SIGTERM);

  // The same topic read by a fresh server (same group: it starts from its own empty
  // checkpoint, not from the group's offsets) without interruption.
  auto reference = NewServer("reference");
  ASSERT_TRUE(reference->Start());
  ASSERT_TRUE(WaitApplied(*reference, kRecords)) << Applied(*reference);
  const std::string expected = Features(*reference);
  ASSERT_NE(expected.find("\"PRESENT\""), std::string::npos) << expected;
  EXPECT_EQ(crashed_features, expected);
  // Nothing beyond the topic either.
  EXPECT_EQ(Applied(*reference), kRecords);
}

}  // namespace
}  // namespace freshet
