#include "webhook_receiver.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <functional>
#include <thread>

namespace freshet::testing {
namespace {

std::string ToJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return buf.GetString();
}

// Polls `done` every 10 ms until it holds or `timeout` has passed; whether it held.
bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace

WebhookReceiver::WebhookReceiver() {
  Status added = router_.Add("POST", "/hook", [this](const HttpRequest& req, HttpResponse* res) {
    ++posts_;
    res->body = "{}";
    if (down.load()) {
      res->status = 503;
      return;
    }
    rapidjson::Document doc;
    doc.Parse(req.body.c_str());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("predictions") ||
        !doc["predictions"].IsArray()) {
      ADD_FAILURE() << "not a predictions body: " << req.body;
      res->status = 400;
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    largest_post_ = std::max(largest_post_, size_t{doc["predictions"].GetArray().Size()});
    for (const rapidjson::Value& record : doc["predictions"].GetArray()) {
      records_.emplace_back(record["id"].GetString(), ToJson(record["prediction"]));
      by_id_.emplace(records_.back());
    }
  });
  EXPECT_TRUE(added.ok()) << added.ToString();
  HttpServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.threads = 2;
  server_ = std::make_unique<HttpServer>(options, &router_);
  Status started = server_->Start();
  EXPECT_TRUE(started.ok()) << started.ToString();
}

WebhookReceiver::~WebhookReceiver() { server_->Stop(); }

std::string WebhookReceiver::url() const {
  return fmt::format("http://127.0.0.1:{}/hook", server_->port());
}

std::vector<std::pair<std::string, std::string>> WebhookReceiver::records() const {
  std::lock_guard<std::mutex> lock(mu_);
  return records_;
}

std::map<std::string, std::string> WebhookReceiver::by_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_id_;
}

size_t WebhookReceiver::largest_post() const {
  std::lock_guard<std::mutex> lock(mu_);
  return largest_post_;
}

bool WebhookReceiver::WaitForIds(size_t n, std::chrono::milliseconds timeout) const {
  return PollUntil(
      [&] {
        std::lock_guard<std::mutex> lock(mu_);
        return by_id_.size() >= n;
      },
      timeout);
}

bool WebhookReceiver::WaitForPosts(int n, std::chrono::milliseconds timeout) const {
  return PollUntil([&] { return posts_.load() >= n; }, timeout);
}

}  // namespace freshet::testing
