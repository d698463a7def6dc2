// Instance wiring of the pluggable parts: sources by kind (replayed through the Source
// interface at Open), the state backend by name, and the built-kinds check. Real RocksDB data
// directories and real files.
#include "instance/instance.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "instance/built_kinds.h"
#include "models/model_runtime.h"
#include "sinks/sink.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A project with an http source `posted` and a file source `replayed` (a glob), a count view
// on each. `extra` is appended to freshet.yaml.
std::string Yaml(const std::string& extra = "") {
  return "project: t\n"
         "entities:\n"
         "  user: {key: user_id}\n"
         "sources:\n"
         "  posted: {timestamp: ts, fields: {user_id: string}}\n"
         "  replayed:\n"
         "    kind: file\n"
         "    timestamp: ts\n"
         "    fields: {user_id: string}\n"
         "    path: events/*.ndjson\n" +
         extra +
         "feature_views:\n"
         "  posted_n: {entity: user, source: posted, features: {n: {agg: count}}}\n"
         "  replayed_n: {entity: user, source: replayed, features: {n: {agg: count}}}\n";
}

class InstanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("freshet_instance_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "events");
    WriteSpec(Yaml());
  }
  void TearDown() override { fs::remove_all(dir_); }

  void WriteSpec(const std::string& yaml) { std::ofstream(dir_ / "freshet.yaml") << yaml; }
  void Append(const std::string& file, const std::vector<std::string>& users) {
    std::ofstream out(dir_ / "events" / file, std::ios::app);
    for (const std::string& u : users) out << "{\"user_id\":\"" << u << "\",\"ts\":1000}\n";
  }
  Result<std::unique_ptr<Instance>> Open(const std::string& backend = "rocksdb") {
    InstanceOptions options;
    options.project_dir = dir_.string();
    options.data_dir = (dir_ / "data").string();
    options.checkpoint_interval_ms = 3'600'000;
    options.state_backend = backend;
    options.clock = &clock_;
    return Instance::Open(options);
  }
  static int64_t Count(Instance* instance, const std::string& view, const std::string& user) {
    auto table = instance->features()->Get({{view, "n"}}, {{"user_id", {Value::String(user)}}});
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    if (!table.ok() || table->values[0][0].is_null()) return -1;
    return table->values[0][0].as_int();
  }

  fs::path dir_;
  ManualClock clock_{10'000};
};

TEST_F(InstanceTest, FileSourceIsReplayedAtOpenAndResumesAfterRestart) {
  Append("a.ndjson", {"u1", "u1", "u2"});
  {
    auto instance = Open();
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    Source* source = (*instance)->source("replayed");
    ASSERT_NE(source, nullptr);
    EXPECT_EQ(source->kind(), "file");
    EXPECT_EQ(source->committed(), (SourcePosition{{0, 3}}));
    EXPECT_EQ(Count(instance->get(), "replayed_n", "u1"), 2);
    EXPECT_EQ(Count(instance->get(), "replayed_n", "u2"), 1);
  }
  // New lines and a new file that sorts after: only they are applied on the next Open.
  Append("a.ndjson", {"u1"});
  Append("b.ndjson", {"u2", "u3"});
  auto instance = Open();
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  EXPECT_EQ(Count(instance->get(), "replayed_n", "u1"), 3);
  EXPECT_EQ(Count(instance->get(), "replayed_n", "u2"), 2);
  EXPECT_EQ(Count(instance->get(), "replayed_n", "u3"), 1);
  EXPECT_EQ((*instance)->source("replayed")->committed(), (SourcePosition{{0, 6}}));
}

TEST_F(InstanceTest, HttpSourceTakesIngestAndFileSourceRefusesIt) {
  auto instance = Open();
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  EXPECT_EQ((*instance)->source("posted")->kind(), "http");
  auto ack = (*instance)->Ingest("posted", R"({"user_id":"u1","ts":1000})");
  ASSERT_TRUE(ack.ok()) << ack.status().ToString();
  EXPECT_EQ(Count(instance->get(), "posted_n", "u1"), 1);
  auto refused = (*instance)->Ingest("replayed", R"({"user_id":"u1","ts":1000})");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(),
            "source 'replayed' is kind file: it reads its own records; only http sources take "
            "ingested ones");
  // A checkpoint commits the engine's offsets to the sources.
  ASSERT_TRUE((*instance)->Checkpoint().ok());
  EXPECT_EQ((*instance)->source("posted")->committed(), (SourcePosition{{0, 1}}));
}

TEST_F(InstanceTest, HttpRecordsCountOnceAcrossARestart) {
  {
    auto instance = Open();
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    ASSERT_TRUE((*instance)->Ingest("posted", R"({"user_id":"u1","ts":1000})").ok());
    ASSERT_TRUE((*instance)->Ingest("posted", R"({"user_id":"u1","ts":1001})").ok());
  }
  auto instance = Open();
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  EXPECT_EQ(Count(instance->get(), "posted_n", "u1"), 2);  // once each: exactly-once
}

TEST_F(InstanceTest, MemoryStateBackendRebuildsFromTheSourcesOnEachOpen) {
  Append("a.ndjson", {"u1", "u1"});
  {
    auto instance = Open("memory");
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    ASSERT_TRUE((*instance)->Ingest("posted", R"({"user_id":"u9","ts":1000})").ok());
    EXPECT_EQ(Count(instance->get(), "replayed_n", "u1"), 2);
  }
  auto instance = Open("memory");
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  // Nothing was checkpointed to disk, so both sources were read again from offset 0.
  EXPECT_EQ(Count(instance->get(), "replayed_n", "u1"), 2);
  EXPECT_EQ(Count(instance->get(), "posted_n", "u9"), 1);
}

TEST_F(InstanceTest, UnreadableFileSourceFailsOpenNamingTheSource) {
  Append("a.ndjson", {"u1"});
  std::ofstream(dir_ / "events" / "b.ndjson") << "{\"user_id\": 7, \"ts\": 1000}\n";
  auto instance = Open();
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(instance.status().message(), HasSubstr("source 'replayed': "));
  EXPECT_THAT(instance.status().message(), HasSubstr("b.ndjson:1:"));
}

TEST_F(InstanceTest, FileSourceQuarantinesByOffsetOnceAcrossRestarts) {
  WriteSpec(
      Yaml("    expectations:\n"
           "      user_id: {matches: \"^u[0-9]+$\", policy: quarantine}\n"));
  // "eve", last, is read again at the next start: the engine's offset stays before it.
  Append("a.ndjson", {"u1", "bob", "u2", "eve"});
  for (int open = 0; open < 2; ++open) {
    auto instance = Open();
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    EXPECT_EQ(Count(instance->get(), "replayed_n", "u1"), 1);
    EXPECT_EQ(Count(instance->get(), "replayed_n", "u2"), 1);
    EXPECT_EQ(Count(instance->get(), "replayed_n", "bob"), 0);  // never applied
    auto kept = (*instance)->quarantine()->List("replayed", 10);
    ASSERT_TRUE(kept.ok()) << kept.status().ToString();
    ASSERT_EQ(kept->size(), 2u);
    EXPECT_EQ(kept->at(0).id, 3u);  // newest first, by offset
    EXPECT_EQ(kept->at(1).id, 1u);
    EXPECT_EQ(kept->at(1).record.values[0], Value::String("bob"));
    EXPECT_THAT(kept->at(1).violations,
                ElementsAre("field 'user_id': expectation matches '^u[0-9]+$': got \"bob\""));
    EXPECT_EQ((*instance)->quarantine()->Counts().total(), 2u);  // each once
  }
}

TEST_F(InstanceTest, FileSourceRejectFailsOpenNamingTheRecord) {
  WriteSpec(Yaml("    expectations:\n      user_id: {max_length: 2}\n"));
  Append("a.ndjson", {"u1", "u1234"});
  auto instance = Open();
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(instance.status().message(),
              HasSubstr("source 'replayed': record at offset 1: field 'user_id': expectation "
                        "max_length 2: got 5 bytes"));
}

TEST_F(InstanceTest, UnknownStateBackendIsAnError) {
  auto instance = Open("cassandra");
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.status().message(),
            "unknown state backend 'cassandra' (known: memory, rocksdb)");
}

TEST_F(InstanceTest, PredictionQueueLivesInTheDataDirectory) {
  {
    auto instance = Open();
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    JobQueue* queue = (*instance)->queue();
    ASSERT_NE(queue, nullptr);
    EXPECT_EQ(queue->capacity(), QueueOptions().max_jobs);
    ASSERT_TRUE(queue->Enqueue(JobSpec{"job-1", "predict/m", "", "payload", 0}).ok());
  }
  auto instance = Open();
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  std::vector<Job> jobs;
  ASSERT_TRUE((*instance)->queue()->Receive("predict/m", 10, 0, &jobs).ok());
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].payload, "payload");
}

TEST(BuiltKindsTest, ComeFromTheRegistries) {
  BuiltKinds built = BuiltInThisVersion();
  EXPECT_THAT(built.sources, ElementsAre("file", "http", "kafka", "table"));
  EXPECT_THAT(built.sinks, ElementsAre("file", "kafka", "webhook"));
  EXPECT_EQ(built.runtimes, KnownRuntimes());
  // Every name listed is one its factory creates.
  for (const std::string& runtime : built.runtimes) EXPECT_TRUE(CreateRuntime(runtime).ok());
  EXPECT_EQ(built.sinks, KnownSinkKinds());
}

}  // namespace
}  // namespace freshet
