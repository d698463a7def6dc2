// WebhookSink: the `webhook` output kind. POSTs each batch to a URL as one JSON document
//   {"predictions": [{"id", "deployment", "ts_ms", "prediction"}, ...]}
// with Content-Type application/json and an Idempotency-Key header derived from the batch's
// record ids (the same batch redelivered carries the same key). Any 2xx answer delivers the
// batch; 408, 429, 5xx, timeouts and connection errors are kUnavailable (retry), other
// statuses kInvalidArgument; the message names the URL and the status or the curl error.
// With a secret (the output's `secret_env:` names the environment variable holding it), each
// POST also carries X-Freshet-Timestamp (Unix seconds when sent) and X-Freshet-Signature:
// sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" under the secret> (docs/formats.md): the
// timestamp is signed, so a receiver that refuses old timestamps refuses replayed requests.
// Transport: libcurl, one handle per sink, reused so connections are kept alive.
// Thread-safety: Deliver is thread-safe (serialized on the handle).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "sinks/sink.h"

namespace freshet {

struct WebhookSinkOptions {
  std::string url;  // REQUIRES: http:// or https://
  // Whole-request time limit, connecting included. Default: 5 s.
  int64_t timeout_ms = 5000;
  // HMAC-SHA256 key signing each body; empty: requests are not signed. Default: empty.
  std::string secret;
};

class WebhookSink final : public Sink {
 public:
  static constexpr std::string_view kKind = "webhook";

  explicit WebhookSink(WebhookSinkOptions options);
  // The sink of a `kind: webhook` output, its secret read from the environment variable that
  // `secret_env` names; kInvalidArgument naming the variable when it is unset or empty.
  static Result<std::unique_ptr<WebhookSink>> Create(const OutputSpec& output);
  ~WebhookSink() override;
  WebhookSink(const WebhookSink&) = delete;
  WebhookSink& operator=(const WebhookSink&) = delete;

  std::string_view kind() const override { return kKind; }
  Status Deliver(const std::vector<PredictionRecord>& batch) override;

  // The body Deliver POSTs for `batch`.
  static std::string Body(const std::vector<PredictionRecord>& batch);
  // The Idempotency-Key header of `batch`: a hash of its record ids, in hex.
  static std::string IdempotencyKey(const std::vector<PredictionRecord>& batch);
  // The X-Freshet-Signature header value of `body` sent at `timestamp` (X-Freshet-Timestamp,
  // Unix seconds) under `secret`: "sha256=<64 hex digits of HMAC-SHA256("<timestamp>.<body>")>".
  static std::string Signature(std::string_view secret, int64_t timestamp, std::string_view body);

 private:
  const WebhookSinkOptions options_;
  std::mutex mu_;         // serializes Deliver
  void* curl_ = nullptr;  // CURL*, created on first use
};

}  // namespace freshet
