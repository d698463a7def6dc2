// KafkaSource against librdkafka's mock cluster: partitions and offsets, bad records rejected
// alone, Seek, committed offsets seen by the group.
#include "sources/kafka_source.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "kafka_mock_cluster.h"
#include "spec/spec_loader.h"

namespace freshet {
namespace {

using testing::MockKafkaCluster;

std::string Event(int n) {
  return fmt::format(R"({{"user_id":"u{}","ts":{},"n":{}}})", n % 3, 1000 + n, n);
}

class KafkaSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.CreateTopic("clicks", 3));
    auto spec = ParseProject(fmt::format(R"yaml(project: t
entities:
  user: {{key: user_id}}
sources:
  clicks:
    kind: kafka
    topic: clicks
    brokers: "{}"
    group: g1
    timestamp: ts
    fields: {{user_id: string, n: int64}}
feature_views:
  v:
    entity: user
    source: clicks
    features:
      total: {{agg: count}}
)yaml",
                                         cluster_.bootstraps()),
                             "freshet.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    spec_ = std::move(spec).value();
  }

  std::unique_ptr<KafkaSource> NewSource() {
    auto source = KafkaSource::Create(spec_, "clicks");
    EXPECT_TRUE(source.ok()) << source.status().ToString();
    return source.ok() ? std::move(source).value() : nullptr;
  }

  // Reads batches until `records` records (and rejections) came, or 15 s passed.
  static std::vector<SourceBatch> ReadBatches(KafkaSource* source, size_t records) {
    std::vector<SourceBatch> out;
    size_t got = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (got < records && std::chrono::steady_clock::now() < deadline) {
      SourceBatch batch;
      Result<bool> more = source->Read(100, &batch);
      EXPECT_TRUE(more.ok()) << more.status().ToString();
      if (!more.ok() || !*more) continue;
      got += batch.records.size() + (batch.rejected ? 1 : 0);
      out.push_back(std::move(batch));
    }
    return out;
  }

  MockKafkaCluster cluster_;
  ProjectSpec spec_;
};

TEST_F(KafkaSourceTest, ReadsEveryPartitionAtItsOffsetsAndCommitsToTheGroup) {
  for (int n = 0; n < 30; ++n) ASSERT_TRUE(cluster_.Produce("clicks", n % 3, Event(n)));
  auto source = NewSource();
  ASSERT_TRUE(source);
  ASSERT_TRUE(source->Seek({}).ok());
  std::map<int32_t, std::vector<int64_t>> values;  // by partition, in offset order
  SourcePosition position;
  for (const SourceBatch& b : ReadBatches(source.get(), 30)) {
    EXPECT_FALSE(b.rejected);
    EXPECT_EQ(b.first_offset, position[b.partition]) << "partition " << b.partition;
    EXPECT_EQ(b.next_offset, b.first_offset + b.records.size());
    for (const Record& r : b.records) values[b.partition].push_back(r.values[1].as_int());
    position[b.partition] = b.next_offset;
  }
  EXPECT_EQ(position, (SourcePosition{{0, 10}, {1, 10}, {2, 10}}));
  for (int32_t p = 0; p < 3; ++p) {
    ASSERT_EQ(values[p].size(), 10u);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(values[p][i], 3 * i + p);
  }
  EXPECT_EQ(*source->Partitions(), (std::vector<int32_t>{0, 1, 2}));
  Result<SourcePosition> end = source->EndPosition();
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, position);

  ASSERT_TRUE(source->Commit({{0, 10}, {1, 4}, {2, 10}}).ok());
  EXPECT_EQ(source->committed(), (SourcePosition{{0, 10}, {1, 4}, {2, 10}}));
  // Asynchronous: the group sees them shortly after.
  std::map<int32_t, int64_t> committed;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    SourceBatch idle;
    (void)source->Read(1, &idle);  // serves the commit's reply
    committed = cluster_.Committed("g1", "clicks", 3);
    if (committed.size() == 3) break;
  }
  EXPECT_EQ(committed, (std::map<int32_t, int64_t>{{0, 10}, {1, 4}, {2, 10}}));
}

TEST_F(KafkaSourceTest, BadRecordsComeAloneAsRejectedAndTheStreamGoesOn) {
  ASSERT_TRUE(cluster_.Produce("clicks", 1, Event(0)));
  ASSERT_TRUE(cluster_.Produce("clicks", 1, "{not json"));
  ASSERT_TRUE(cluster_.Produce("clicks", 1, R"({"user_id":"u1","ts":5,"n":"seven"})"));
  ASSERT_TRUE(cluster_.Produce("clicks", 1, Event(3)));
  ASSERT_TRUE(cluster_.Produce("clicks", 1, Event(4)));
  auto source = NewSource();
  ASSERT_TRUE(source);
  // Each offset's record, or the rejection of a bad one (how fetches split the good ones
  // into batches varies).
  std::map<uint64_t, int64_t> values;
  std::map<uint64_t, RejectedRecord> rejected;
  for (const SourceBatch& b : ReadBatches(source.get(), 5)) {
    EXPECT_EQ(b.partition, 1);
    if (b.rejected) {
      EXPECT_TRUE(b.records.empty());  // alone in its batch
      EXPECT_EQ(b.next_offset, b.first_offset + 1);
      rejected[b.first_offset] = *b.rejected;
    }
    for (size_t i = 0; i < b.records.size(); ++i) {
      values[b.first_offset + i] = b.records[i].values[1].as_int();
    }
  }
  EXPECT_EQ(values, (std::map<uint64_t, int64_t>{{0, 0}, {3, 3}, {4, 4}}));
  ASSERT_EQ(rejected.size(), 2u);
  EXPECT_EQ(rejected[1].payload, "{not json");
  EXPECT_EQ(rejected[2].payload, R"({"user_id":"u1","ts":5,"n":"seven"})");
  EXPECT_EQ(rejected[2].error, "record 1: field 'n': expected int64, got string \"seven\"");
}

TEST_F(KafkaSourceTest, SeekStartsAssignedPartitionsAtThePosition) {
  for (int n = 0; n < 12; ++n) ASSERT_TRUE(cluster_.Produce("clicks", n % 2, Event(n)));
  auto source = NewSource();
  ASSERT_TRUE(source);
  // Partition 0 resumes at 4; partition 1 (absent) starts at its first record.
  ASSERT_TRUE(source->Seek({{0, 4}}).ok());
  SourcePosition first;
  size_t records = 0;
  for (const SourceBatch& b : ReadBatches(source.get(), 8)) {
    first.emplace(b.partition, b.first_offset);
    records += b.records.size();
  }
  EXPECT_EQ(records, 8u);
  EXPECT_EQ(first, (SourcePosition{{0, 4}, {1, 0}}));
}

TEST_F(KafkaSourceTest, NeedsBrokers) {
  spec_.sources.at("clicks").brokers.clear();
  auto source = KafkaSource::Create(spec_, "clicks");
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().message(),
            "source 'clicks': kind kafka needs `brokers` (host:port,...)");
}

}  // namespace
}  // namespace freshet
