// A small synchronous HTTP/1.1 client (libcurl) for CLI subcommands that talk to a running
// `freshet serve` instead of opening its data directory.
//
// Every call uses its own connection (no pooling: a CLI makes a handful of calls), ignores
// proxy settings (http_proxy and friends: the server is reached directly) and installs no
// signal handlers. Thread-safety: HttpCall may be called from any number of threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/status.h"

namespace CLI {
class App;
}  // namespace CLI

namespace freshet::cli {

using HttpHeaders = std::map<std::string, std::string>;

struct HttpReply {
  int status = 0;
  std::string body;
  // OK for 2xx; otherwise "server answered 429: <the error body's message>" with the code the
  // body names ("resource_exhausted"), or one from the HTTP status when it names none.
  Status ToStatus() const;
};

struct HttpClientOptions {
  // Time allowed to establish the TCP connection. Default: 5 s.
  int64_t connect_timeout_ms = 5'000;
  // Time allowed for the whole call, connection included. 0: no limit. Default: 120 s, enough
  // for ingesting a large file through a server.
  int64_t timeout_ms = 120'000;
};

// Adds --connect-timeout-ms and --timeout-ms (for --server calls) to `cmd`.
void AddHttpClientFlags(CLI::App* cmd, HttpClientOptions* options);

// Sends `method` `target` (e.g. "/v1/features") with `body` (as application/json unless
// `headers` say otherwise) to `server`: "http://host:port", "https://host:port" or "host:port";
// IPv6 hosts in brackets ("http://[::1]:8080"). Any HTTP status is a reply; errors name the
// URL: kInvalidArgument for a malformed server address, kDeadlineExceeded when a timeout
// expires ("timed out after 120000 ms calling http://..."), kUnavailable when the server
// cannot be reached ("cannot reach http://127.0.0.1:9/: Connection refused").
Result<HttpReply> HttpCall(const std::string& server, const std::string& method,
                           const std::string& target, const std::string& body,
                           const HttpHeaders& headers = {}, const HttpClientOptions& options = {});

}  // namespace freshet::cli
