#include "sinks/webhook_sink.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <cstdlib>

namespace freshet {
namespace {

// curl_global_init is not thread-safe; run it once, before any handle.
void InitCurlOnce() {
  static const bool initialized = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return true;
  }();
  (void)initialized;
}

size_t DiscardBody(char*, size_t size, size_t n, void*) { return size * n; }

// Headers of one request, freed with it.
class HeaderList {
 public:
  void Add(const std::string& header) { list_ = curl_slist_append(list_, header.c_str()); }
  curl_slist* get() const { return list_; }
  ~HeaderList() { curl_slist_free_all(list_); }

 private:
  curl_slist* list_ = nullptr;
};

bool Retryable(long status) { return status == 408 || status == 429 || status >= 500; }

}  // namespace

WebhookSink::WebhookSink(WebhookSinkOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<WebhookSink>> WebhookSink::Create(const OutputSpec& output) {
  WebhookSinkOptions options;
  options.url = output.url;
  options.timeout_ms = output.timeout_ms;
  if (!output.secret_env.empty()) {
    const char* secret = std::getenv(output.secret_env.c_str());
    if (secret == nullptr || *secret == '\0') {
      return Status::InvalidArgument(
          fmt::format("webhook output {}: environment variable {} (secret_env) is {}", output.url,
                      output.secret_env, secret == nullptr ? "not set" : "empty"));
    }
    options.secret = secret;
  }
  return std::make_unique<WebhookSink>(std::move(options));
}

std::string WebhookSink::Signature(std::string_view secret, int64_t timestamp,
                                   std::string_view body) {
  const std::string signed_bytes = fmt::format("{}.{}", timestamp, body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_bytes.data()), signed_bytes.size(), mac,
       &mac_size);
  std::string out = "sha256=";
  for (unsigned int i = 0; i < mac_size; ++i) out += fmt::format("{:02x}", mac[i]);
  return out;
}

WebhookSink::~WebhookSink() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

std::string WebhookSink::Body(const std::vector<PredictionRecord>& batch) {
  std::string body = "{\"predictions\":[";
  for (size_t i = 0; i < batch.size(); ++i) {
    if (i > 0) body.push_back(',');
    AppendPredictionJson(batch[i], &body);
  }
  body.append("]}");
  return body;
}

std::string WebhookSink::IdempotencyKey(const std::vector<PredictionRecord>& batch) {
  // FNV-1a over the ids, each followed by a 0 byte so ("ab","c") and ("a","bc") differ.
  uint64_t hash = 14695981039346656037ull;
  auto mix = [&hash](unsigned char c) {
    hash ^= c;
    hash *= 1099511628211ull;
  };
  for (const PredictionRecord& record : batch) {
    for (char c : record.id) mix(static_cast<unsigned char>(c));
    mix(0);
  }
  return fmt::format("{:016x}-{}", hash, batch.size());
}

Status WebhookSink::Deliver(const std::vector<PredictionRecord>& batch) {
  if (batch.empty()) return Status::Ok();
  const std::string body = Body(batch);
  HeaderList headers;
  headers.Add("Content-Type: application/json");
  headers.Add("Idempotency-Key: " + IdempotencyKey(batch));
  headers.Add("Expect:");  // no 100-continue round trip for large bodies
  if (!options_.secret.empty()) {
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    headers.Add(fmt::format("X-Freshet-Timestamp: {}", now));
    headers.Add("X-Freshet-Signature: " + Signature(options_.secret, now, body));
  }

  std::lock_guard<std::mutex> lock(mu_);
  if (curl_ == nullptr) {
    InitCurlOnce();
    curl_ = curl_easy_init();
    if (curl_ == nullptr) return Status::Internal("webhook: cannot create a curl handle");
  }
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_setopt(curl, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout_ms));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM in threads
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &DiscardBody);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");

  CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    return Status::Unavailable(fmt::format("webhook {}: {}", options_.url, curl_easy_strerror(rc)));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status < 300) return Status::Ok();
  std::string message = fmt::format("webhook {}: HTTP {}", options_.url, status);
  return Retryable(status) ? Status::Unavailable(message) : Status::InvalidArgument(message);
}

}  // namespace freshet
