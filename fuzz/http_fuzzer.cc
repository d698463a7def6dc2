// Raw bytes off a connection: Boost.Beast's request_parser with the server's limits, then, as
// HttpSession does, a parsed request goes through the Dispatcher and Router (a malformed one
// through Dispatcher::Reject). The handlers registered here stand in for src/api's with the same
// route shapes and the same parsing: records against the fixed source, feature requests, the
// checked `limit` query parameter. Every response must carry a valid HTTP status.
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.h"
#include "core/parse_int.h"
#include "fuzz_spec.h"
#include "format/record_parser.h"
#include "server/dispatcher.h"
#include "server/http_probe.h"
#include "server/json_error.h"
#include "server/router.h"
#include "store/feature_json.h"

using namespace freshet;
namespace http = boost::beast::http;

namespace {

constexpr size_t kMaxBodyBytes = 1 << 20;
constexpr uint32_t kMaxHeaderBytes = 16 << 10;

void Ingest(const HttpRequest& req, HttpResponse* res) {
  if (*req.PathParam("source") != "events") {
    SetError(res, Status::NotFound("unknown source"));
    return;
  }
  static RecordParser* parser =
      new RecordParser(fuzz::Spec().sources.at("events"), RequiredFields(fuzz::Spec(), "events"));
  std::vector<Record> records;
  Status st = parser->Parse(req.body, &records);
  if (!st.ok()) SetError(res, st);
}

void ListLate(const HttpRequest& req, HttpResponse* res) {
  if (const std::string* limit = req.QueryParam("limit")) {
    auto parsed = ParseInt64InRange(*limit, "limit", 1, 10'000);
    if (!parsed.ok()) SetError(res, parsed.status());
  }
}

void Features(const HttpRequest& req, HttpResponse* res) {
  // The store reads its spec when it is built (table views) and for feature services.
  static const FeatureStore store(&freshet::fuzz::Spec(), nullptr, nullptr);
  static const std::vector<FeatureRef> fixed = {{"v", "n_1m"}};
  auto request = ParseFeatureRequest(req.body, store, &fixed);
  if (!request.ok()) SetError(res, request.status());
}

struct Server {
  MetricsRegistry metrics;
  HttpProbe probe{&metrics};
  Router router;
  Dispatcher* dispatcher = nullptr;

  Server() {
    auto ok = [](const HttpRequest&, HttpResponse* res) { res->body = "{}"; };
    if (!router.Add("POST", "/v1/events/{source}", Ingest).ok() ||
        !router.Add("GET", "/v1/late/{source}", ListLate).ok() ||
        !router.Add("POST", "/v1/features", Features).ok() ||
        !router.Add("POST", "/v1/predict/{deployment}", Features).ok() ||
        !router.Add("GET", "/v1/models", ok).ok() ||
        !router.Add("GET", "/v1/models/{name}/versions/{version}", ok).ok() ||
        !router.Add("GET", "/healthz", ok).ok() ||
        !router.Add("GET", "/files/{path...}", ok).ok()) {
      std::abort();
    }
    dispatcher = new Dispatcher(&router, &probe);
  }
};

std::string_view ToStd(boost::beast::string_view s) { return {s.data(), s.size()}; }

void CheckResponse(const HttpResponse& response) {
  FUZZ_CHECK(response.status >= 100 && response.status <= 599);
  FUZZ_CHECK(response.status != 500);  // no handler here fails: a 500 is a bug
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Server* server = new Server();
  http::request_parser<http::string_body> parser;
  parser.body_limit(kMaxBodyBytes);
  parser.header_limit(kMaxHeaderBytes);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = parser.put(boost::asio::buffer(data, size), ec);
  (void)used;
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) {
    if (parser.is_header_done()) {
      const auto& header = parser.get();
      CheckResponse(server->dispatcher->Reject(ToStd(header.method_string()),
                                               ToStd(header.target()), 400,
                                               Status::InvalidArgument("malformed HTTP request")));
    }
    return 0;
  }
  auto& message = parser.get();
  HttpRequest request;
  request.method = std::string(ToStd(message.method_string()));
  request.target = std::string(ToStd(message.target()));
  for (const auto& field : message) {
    request.headers.Add(std::string(ToStd(field.name_string())), std::string(ToStd(field.value())));
  }
  request.body = std::move(message.body());
  CheckResponse(server->dispatcher->Dispatch(&request));
  return 0;
}
