// The sink registry: kinds created by name from the spec's outputs, and the kinds not built.
#include "sinks/sink.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <filesystem>

#include "sinks/file_sink.h"
#include "sinks/webhook_sink.h"

namespace freshet {
namespace {

using ::testing::ElementsAre;

TEST(SinkRegistryTest, KnownKindsAreTheBuiltOnes) {
  EXPECT_THAT(KnownSinkKinds(), ElementsAre("file", "kafka", "webhook"));
}

TEST(SinkRegistryTest, CreatedByKind) {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("freshet_sink_registry_test_" + std::to_string(getpid())) / "p.ndjson")
                         .string();
  OutputSpec file;
  file.kind = "file";
  file.path = path;
  auto sink = CreateSink(file);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  EXPECT_EQ((*sink)->kind(), "file");
  EXPECT_NE(dynamic_cast<FileSink*>(sink->get()), nullptr);
  EXPECT_TRUE(std::filesystem::exists(path));  // opened (and its directory made) at creation
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());

  OutputSpec webhook;
  webhook.kind = "webhook";
  webhook.url = "http://127.0.0.1:1/hook";
  sink = CreateSink(webhook);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  EXPECT_EQ((*sink)->kind(), "webhook");
  EXPECT_NE(dynamic_cast<WebhookSink*>(sink->get()), nullptr);
}

TEST(SinkRegistryTest, KindNotBuiltIsAnErrorNamingIt) {
  OutputSpec sqs;
  sqs.kind = "sqs";
  auto sink = CreateSink(sqs);
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(sink.status().message(),
            "output kind 'sqs' is not built in this version (built: file, kafka, webhook)");
}

TEST(SinkRegistryTest, KafkaNeedsTopicAndBrokers) {
  OutputSpec kafka;
  kafka.kind = "kafka";
  kafka.topic = "preds";
  auto sink = CreateSink(kafka);
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().message(), "output kind kafka needs `topic` and `brokers`");
  kafka.brokers = "127.0.0.1:1";
  sink = CreateSink(kafka);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  EXPECT_EQ((*sink)->kind(), "kafka");
}

TEST(PredictionJsonTest, EscapesTextAndKeepsThePredictionVerbatim) {
  std::string out;
  AppendPredictionJson({"id \"1\"", "rec\n", 42, R"({"score":0.5})"}, &out);
  EXPECT_EQ(out, R"({"id":"id \"1\"","deployment":"rec\n","ts_ms":42,"prediction":{"score":0.5}})");
  rapidjson::Document doc;
  doc.Parse(out.c_str());
  ASSERT_FALSE(doc.HasParseError());
  EXPECT_STREQ(doc["id"].GetString(), "id \"1\"");
}

}  // namespace
}  // namespace freshet
