// WebhookSink against a real HTTP receiver: the project's HttpServer on 127.0.0.1, port 0.
#include "sinks/webhook_sink.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "server/http_server.h"

namespace freshet {
namespace {

using ::testing::HasSubstr;

// A receiver recording what it is sent and answering with `status` (after `delay_ms`).
class Receiver {
 public:
  Receiver() {
    Status added = router_.Add("POST", "/hook", [this](const HttpRequest& req, HttpResponse* res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms.load()));
      std::lock_guard<std::mutex> lock(mu_);
      bodies_.push_back(req.body);
      const std::string* key = req.headers.Get("Idempotency-Key");
      keys_.push_back(key ? *key : "");
      const std::string* type = req.headers.Get("Content-Type");
      content_types_.push_back(type ? *type : "");
      const std::string* signature = req.headers.Get("X-Freshet-Signature");
      signatures_.push_back(signature ? *signature : "");
      const std::string* timestamp = req.headers.Get("X-Freshet-Timestamp");
      timestamps_.push_back(timestamp ? *timestamp : "");
      res->status = status.load();
      res->body = "{}";
    });
    EXPECT_TRUE(added.ok());
    HttpServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.threads = 2;
    server_ = std::make_unique<HttpServer>(options, &router_);
    Status started = server_->Start();
    EXPECT_TRUE(started.ok()) << started.ToString();
  }
  // Stops first: a handler still running must not outlive what it records into.
  ~Receiver() { server_->Stop(); }
  std::string url() const { return fmt::format("http://127.0.0.1:{}/hook", server_->port()); }
  void Stop() { server_->Stop(); }

  std::vector<std::string> bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }
  std::vector<std::string> keys() {
    std::lock_guard<std::mutex> lock(mu_);
    return keys_;
  }
  std::vector<std::string> content_types() {
    std::lock_guard<std::mutex> lock(mu_);
    return content_types_;
  }
  std::vector<std::string> signatures() {
    std::lock_guard<std::mutex> lock(mu_);
    return signatures_;
  }
  std::vector<std::string> timestamps() {
    std::lock_guard<std::mutex> lock(mu_);
    return timestamps_;
  }

  std::atomic<int> status{200};
  std::atomic<int> delay_ms{0};

 private:
  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::vector<std::string> bodies_, keys_, content_types_, signatures_, timestamps_;
};

std::vector<PredictionRecord> Batch(int first, int n) {
  std::vector<PredictionRecord> batch;
  for (int i = first; i < first + n; ++i) {
    batch.push_back(
        {"p" + std::to_string(i), "recommend", 1000 + i, "{\"score\":" + std::to_string(i) + "}"});
  }
  return batch;
}

TEST(WebhookSinkTest, PostsTheBatchAsJson) {
  Receiver receiver;
  WebhookSink sink({receiver.url(), 5000, ""});
  EXPECT_EQ(sink.kind(), "webhook");
  ASSERT_TRUE(sink.Deliver(Batch(1, 3)).ok());
  ASSERT_TRUE(sink.Deliver(Batch(4, 1)).ok());  // the handle is reused
  std::vector<std::string> bodies = receiver.bodies();
  ASSERT_EQ(bodies.size(), 2u);
  rapidjson::Document doc;
  doc.Parse(bodies[0].c_str());
  ASSERT_FALSE(doc.HasParseError()) << bodies[0];
  const auto& predictions = doc["predictions"];
  ASSERT_EQ(predictions.Size(), 3u);
  EXPECT_STREQ(predictions[0]["id"].GetString(), "p1");
  EXPECT_STREQ(predictions[2]["deployment"].GetString(), "recommend");
  EXPECT_EQ(predictions[2]["ts_ms"].GetInt64(), 1003);
  EXPECT_EQ(predictions[1]["prediction"]["score"].GetInt(), 2);
  EXPECT_EQ(receiver.content_types()[0], "application/json");
  // No secret: unsigned.
  EXPECT_EQ(receiver.signatures()[0], "");
  EXPECT_EQ(receiver.timestamps()[0], "");
}

TEST(WebhookSinkTest, SignatureIsTheHmacSha256OfTheTimestampAndTheBody) {
  // As computed by `printf '%s' '1700000000.{"predictions":[]}' | openssl dgst -sha256 -hmac
  // s3cret` (and Python's hmac module): what a receiver recomputes.
  EXPECT_EQ(WebhookSink::Signature("s3cret", 1'700'000'000, R"({"predictions":[]})"),
            "sha256=bb61c241deb331561afc9ea61b095aca1d859ac25ec7d0586d9039e4e75b4eaa");
  // The timestamp is signed: replaying the body under a new timestamp does not verify.
  EXPECT_NE(WebhookSink::Signature("s3cret", 1'700'000'001, R"({"predictions":[]})"),
            WebhookSink::Signature("s3cret", 1'700'000'000, R"({"predictions":[]})"));
}

TEST(WebhookSinkTest, SecretFromTheEnvironmentSignsEachPost) {
  Receiver receiver;
  OutputSpec output;
  output.kind = "webhook";
  output.url = receiver.url();
  output.secret_env = "FRESHET_WEBHOOK_TEST_SECRET";
  ::unsetenv("FRESHET_WEBHOOK_TEST_SECRET");
  auto missing = WebhookSink::Create(output);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.status().message(),
            "webhook output " + receiver.url() +
                ": environment variable FRESHET_WEBHOOK_TEST_SECRET (secret_env) is not set");

  ::setenv("FRESHET_WEBHOOK_TEST_SECRET", "s3cret", 1);
  auto sink = WebhookSink::Create(output);
  ::unsetenv("FRESHET_WEBHOOK_TEST_SECRET");
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  const int64_t before = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  ASSERT_TRUE((*sink)->Deliver(Batch(1, 2)).ok());
  const int64_t after = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  ASSERT_EQ(receiver.bodies().size(), 1u);
  const std::string body = receiver.bodies()[0];
  const int64_t sent = std::stoll(receiver.timestamps()[0]);
  EXPECT_GE(sent, before);
  EXPECT_LE(sent, after);
  // The receiver's check: the HMAC of the timestamp and the bytes it got, under the secret.
  EXPECT_EQ(receiver.signatures()[0], WebhookSink::Signature("s3cret", sent, body));
  EXPECT_NE(receiver.signatures()[0], WebhookSink::Signature("other", sent, body));
}

TEST(WebhookSinkTest, RedeliveryCarriesTheSameIdempotencyKey) {
  Receiver receiver;
  WebhookSink sink({receiver.url(), 5000, ""});
  ASSERT_TRUE(sink.Deliver(Batch(1, 2)).ok());
  ASSERT_TRUE(sink.Deliver(Batch(1, 2)).ok());
  ASSERT_TRUE(sink.Deliver(Batch(2, 2)).ok());
  std::vector<std::string> keys = receiver.keys();
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_FALSE(keys[0].empty());
  EXPECT_EQ(keys[0], keys[1]);
  EXPECT_NE(keys[0], keys[2]);
  EXPECT_EQ(keys[0], WebhookSink::IdempotencyKey(Batch(1, 2)));
}

TEST(WebhookSinkTest, ServerErrorsAreRetryableClientErrorsAreNot) {
  Receiver receiver;
  WebhookSink sink({receiver.url(), 5000, ""});
  receiver.status = 503;
  Status st = sink.Deliver(Batch(1, 1));
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.message(), fmt::format("webhook {}: HTTP 503", receiver.url()));
  receiver.status = 429;
  EXPECT_EQ(sink.Deliver(Batch(1, 1)).code(), StatusCode::kUnavailable);
  receiver.status = 400;
  st = sink.Deliver(Batch(1, 1));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("HTTP 400"));
  receiver.status = 204;
  EXPECT_TRUE(sink.Deliver(Batch(1, 1)).ok());
}

TEST(WebhookSinkTest, SlowReceiverTimesOut) {
  Receiver receiver;
  receiver.delay_ms = 1500;
  WebhookSink sink({receiver.url(), 200, ""});
  auto start = std::chrono::steady_clock::now();
  Status st = sink.Deliver(Batch(1, 1));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr("Timeout"));
  EXPECT_LT(took, std::chrono::milliseconds(1200));
}

TEST(WebhookSinkTest, NoReceiverIsUnavailable) {
  std::string url;
  {
    Receiver receiver;
    url = receiver.url();
    receiver.Stop();
  }
  WebhookSink sink({url, 2000, ""});
  Status st = sink.Deliver(Batch(1, 1));
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr(url));
}

}  // namespace
}  // namespace freshet
