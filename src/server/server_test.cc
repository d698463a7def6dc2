// HttpServer over real sockets on 127.0.0.1, with a synchronous Beast client.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <future>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "server/http_probe.h"
#include "server/http_server.h"
#include "server/json_error.h"

namespace freshet {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using Response = http::response<http::string_body>;

// One keep-alive connection to the server under test.
class Client {
 public:
  explicit Client(int port) : socket_(io_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }

  Response Call(http::verb method, const std::string& target, const std::string& body = "") {
    http::request<http::string_body> request(method, target, 11);
    request.set(http::field::host, "127.0.0.1");
    request.body() = body;
    request.prepare_payload();
    http::write(socket_, request);
    return Read(method == http::verb::head);
  }

  // Sends bytes as they are, for requests a well-behaved client would not write.
  void WriteRaw(const std::string& bytes) { net::write(socket_, net::buffer(bytes)); }

  Response Read(bool head_request = false) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    parser.skip(head_request);
    http::read(socket_, buffer_, parser);
    return parser.release();
  }

  // Bytes the server has sent that were not read yet.
  size_t Available() { return socket_.available(); }

  // True when the server has closed the connection (a read sees end of stream).
  bool ServerClosed() {
    beast::error_code ec;
    char byte;
    net::read(socket_, net::buffer(&byte, 1), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
  }

 private:
  net::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

std::string ErrorCode(const Response& response) {
  size_t start = response.body().find(R"("code":")");
  if (start == std::string::npos) return "";
  start += 8;
  return response.body().substr(start, response.body().find('"', start) - start);
}

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = {}) {
    options.listen_address = "127.0.0.1:0";
    options.metrics = &registry_;
    if (options.threads == 0) options.threads = 4;  // more than the slow tests block
    server_ = std::make_unique<HttpServer>(options, &router_);
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    ASSERT_GT(server_->port(), 0);
  }

  void AddRoute(const std::string& method, const std::string& pattern, Handler handler,
                Runs runs = Runs::kOnIoThread) {
    Status added = router_.Add(method, pattern, std::move(handler), runs);
    ASSERT_TRUE(added.ok()) << added.ToString();
  }

  // GET /items/{id}: "item <id> q=<q>"; POST /echo: the body; counts handler calls.
  void AddEchoRoutes() {
    AddRoute("GET", "/items/{id}", [this](const HttpRequest& r, HttpResponse* out) {
      ++calls_;
      const std::string* q = r.QueryParam("q");
      out->content_type = "text/plain";
      out->body = fmt::format("item {} q={}", *r.PathParam("id"), q ? *q : "-");
      out->headers.emplace_back("X-Item", *r.PathParam("id"));
    });
    AddRoute("POST", "/echo", [this](const HttpRequest& r, HttpResponse* out) {
      ++calls_;
      const std::string* type = r.headers.Get("content-type");
      out->content_type = type ? *type : "application/octet-stream";
      out->body = r.body;
    });
  }

  MetricsRegistry registry_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<int> calls_{0};
};

TEST_F(ServerTest, RoutesPathParamsAndDecodedQuery) {
  AddEchoRoutes();
  StartServer();
  Client client(server_->port());
  Response r = client.Call(http::verb::get, "/items/a%20b?q=x+y%26z&other=1");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "item a b q=x y&z");
  EXPECT_EQ(r[http::field::content_type], "text/plain");
  EXPECT_EQ(r["X-Item"], "a b");
  EXPECT_EQ(r[http::field::server], "freshet");
  r = client.Call(http::verb::post, "/echo", R"({"k": 1})");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), R"({"k": 1})");
}

TEST_F(ServerTest, HeadAnswersWithLengthButNoBody) {
  AddEchoRoutes();
  StartServer();
  Client client(server_->port());
  Response r = client.Call(http::verb::head, "/items/7");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[http::field::content_length], "10");  // "item 7 q=-"
  EXPECT_TRUE(r.body().empty());
  // The connection is still in step: the next response is read whole.
  EXPECT_EQ(client.Call(http::verb::get, "/items/8").body(), "item 8 q=-");
}

TEST_F(ServerTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  AddEchoRoutes();
  StartServer();
  Client client(server_->port());
  Response missing = client.Call(http::verb::get, "/nope");
  EXPECT_EQ(missing.result_int(), 404);
  EXPECT_EQ(missing[http::field::content_type], "application/json");
  EXPECT_EQ(ErrorCode(missing), "not_found");
  Response wrong = client.Call(http::verb::delete_, "/items/1");
  EXPECT_EQ(wrong.result_int(), 405);
  EXPECT_EQ(wrong[http::field::allow], "GET, HEAD");
  EXPECT_EQ(ErrorCode(wrong), "invalid_argument");
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(ServerTest, OversizedBodyIs413WithoutCallingTheHandler) {
  AddEchoRoutes();
  HttpServerOptions options;
  options.max_body_bytes = 1000;
  StartServer(options);
  {
    Client client(server_->port());
    EXPECT_EQ(client.Call(http::verb::post, "/echo", std::string(1000, 'a')).result_int(), 200);
  }
  {
    Client client(server_->port());
    Response r = client.Call(http::verb::post, "/echo", std::string(200'000, 'a'));
    EXPECT_EQ(r.result_int(), 413);
    EXPECT_EQ(ErrorCode(r), "resource_exhausted");
    EXPECT_FALSE(r.keep_alive());
    EXPECT_TRUE(client.ServerClosed());
  }
  {
    // Chunked: the size is only known while reading.
    Client client(server_->port());
    client.WriteRaw(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3e8\r\n" +
        std::string(1000, 'b') + "\r\n3e8\r\n" + std::string(1000, 'b') + "\r\n0\r\n\r\n");
    EXPECT_EQ(client.Read().result_int(), 413);
  }
  EXPECT_EQ(calls_.load(), 1);
  EXPECT_NE(registry_.Render().find(
                R"(freshet_http_requests_total{route="/echo",method="POST",code="413"} 2)"),
            std::string::npos);
}

TEST_F(ServerTest, ExpectContinueGetsAnInterimResponse) {
  AddEchoRoutes();
  HttpServerOptions options;
  options.max_body_bytes = 100;
  StartServer(options);
  Client client(server_->port());
  client.WriteRaw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(client.Read().result_int(), 100);
  client.WriteRaw("hello");
  Response r = client.Read();
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "hello");
  // Too large: refused before the client sends the body.
  client.WriteRaw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(client.Read().result_int(), 413);
}

TEST_F(ServerTest, MalformedRequestIs400) {
  AddEchoRoutes();
  StartServer();
  Client client(server_->port());
  client.WriteRaw("THIS IS NOT HTTP\r\n\r\n");
  Response r = client.Read();
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_EQ(ErrorCode(r), "invalid_argument");
  EXPECT_TRUE(client.ServerClosed());
  Client bad_length(server_->port());
  bad_length.WriteRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n");
  EXPECT_EQ(bad_length.Read().result_int(), 400);
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(ServerTest, OversizedHeaderIs431) {
  AddEchoRoutes();
  StartServer();
  Client client(server_->port());
  client.WriteRaw("GET /items/1 HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20'000, 'h') +
                  "\r\n\r\n");
  EXPECT_EQ(client.Read().result_int(), 431);
}

TEST_F(ServerTest, HandlerExceptionIs500Json) {
  AddRoute("POST", "/v1/explode",
           [](const HttpRequest&, HttpResponse*) { throw std::runtime_error("kaboom"); });
  StartServer();
  Client client(server_->port());
  Response r = client.Call(http::verb::post, "/v1/explode", "{}");
  EXPECT_EQ(r.result_int(), 500);
  EXPECT_EQ(r.body(), R"({"error":{"code":"internal","message":"POST /v1/explode failed: kaboom",)"
                      R"("details":{}}})");
  // The connection and the server survive.
  EXPECT_EQ(client.Call(http::verb::post, "/v1/explode", "{}").result_int(), 500);
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  AddEchoRoutes();
  StartServer();
  Client client(server_->port());
  for (int i = 0; i < 5; ++i) {
    Response r = client.Call(http::verb::get, fmt::format("/items/{}", i));
    EXPECT_EQ(r.body(), fmt::format("item {} q=-", i));
    EXPECT_TRUE(r.keep_alive());
  }
  EXPECT_NE(registry_.Render().find("freshet_http_open_connections 1\n"), std::string::npos);
  // Two requests written back to back are answered in order.
  client.WriteRaw(
      "GET /items/p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /items/p2 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(client.Read().body(), "item p1 q=-");
  EXPECT_EQ(client.Read().body(), "item p2 q=-");
}

TEST_F(ServerTest, KeepAliveCanBeTurnedOff) {
  AddEchoRoutes();
  HttpServerOptions options;
  options.keep_alive = false;
  StartServer(options);
  Client client(server_->port());
  EXPECT_FALSE(client.Call(http::verb::get, "/items/1").keep_alive());
  EXPECT_TRUE(client.ServerClosed());
}

TEST_F(ServerTest, ConcurrentClientsAreAllAnswered) {
  AddEchoRoutes();
  StartServer();
  constexpr int kClients = 8;
  constexpr int kRequests = 200;
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      try {
        Client client(server_->port());
        for (int i = 0; i < kRequests; ++i) {
          std::string body = fmt::format("client {} request {}", c, i);
          Response r = client.Call(http::verb::post, "/echo", body);
          if (r.result_int() == 200 && r.body() == body) ++answered;
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << "client " << c << ": " << e.what();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(answered.load(), kClients * kRequests);
  EXPECT_EQ(calls_.load(), kClients * kRequests);
}

TEST_F(ServerTest, StopFinishesTheInFlightRequestAndClosesIdleConnections) {
  std::promise<void> entered;
  AddRoute("POST", "/slow", [&](const HttpRequest& r, HttpResponse* out) {
    entered.set_value();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    out->body = "done " + r.body;
  });
  StartServer();
  Client idle(server_->port());  // connected, never sends: must not hold the stop up
  auto in_flight = std::async(std::launch::async, [port = server_->port()] {
    Client client(port);
    return client.Call(http::verb::post, "/slow", "x");
  });
  entered.get_future().wait();
  std::thread waiter([this] { server_->Wait(); });
  auto stop_started = std::chrono::steady_clock::now();
  server_->Stop();
  auto stop_took = std::chrono::steady_clock::now() - stop_started;
  waiter.join();  // Wait returned once Stop was done

  Response r = in_flight.get();
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "done x");
  EXPECT_FALSE(r.keep_alive());  // answered during the stop
  EXPECT_TRUE(idle.ServerClosed());
  EXPECT_LT(stop_took, std::chrono::seconds(5));          // far below the 30 s request timeout
  EXPECT_THROW(Client{server_->port()}, std::exception);  // no longer accepting
  server_->Stop();                                        // idempotent
}

TEST_F(ServerTest, RequestsReadInOneTurnReachABatchedRouteTogether) {
  // One I/O thread, held up by /hold while three connections send to the batched /score: once
  // it is free, the three requests are ready at once and form one batch.
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  AddRoute("GET", "/hold", [&](const HttpRequest&, HttpResponse* out) {
    entered.set_value();
    released.wait();
    out->body = "held";
  });
  std::vector<size_t> batch_sizes;  // written on the one I/O thread, read after the responses
  ASSERT_TRUE(router_
                  .AddBatched("POST", "/score/{name}",
                              [&](std::span<const Exchange> batch) {
                                batch_sizes.push_back(batch.size());
                                for (const Exchange& e : batch) {
                                  if (e.request->body == "bad") {
                                    SetError(e.response, Status::InvalidArgument("bad body"));
                                    continue;
                                  }
                                  e.response->body =
                                      *e.request->PathParam("name") + ":" + e.request->body;
                                }
                              })
                  .ok());
  HttpServerOptions options;
  options.threads = 1;
  StartServer(options);
  std::vector<std::unique_ptr<Client>> clients;  // connected (and accepted) before the hold
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<Client>(server_->port()));
    ASSERT_EQ(clients.back()->Call(http::verb::post, "/score/m", "warm").body(), "m:warm");
  }
  batch_sizes.clear();
  auto held = std::async(std::launch::async, [port = server_->port()] {
    Client client(port);
    return client.Call(http::verb::get, "/hold");
  });
  entered.get_future().wait();
  const std::vector<std::string> bodies = {"a", "bad", "c"};
  for (size_t i = 0; i < bodies.size(); ++i) {
    const std::string& body = bodies[i];
    http::request<http::string_body> request(http::verb::post, "/score/m", 11);
    request.set(http::field::host, "127.0.0.1");
    request.body() = body;
    request.prepare_payload();
    std::ostringstream bytes;
    bytes << request;
    clients[i]->WriteRaw(bytes.str());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the three requests arrive
  release.set_value();
  EXPECT_EQ(held.get().body(), "held");
  Response a = clients[0]->Read(), bad = clients[1]->Read(), c = clients[2]->Read();
  EXPECT_EQ(a.result_int(), 200);
  EXPECT_EQ(a.body(), "m:a");
  EXPECT_EQ(bad.result_int(), 400);  // one request's error is its own
  EXPECT_EQ(c.body(), "m:c");
  EXPECT_EQ(batch_sizes, std::vector<size_t>{3});
  // Each request is counted on its own, and its connection stays open for the next one.
  EXPECT_NE(registry_.Render().find(
                R"(freshet_http_requests_total{route="/score/{name}",method="POST",code="200"} 5)"),
            std::string::npos);
  EXPECT_EQ(clients[0]->Call(http::verb::post, "/score/n", "d").body(), "n:d");
  EXPECT_EQ(batch_sizes.back(), 1u);  // a lone request does not wait for company
}

TEST_F(ServerTest, ABatchHandlerThatThrowsFailsItsBatchWithA500) {
  ASSERT_TRUE(router_
                  .AddBatched("POST", "/score",
                              [](std::span<const Exchange>) { throw std::runtime_error("boom"); })
                  .ok());
  EXPECT_EQ(router_
                .Add(
                    "GET", "/x", [](const HttpRequest&, HttpResponse*) {}, Runs::kBatchedOnIoThread)
                .code(),
            StatusCode::kInvalidArgument);
  StartServer();
  Client client(server_->port());
  Response r = client.Call(http::verb::post, "/score", "x");
  EXPECT_EQ(r.result_int(), 500);
  EXPECT_EQ(ErrorCode(r), "internal");
  EXPECT_EQ(client.Call(http::verb::post, "/score", "y").result_int(), 500);  // still serving
}

TEST_F(ServerTest, AHandlerRunOffTheIoThreadDoesNotHoldUpItsOtherConnections) {
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  std::thread::id handler_thread;
  AddRoute(
      "POST", "/wait",
      [&](const HttpRequest& r, HttpResponse* out) {
        handler_thread = std::this_thread::get_id();
        entered.set_value();
        released.wait();
        out->body = "waited " + r.body;
      },
      Runs::kOffIoThread);
  std::thread::id io_thread;
  AddRoute("GET", "/now", [&](const HttpRequest&, HttpResponse* out) {
    io_thread = std::this_thread::get_id();
    out->body = "now";
  });
  HttpServerOptions options;
  options.threads = 1;  // both connections on the one I/O thread
  StartServer(options);
  auto waiting = std::async(std::launch::async, [port = server_->port()] {
    Client client(port);
    return client.Call(http::verb::post, "/wait", "x");
  });
  entered.get_future().wait();
  Client other(server_->port());
  Response now = other.Call(http::verb::get, "/now");  // answered while /wait's handler waits
  EXPECT_EQ(now.body(), "now");
  EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  release.set_value();
  Response waited = waiting.get();
  EXPECT_EQ(waited.result_int(), 200);
  EXPECT_EQ(waited.body(), "waited x");
  EXPECT_TRUE(waited.keep_alive());
  EXPECT_NE(handler_thread, io_thread);
  EXPECT_NE(registry_.Render().find("route=\"/wait\""), std::string::npos);  // counted

  // A stop while such a handler runs lets it finish and answers it.
  std::promise<void> entered_again;
  entered = std::move(entered_again);
  std::promise<void> release_again;
  released = release_again.get_future().share();
  auto in_flight = std::async(std::launch::async, [port = server_->port()] {
    Client client(port);
    return client.Call(http::verb::post, "/wait", "y");
  });
  entered.get_future().wait();
  std::thread stopper([this] { server_->Stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  release_again.set_value();
  stopper.join();
  Response last = in_flight.get();
  EXPECT_EQ(last.body(), "waited y");
  EXPECT_FALSE(last.keep_alive());
}

TEST_F(ServerTest, MetricsCountRequestsByRoutePattern) {
  AddEchoRoutes();
  AddRoute("GET", "/metrics", MetricsHandler(&registry_));
  StartServer();
  Client client(server_->port());
  client.Call(http::verb::get, "/items/1");
  client.Call(http::verb::get, "/items/2?q=3");
  client.Call(http::verb::get, "/missing/path");
  Response r = client.Call(http::verb::get, "/metrics");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = r.body();
  for (const char* expected : {
           R"(freshet_http_requests_total{route="/items/{id}",method="GET",code="200"} 2)",
           R"(freshet_http_requests_total{route="unmatched",method="GET",code="404"} 1)",
           R"(freshet_http_request_duration_seconds_count{route="/items/{id}",method="GET",)"
           R"(code="200"} 2)",
           R"(freshet_http_request_duration_seconds_bucket{route="/items/{id}",method="GET",)"
           R"(code="200",le="+Inf"} 2)",
           "# TYPE freshet_http_request_duration_seconds histogram",
       }) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
  EXPECT_EQ(text.find("/items/1"), std::string::npos);  // raw paths never become labels
}

TEST_F(ServerTest, StartReportsBindErrorsAndBadAddresses) {
  StartServer();
  HttpServerOptions options;
  options.listen_address = fmt::format("127.0.0.1:{}", server_->port());
  HttpServer second(options, &router_);
  Status status = second.Start();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(status.message(),
            fmt::format("cannot listen on 127.0.0.1:{}: Address already in use", server_->port()));
  for (const char* bad : {"localhost", "127.0.0.1:70000", "127.0.0.1:", ":80", "::1:80"}) {
    options.listen_address = bad;
    EXPECT_EQ(HttpServer(options, &router_).Start().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(server_->Start().code(), StatusCode::kFailedPrecondition);
}

// Waits (bounded) until `text` appears in the rendered metrics.
bool WaitForMetric(const MetricsRegistry& registry, const std::string& text) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (registry.Render().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Writes `bytes` one at a time, `gap` apart, until the server answers (or it is all sent, or
// `limit` passed); returns how many were written.
size_t Dribble(Client* client, const std::string& bytes, std::chrono::milliseconds gap,
               std::chrono::seconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  size_t sent = 0;
  while (sent < bytes.size() && client->Available() == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    client->WriteRaw(bytes.substr(sent++, 1));
    std::this_thread::sleep_for(gap);
  }
  return sent;
}

TEST_F(ServerTest, ConnectionsPastTheLimitGet503AndAreClosed) {
  AddEchoRoutes();
  HttpServerOptions options;
  options.max_connections = 2;
  StartServer(options);
  auto first = std::make_unique<Client>(server_->port());
  Client second(server_->port());
  // Answered requests prove both connections are being served.
  EXPECT_EQ(first->Call(http::verb::get, "/items/1").result_int(), 200);
  EXPECT_EQ(second.Call(http::verb::get, "/items/2").result_int(), 200);

  Client third(server_->port());
  Response refused = third.Read();
  EXPECT_EQ(refused.result_int(), 503);
  EXPECT_EQ(ErrorCode(refused), "unavailable");
  EXPECT_NE(refused.body().find("limit of 2 connections"), std::string::npos) << refused.body();
  EXPECT_EQ(refused[http::field::retry_after], "1");
  EXPECT_FALSE(refused.keep_alive());
  EXPECT_TRUE(third.ServerClosed());
  EXPECT_NE(registry_.Render().find("freshet_http_refused_connections_total 1\n"),
            std::string::npos);
  // A request written before the refusal is read does not turn it into a reset.
  Client eager(server_->port());
  eager.WriteRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(eager.Read().result_int(), 503);

  // Once a connection closes, a new one is served again.
  first.reset();
  ASSERT_TRUE(WaitForMetric(registry_, "freshet_http_open_connections 1\n"));
  Client fourth(server_->port());
  EXPECT_EQ(fourth.Call(http::verb::get, "/items/4").body(), "item 4 q=-");
  EXPECT_EQ(calls_.load(), 3);
}

TEST_F(ServerTest, SlowHeaderIs408AndDoesNotHoldTheOnlyThread) {
  AddEchoRoutes();
  HttpServerOptions options;
  options.threads = 1;
  options.header_timeout_ms = 2000;
  StartServer(options);
  auto start = std::chrono::steady_clock::now();
  Client slow(server_->port());
  slow.WriteRaw("GET /items/1 HTTP/1.1\r\n");
  // While the slow header trickles in, the single thread serves another client at once (were
  // the thread held, the answer would wait for the 2 s cut-off).
  Client other(server_->port());
  for (int i = 0; i < 3; ++i) {
    auto call_start = std::chrono::steady_clock::now();
    EXPECT_EQ(other.Call(http::verb::get, "/items/x").result_int(), 200);
    EXPECT_LT(std::chrono::steady_clock::now() - call_start, std::chrono::milliseconds(1000));
  }
  size_t sent = Dribble(&slow, "X-Slow: " + std::string(200, 'a') + "\r\n\r\n",
                        std::chrono::milliseconds(20));
  EXPECT_LT(sent, 200u);  // cut off long before the header was whole
  Response r = slow.Read();
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.result_int(), 408);
  EXPECT_EQ(ErrorCode(r), "deadline_exceeded");
  EXPECT_NE(r.body().find("request header not received within 2000 ms"), std::string::npos);
  EXPECT_TRUE(slow.ServerClosed());
  EXPECT_GE(took, std::chrono::milliseconds(2000));
  EXPECT_LT(took, std::chrono::seconds(8));
  EXPECT_EQ(calls_.load(), 3);
}

TEST_F(ServerTest, IdleConnectionIsClosedAfterTheHeaderTimeoutWithoutAnAnswer) {
  AddEchoRoutes();
  HttpServerOptions options;
  options.header_timeout_ms = 200;
  StartServer(options);
  Client client(server_->port());
  EXPECT_EQ(client.Call(http::verb::get, "/items/1").result_int(), 200);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.ServerClosed());  // end of stream, no 408 for a request never begun
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(150));
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST_F(ServerTest, SlowBodyIs408ButASteadyOneIsServed) {
  AddEchoRoutes();
  HttpServerOptions options;
  options.body_timeout_ms = 300;
  options.min_body_bytes_per_second = 100;
  StartServer(options);
  {
    // 1 byte per 50 ms: 20 B/s, under the minimum.
    Client slow(server_->port());
    slow.WriteRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    size_t sent = Dribble(&slow, std::string(1000, 'b'), std::chrono::milliseconds(50));
    EXPECT_LT(sent, 100u);
    Response r = slow.Read();
    EXPECT_EQ(r.result_int(), 408);
    EXPECT_NE(r.body().find("request body arrived too slowly"), std::string::npos) << r.body();
    EXPECT_TRUE(slow.ServerClosed());
  }
  {
    // 100 bytes per 50 ms, 2000 B/s: it takes longer than body_timeout_ms, and is served.
    Client steady(server_->port());
    steady.WriteRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    for (int i = 0; i < 10; ++i) {
      steady.WriteRaw(std::string(100, 'c'));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Response r = steady.Read();
    EXPECT_EQ(r.result_int(), 200);
    EXPECT_EQ(r.body(), std::string(1000, 'c'));
  }
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(ServerTest, ListensOnAResolvedName) {
  HttpServerOptions options;
  options.listen_address = "localhost:0";
  options.threads = 1;
  HttpServer by_name(options, &router_);
  ASSERT_TRUE(by_name.Start().ok());
  EXPECT_GT(by_name.port(), 0);
  by_name.Stop();
}

}  // namespace
}  // namespace freshet
