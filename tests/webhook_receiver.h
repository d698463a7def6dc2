// WebhookReceiver: a webhook endpoint for tests of pushed predictions, on the project's own
// HttpServer at 127.0.0.1 (a free port). It records every prediction record POSTed to it (the
// WebhookSink body {"predictions": [...]}), so a test can dedupe by id; while `down` it answers
// 503 and keeps nothing, like a receiver that is unavailable. Thread-safety: thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "server/http_server.h"
#include "server/router.h"

namespace freshet::testing {

class WebhookReceiver {
 public:
  WebhookReceiver();
  ~WebhookReceiver();  // stops the server first: no handler outlives what it records into

  std::string url() const;

  // Every record received, in arrival order (redeliveries included): its id and its
  // "prediction" object as JSON text.
  std::vector<std::pair<std::string, std::string>> records() const;
  // Distinct record ids received -> the record's "prediction" object as JSON text (the first
  // received of each id).
  std::map<std::string, std::string> by_id() const;
  // POSTs answered, 503s included.
  int posts() const { return posts_.load(); }
  // The most records one kept POST carried.
  size_t largest_post() const;

  // Waits until at least `n` distinct ids arrived or `timeout` passed; true when they did.
  bool WaitForIds(size_t n, std::chrono::milliseconds timeout) const;
  // Waits until at least `n` POSTs were answered (503s included) or `timeout` passed.
  bool WaitForPosts(int n, std::chrono::milliseconds timeout) const;

  std::atomic<bool> down{false};

 private:
  Router router_;
  std::unique_ptr<HttpServer> server_;
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> records_;  // guarded by mu_
  std::map<std::string, std::string> by_id_;                  // guarded by mu_
  size_t largest_post_ = 0;                                   // guarded by mu_
  std::atomic<int> posts_{0};
};

}  // namespace freshet::testing
