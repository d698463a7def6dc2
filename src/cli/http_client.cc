#include "cli/http_client.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <simdjson.h>
#include <strings.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <memory>

namespace freshet::cli {
namespace {

// curl_global_init is not thread-safe; doing it once before the first handle makes HttpCall so.
void InitCurlOnce() {
  static const bool initialized = [] {
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  }();
  (void)initialized;
}

// Owns one easy handle.
class CurlHandle {
 public:
  CurlHandle() : handle_(curl_easy_init()) {}
  ~CurlHandle() {
    if (handle_ != nullptr) curl_easy_cleanup(handle_);
  }
  CurlHandle(const CurlHandle&) = delete;
  CurlHandle& operator=(const CurlHandle&) = delete;
  CURL* get() const { return handle_; }

 private:
  CURL* handle_;
};

// Owns a header list.
class CurlHeaderList {
 public:
  CurlHeaderList() = default;
  ~CurlHeaderList() { curl_slist_free_all(list_); }
  CurlHeaderList(const CurlHeaderList&) = delete;
  CurlHeaderList& operator=(const CurlHeaderList&) = delete;
  // False when libcurl could not allocate.
  bool Append(const std::string& line) {
    curl_slist* next = curl_slist_append(list_, line.c_str());
    if (next == nullptr) return false;
    list_ = next;
    return true;
  }
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

size_t AppendToString(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// "http://host:port" + target; "host:port" gets "http://". kInvalidArgument for other schemes
// or no host.
Result<std::string> BuildUrl(const std::string& server, const std::string& target) {
  std::string base = server;
  if (base.find("://") == std::string::npos) base = "http://" + base;
  if (base.rfind("http://", 0) != 0 && base.rfind("https://", 0) != 0) {
    return Status::InvalidArgument(fmt::format("--server '{}': expected http://HOST:PORT", server));
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.size() <= base.find("://") + 3) {
    return Status::InvalidArgument(fmt::format("--server '{}': expected http://HOST:PORT", server));
  }
  return base + (target.empty() || target[0] != '/' ? "/" : "") + target;
}

// The reason a transfer failed, as specific as libcurl knows it: the OS error of a failed
// connect ("Connection refused"), else libcurl's message.
std::string FailureReason(CURL* curl, CURLcode code, const char* error_buffer) {
  long os_errno = 0;
  if (code == CURLE_COULDNT_CONNECT &&
      curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno != 0) {
    return std::strerror(static_cast<int>(os_errno));
  }
  return error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
}

Status TransferError(CURL* curl, CURLcode code, const char* error_buffer, const std::string& url,
                     const HttpClientOptions& options) {
  switch (code) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Status::InvalidArgument(
          fmt::format("bad server URL {}: {}", url, FailureReason(curl, code, error_buffer)));
    case CURLE_OPERATION_TIMEDOUT:
      return Status::DeadlineExceeded(fmt::format(
          "timed out calling {} ({}; connect timeout {} ms, total timeout {} ms)", url,
          FailureReason(curl, code, error_buffer), options.connect_timeout_ms, options.timeout_ms));
    default:
      return Status::Unavailable(
          fmt::format("cannot reach {}: {}", url, FailureReason(curl, code, error_buffer)));
  }
}

// The code of an error reply: the server's own ("code" of its JSON error body, a
// StatusCodeName), else one from the HTTP status. It decides the CLI's exit code, so a busy
// server (429) or a held data directory (409) is a failure, not bad input.
StatusCode CodeOfReply(std::string_view code_name, int http_status) {
  for (int c = static_cast<int>(StatusCode::kOk) + 1; c <= static_cast<int>(StatusCode::kInternal);
       ++c) {
    if (StatusCodeName(static_cast<StatusCode>(c)) == code_name) return static_cast<StatusCode>(c);
  }
  switch (http_status) {
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 409:
      return StatusCode::kFailedPrecondition;
    case 413:
    case 429:
      return StatusCode::kResourceExhausted;
    case 504:
      return StatusCode::kDeadlineExceeded;
    default:
      return http_status >= 400 && http_status < 500 ? StatusCode::kInvalidArgument
                                                     : StatusCode::kUnavailable;
  }
}

}  // namespace

Status HttpReply::ToStatus() const {
  if (status >= 200 && status < 300) return Status::Ok();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view message = body;
  std::string_view code_name;
  if (!parser.parse(body).get(doc)) {
    std::string_view m;
    if (!doc["error"]["message"].get(m)) message = m;
    if (doc["error"]["code"].get(code_name)) code_name = {};
  }
  return Status(CodeOfReply(code_name, status),
                fmt::format("server answered {}: {}", status, message));
}

void AddHttpClientFlags(CLI::App* cmd, HttpClientOptions* options) {
  cmd->add_option("--connect-timeout-ms", options->connect_timeout_ms,
                  "With --server: time allowed to connect")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--timeout-ms", options->timeout_ms,
                  "With --server: time allowed for each request (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

Result<HttpReply> HttpCall(const std::string& server, const std::string& method,
                           const std::string& target, const std::string& body,
                           const HttpHeaders& headers, const HttpClientOptions& options) {
  ASSIGN_OR_RETURN(std::string url, BuildUrl(server, target));
  InitCurlOnce();
  CurlHandle handle;
  CURL* curl = handle.get();
  if (curl == nullptr) return Status::Internal("libcurl: cannot create a handle");

  CurlHeaderList header_list;
  bool has_content_type = false;
  bool ok = true;
  for (const auto& [name, value] : headers) {
    has_content_type |= strcasecmp(name.c_str(), "Content-Type") == 0;
    ok &= header_list.Append(name + ": " + value);
  }
  if (!has_content_type) ok &= header_list.Append("Content-Type: application/json");
  if (!ok) return Status::Internal("libcurl: cannot allocate request headers");

  HttpReply reply;
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");  // never through a proxy
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout_ms));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout_ms));
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    // Sends the body with the method above. Large bodies go with "Expect: 100-continue", so a
    // server refusing one (413) answers before it is sent.
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendToString);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);

  CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) return TransferError(curl, code, error_buffer, url, options);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  reply.status = static_cast<int>(status);
  return reply;
}

}  // namespace freshet::cli
