#include "cli/http_client.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace freshet::cli {
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

Status HttpReply::ToStatus() const {
  if (status >= 200 && status < 300) return Status::Ok();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view message = body;
  if (!parser.parse(body).get(doc)) {
    std::string_view m;
    if (!doc["error"]["message"].get(m)) message = m;
  }
  std::string text = fmt::format("server answered {}: {}", status, message);
  if (status == 404) return Status::NotFound(text);
  if (status >= 400 && status < 500) return Status::InvalidArgument(text);
  return Status::Unavailable(text);
}

Result<HttpReply> HttpCall(const std::string& server, const std::string& method,
                           const std::string& target, const std::string& body,
                           const HttpHeaders& headers) {
  std::string hostport = server;
  if (hostport.rfind("http://", 0) == 0) hostport = hostport.substr(7);
  while (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
  size_t colon = hostport.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument(fmt::format("--server '{}': expected http://HOST:PORT", server));
  }
  try {
    boost::asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.connect(resolver.resolve(hostport.substr(0, colon), hostport.substr(colon + 1)));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, hostport);
    req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    // A server refusing the request (e.g. 413) may answer and close before reading it all:
    // a failed write still leaves its answer to read.
    beast::error_code write_error;
    http::write(stream, req, write_error);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1u << 30);
    http::read(stream, buffer, parser);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return HttpReply{static_cast<int>(parser.get().result_int()), parser.get().body()};
  } catch (const std::exception& e) {
    return Status::Unavailable(fmt::format("cannot reach {}: {}", server, e.what()));
  }
}

}  // namespace freshet::cli
