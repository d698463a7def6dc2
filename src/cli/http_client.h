// A small synchronous HTTP/1.1 client (Boost.Beast) for CLI subcommands that talk to a running
// `freshet serve` instead of opening its data directory.
#pragma once

#include <map>
#include <string>

#include "core/status.h"

namespace freshet::cli {

using HttpHeaders = std::map<std::string, std::string>;

struct HttpReply {
  int status = 0;
  std::string body;
  // OK for 2xx; otherwise the server's JSON error message as a Status.
  Status ToStatus() const;
};

// `server` is "http://host:port" or "host:port".
Result<HttpReply> HttpCall(const std::string& server, const std::string& method,
                           const std::string& target, const std::string& body,
                           const HttpHeaders& headers = {});

}  // namespace freshet::cli
