// An Instance consuming a Kafka source of librdkafka's mock cluster: every partition applied
// on the consumer thread, offsets committed to the group after a checkpoint, lag in /metrics,
// bad records kept in the quarantine with partition and offset while the rest flows, and a
// restart resuming exactly where the checkpoint ends.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "instance/instance.h"
#include "kafka_mock_cluster.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using testing::MockKafkaCluster;

constexpr int kPartitions = 3;

// Polls `done` every 20 ms for up to 20 s.
bool WaitFor(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

class InstanceKafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.CreateTopic("clicks", kPartitions));
    dir_ = fs::temp_directory_path() /
           ("freshet_instance_kafka_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "freshet.yaml") << fmt::format(R"yaml(project: t
entities:
  user: {{key: user_id}}
sources:
  clicks:
    kind: kafka
    topic: clicks
    brokers: "{}"
    group: g1
    timestamp: ts
    fields: {{user_id: string, amount: int64}}
    allowed_lateness: 1h  # one watermark across partitions read in any order
feature_views:
  activity:
    entity: user
    source: clicks
    features:
      n: {{agg: count}}
      amount: {{agg: sum, of: amount}}
)yaml",
                                                        cluster_.bootstraps());
  }
  // Adds `line` (a feature of view activity) to the spec: a changed definition.
  void AddFeature(const std::string& line) { std::ofstream(dir_ / "freshet.yaml", std::ios::app) << "      " << line << "\n"; }
  void TearDown() override { fs::remove_all(dir_); }

  Result<std::unique_ptr<Instance>> Open() {
    InstanceOptions options;
    options.project_dir = dir_.string();
    options.data_dir = (dir_ / "data").string();
    options.checkpoint_interval_ms = 3'600'000;  // checkpoints only when the test asks
    options.clock = &clock_;
    return Instance::Open(options);
  }
  // Event n of user u<n % kPartitions>, produced to partition n % kPartitions.
  void Produce(int from, int to) {
    for (int n = from; n < to; ++n) {
      ASSERT_TRUE(cluster_.Produce(
          "clicks", n % kPartitions,
          fmt::format(R"({{"user_id":"u{}","ts":{},"amount":{}}})", n % kPartitions, 1000 + n, n)));
    }
  }
  // The user's count, or -1 when the user has none yet.
  static int64_t Count(Instance* instance, const std::string& user) {
    auto table =
        instance->features()->Get({{"activity", "n"}}, {{"user_id", {Value::String(user)}}});
    if (!table.ok() || table->values[0][0].is_null()) return -1;
    return table->values[0][0].as_int();
  }
  static int64_t Total(Instance* instance) {
    int64_t total = 0;
    for (int u = 0; u < kPartitions; ++u) {
      total += std::max<int64_t>(0, Count(instance, "u" + std::to_string(u)));
    }
    return total;
  }

  MockKafkaCluster cluster_;
  fs::path dir_;
  ManualClock clock_{10'000};
};

TEST_F(InstanceKafkaTest, AppliesEveryPartitionCommitsToTheGroupAndReportsLag) {
  Produce(0, 30);
  auto instance = Open();
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  Instance* in = instance->get();
  ASSERT_TRUE(WaitFor([&] { return Total(in) == 30; })) << Total(in);
  for (int u = 0; u < kPartitions; ++u) EXPECT_EQ(Count(in, "u" + std::to_string(u)), 10);
  EXPECT_EQ(in->engine()->Position("clicks"), (PartitionOffsets{{0, 10}, {1, 10}, {2, 10}}));

  // Before a checkpoint nothing is committed: lag is every record.
  in->RefreshMetrics();
  EXPECT_NE(in->metrics()->Render().find(
                R"(freshet_source_lag_records{source="clicks",partition="1"} 10)"),
            std::string::npos)
      << in->metrics()->Render();
  ASSERT_TRUE(in->Checkpoint().ok());
  EXPECT_EQ(in->source("clicks")->committed(), (SourcePosition{{0, 10}, {1, 10}, {2, 10}}));
  in->RefreshMetrics();
  EXPECT_NE(in->metrics()->Render().find(
                R"(freshet_source_lag_records{source="clicks",partition="1"} 0)"),
            std::string::npos);
  std::map<int32_t, int64_t> committed;
  EXPECT_TRUE(WaitFor([&] {
    committed = cluster_.Committed("g1", "clicks", kPartitions);
    return committed == std::map<int32_t, int64_t>{{0, 10}, {1, 10}, {2, 10}};
  })) << committed.size();
}

TEST_F(InstanceKafkaTest, BadRecordsGoToTheQuarantineAndARestartResumesExactly) {
  Produce(0, 9);                                            // offsets 0..2 of each partition
  ASSERT_TRUE(cluster_.Produce("clicks", 1, "{not json"));  // 1@3
  ASSERT_TRUE(cluster_.Produce("clicks", 1, R"({"user_id":"u1","ts":5,"amount":"x"})"));  // 1@4
  {
    auto instance = Open();
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    Instance* in = instance->get();
    ASSERT_TRUE(WaitFor([&] { return Total(in) == 9; }));
    ASSERT_TRUE(WaitFor([&] { return in->engine()->NextOffset("clicks", 1) == 5; }));
    Produce(9, 15);  // the stream goes on past the bad records
    ASSERT_TRUE(WaitFor([&] { return Total(in) == 15; })) << Total(in);
    auto kept = in->quarantine()->List("clicks", 10);
    ASSERT_TRUE(kept.ok()) << kept.status().ToString();
    ASSERT_EQ(kept->size(), 2u);
    EXPECT_EQ((*kept)[0].partition, 1);
    EXPECT_EQ((*kept)[0].id, 4u);  // newest first
    EXPECT_EQ(
        (*kept)[0].violations,
        std::vector<std::string>{"record 1: field 'amount': expected int64, got string \"x\""});
    EXPECT_EQ((*kept)[1].id, 3u);
    EXPECT_EQ((*kept)[1].payload, "{not json");
  }  // closing checkpoints
  Produce(15, 21);
  auto instance = Open();
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  Instance* in = instance->get();
  // Resumed at the checkpoint's offsets: the new records once, the old ones not again.
  ASSERT_TRUE(WaitFor([&] { return Total(in) >= 21; })) << Total(in);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // anything more would show
  EXPECT_EQ(Total(in), 21);
  for (int u = 0; u < kPartitions; ++u) EXPECT_EQ(Count(in, "u" + std::to_string(u)), 7);
  EXPECT_EQ(in->engine()->Position("clicks"), (PartitionOffsets{{0, 7}, {1, 9}, {2, 7}}));
  EXPECT_EQ(in->quarantine()->List("clicks", 10)->size(), 2u);
}

TEST_F(InstanceKafkaTest, AChangedDefinitionReadsTheTopicAgainIntoANewGeneration) {
  Produce(0, 30);
  {
    auto instance = Open();
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    ASSERT_TRUE(WaitFor([&] { return Total(instance->get()) == 30; }));
    ASSERT_TRUE((*instance)->Checkpoint().ok());
    Status rebuild = (*instance)->generations()->Rebuild("activity", std::nullopt).status();
    EXPECT_EQ(rebuild.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(rebuild.message().find("reads kafka source 'clicks'"), std::string::npos)
        << rebuild.ToString();
  }
  AddFeature("big: {agg: count, where: \"amount >= 15\"}");
  Produce(30, 36);
  auto instance = Open();
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  Instance* in = instance->get();
  // Generation 2 reads the topic from its start while generation 1 resumes and serves; a
  // checkpoint that finds generation 2 at generation 1's offsets makes it live (the default).
  auto generations = in->generations()->List("activity");
  ASSERT_TRUE(generations.ok()) << generations.status().ToString();
  ASSERT_EQ(generations->size(), 2u);
  EXPECT_EQ(generations->back().state, GenerationState::kBuilding);
  EXPECT_EQ(in->generations()->Route("activity", 0)->generation, 1u);
  auto big = [&](const std::string& user) -> int64_t {
    auto table =
        in->features()->Get({{"activity", "big"}}, {{"user_id", {Value::String(user)}}});
    if (!table.ok() || table->values[0][0].is_null()) return -1;
    return table->values[0][0].as_int();
  };
  for (int u = 0; u < kPartitions; ++u) {
    const std::string user = "u" + std::to_string(u);
    int64_t want = 0;
    for (int n = 15; n < 36; ++n) want += n % kPartitions == u ? 1 : 0;
    EXPECT_TRUE(WaitFor([&] {
      EXPECT_TRUE(in->Checkpoint().ok());
      return big(user) == want && Count(in, user) == 12;
    }))
        << user << ": big " << big(user) << " of " << want << ", n " << Count(in, user);
  }
  EXPECT_EQ(in->generations()->List("activity")->back().state, GenerationState::kLive);
  auto old_generation = in->generations()->Route("activity", 1);
  ASSERT_TRUE(old_generation.ok()) << old_generation.status().ToString();
  EXPECT_EQ(old_generation->engine->Position("clicks"),
            (PartitionOffsets{{0, 12}, {1, 12}, {2, 12}}));
}

}  // namespace
}  // namespace freshet
