// The request and response a route handler sees. Plain values with no Boost.Beast types, so API
// handlers are written and unit-tested without sockets.
//
// Thread-safety: values; a handler gets its own request and response.
#pragma once

#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace freshet {

// A string map searchable by string_view.
using StringMap = std::map<std::string, std::string, std::less<>>;

// Header fields in arrival order. Lookup ignores case, as field names do in HTTP.
class HttpHeaders {
 public:
  void Add(std::string name, std::string value) {
    entries_.emplace_back(std::move(name), std::move(value));
  }
  // The value of the first field called `name`, or null.
  const std::string* Get(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

struct HttpRequest {
  std::string method;  // as sent: "GET", "POST", ...
  std::string target;  // as sent: "/v1/predictions/recommend?user_id=u1"
  std::string path;    // the target before '?', still percent-encoded
  // Decoded query parameters ('+' is a space); for a repeated key the first value wins.
  StringMap query;
  // Decoded values of the matched route's {param} segments, by parameter name.
  StringMap path_params;
  HttpHeaders headers;
  std::string body;

  // The query parameter or path parameter called `name`, or null.
  const std::string* QueryParam(std::string_view name) const { return Find(query, name); }
  const std::string* PathParam(std::string_view name) const { return Find(path_params, name); }

 private:
  static const std::string* Find(const StringMap& map, std::string_view name) {
    auto it = map.find(name);
    return it == map.end() ? nullptr : &it->second;
  }
};

struct HttpResponse {
  int status = 200;  // must be 100..599; anything else becomes a 500
  std::string content_type = "application/json";
  std::string body;
  // Sent in addition to Content-Type, Content-Length, Connection and Server.
  std::vector<std::pair<std::string, std::string>> headers;
};

// A route handler. Runs synchronously on one of the server's I/O threads, or on its handler
// pool for a route added with Runs::kOffIoThread (router.h): a handler that waits for long
// should be added so, since it would hold up the other connections of its I/O thread. Exceptions it
// throws become a 500 JSON error; expected failures should instead be written with SetError
// (server/json_error.h).
using Handler = std::function<void(const HttpRequest&, HttpResponse*)>;

// One request of a batch given to a BatchHandler, and the response the handler fills for it.
struct Exchange {
  const HttpRequest* request;
  HttpResponse* response;
};

// The handler of a route added with Runs::kBatchedOnIoThread (router.h): answers every exchange
// of `batch` (one or more requests for its route, in the order they were read), on an I/O
// thread. An exception it throws becomes a 500 for every request of the batch; expected failures
// should be written per request with SetError.
using BatchHandler = std::function<void(std::span<const Exchange> batch)>;

}  // namespace freshet
