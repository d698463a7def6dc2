// HttpCall (libcurl) against real servers: freshet's HttpServer on 127.0.0.1:0 and [::1]:0,
// a socket that accepts connections and never answers, and a port nobody listens on.
#include "cli/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "cli/cli_test_util.h"
#include "server/http_server.h"
#include "server/json_error.h"

namespace freshet::cli {
namespace {

// A listening TCP socket on loopback that never accepts: the kernel completes connections, so
// clients connect and then wait for an answer that never comes. Closing it frees the port.
class SilentListener {
 public:
  explicit SilentListener(bool listen_too = true) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    if (listen_too) {
      EXPECT_EQ(::listen(fd_, 16), 0);
    }
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Echoes what arrived: method, a header, the body.
    ASSERT_TRUE(router_
                    .Add("POST", "/echo",
                         [](const HttpRequest& req, HttpResponse* res) {
                           const std::string* tag = req.headers.Get("X-Tag");
                           const std::string* type = req.headers.Get("Content-Type");
                           res->content_type = "text/plain";
                           res->body = req.method + "|" + (tag ? *tag : "") + "|" +
                                       (type ? *type : "") + "|" + req.body;
                         })
                    .ok());
    ASSERT_TRUE(router_
                    .Add("POST", "/busy",
                         [](const HttpRequest&, HttpResponse* res) {
                           SetError(res, Status::ResourceExhausted("queue full"));
                         })
                    .ok());
    ASSERT_TRUE(router_
                    .Add("GET", "/missing",
                         [](const HttpRequest&, HttpResponse* res) {
                           SetError(res, Status::NotFound("no such thing 'x'"));
                         })
                    .ok());
  }

  // Starts a server on `listen` (port 0); returns its base URL.
  std::string Start(const std::string& listen, const std::string& host) {
    HttpServerOptions options;
    options.listen_address = listen;
    options.threads = 1;
    options.max_body_bytes = 1 << 20;
    server_ = std::make_unique<HttpServer>(options, &router_);
    Status st = server_->Start();
    EXPECT_TRUE(st.ok()) << st.ToString();
    return "http://" + host + ":" + std::to_string(server_->port());
  }

  Router router_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpClientTest, PostsBodyAndHeadersOverIpv4) {
  const std::string base = Start("127.0.0.1:0", "127.0.0.1");
  auto reply = HttpCall(base, "POST", "/echo", R"({"a":1})", {{"X-Tag", "t1"}});
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, R"(POST|t1|application/json|{"a":1})");
  EXPECT_TRUE(reply->ToStatus().ok());
}

TEST_F(HttpClientTest, AcceptsHostPortWithoutSchemeAndATrailingSlash) {
  const std::string base = Start("127.0.0.1:0", "127.0.0.1");
  auto bare = HttpCall(base.substr(7), "POST", "/echo", "x");
  ASSERT_TRUE(bare.ok()) << bare.status().ToString();
  EXPECT_EQ(bare->body, "POST||application/json|x");
  auto slash = HttpCall(base + "/", "POST", "/echo", "y");
  ASSERT_TRUE(slash.ok()) << slash.status().ToString();
  EXPECT_EQ(slash->body, "POST||application/json|y");
}

TEST_F(HttpClientTest, WorksOverIpv6Loopback) {
  if (!HasIpv6Loopback()) GTEST_SKIP() << "no ::1 on this machine";
  const std::string base = Start("[::1]:0", "[::1]");
  auto reply = HttpCall(base, "POST", "/echo", "six");
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "POST||application/json|six");
}

TEST_F(HttpClientTest, ServerErrorsBecomeStatusesWithTheServersMessage) {
  const std::string base = Start("127.0.0.1:0", "127.0.0.1");
  auto reply = HttpCall(base, "GET", "/missing", "");
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();  // an answer, not a transport error
  EXPECT_EQ(reply->status, 404);
  Status st = reply->ToStatus();
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "server answered 404: no such thing 'x'");
}

// Bug: every 4xx became kInvalidArgument, so a busy server (429) or a data directory held by
// another process (409) made the CLI exit 2, "bad input"; the server's own code is kept.
TEST_F(HttpClientTest, ErrorRepliesKeepTheServersCode) {
  const std::string base = Start("127.0.0.1:0", "127.0.0.1");
  auto reply = HttpCall(base, "POST", "/busy", "{}");
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 429);
  Status st = reply->ToStatus();
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(st.message(), "server answered 429: queue full");
  // Without a JSON error body the HTTP status decides.
  EXPECT_EQ((HttpReply{409, "locked"}).ToStatus().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ((HttpReply{400, ""}).ToStatus().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((HttpReply{502, "bad gateway"}).ToStatus().code(), StatusCode::kUnavailable);
  EXPECT_EQ((HttpReply{502, "bad gateway"}).ToStatus().message(),
            "server answered 502: bad gateway");
}

TEST_F(HttpClientTest, OversizedBodyGetsTheServers413) {
  const std::string base = Start("127.0.0.1:0", "127.0.0.1");
  auto reply = HttpCall(base, "POST", "/echo", std::string(3 << 20, 'x'));
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 413);
  EXPECT_EQ(reply->ToStatus().code(), StatusCode::kResourceExhausted);
}

TEST(HttpClientErrorsTest, RefusedConnectionNamesTheUrl) {
  int port;
  {
    SilentListener bound_only(/*listen_too=*/false);  // a free port, then closed
    port = bound_only.port();
  }
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  auto reply = HttpCall(base, "GET", "/", "");
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(reply.status().message(),
            "cannot reach http://127.0.0.1:" + std::to_string(port) + "/: Connection refused");
}

TEST(HttpClientErrorsTest, ServerThatNeverAnswersTimesOut) {
  SilentListener silent;
  HttpClientOptions options;
  options.timeout_ms = 300;
  const std::string base = "http://127.0.0.1:" + std::to_string(silent.port());
  auto start = std::chrono::steady_clock::now();
  auto reply = HttpCall(base, "POST", "/v1/features", "{}", {}, options);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kDeadlineExceeded) << reply.status().ToString();
  EXPECT_NE(reply.status().message().find(base + "/v1/features"), std::string::npos)
      << reply.status().message();
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(HttpClientErrorsTest, MalformedServerAddressIsInvalidArgument) {
  for (const char* server : {"ftp://127.0.0.1:21", "http://", ""}) {
    auto reply = HttpCall(server, "GET", "/", "");
    ASSERT_FALSE(reply.ok()) << server;
    EXPECT_EQ(reply.status().code(), StatusCode::kInvalidArgument)
        << server << ": " << reply.status().ToString();
  }
}

}  // namespace
}  // namespace freshet::cli
