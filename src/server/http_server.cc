#include "server/http_server.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <charconv>
#include <thread>
#include <utility>
#include <vector>

#include "server/dispatcher.h"
#include "server/http_probe.h"
#include "server/http_session.h"

namespace freshet {
namespace {

namespace net = boost::asio;
using boost::system::error_code;
using net::ip::tcp;

// How long to wait before accepting again after a failed accept (e.g. out of descriptors),
// rather than spinning.
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};

struct HostPort {
  std::string host;
  std::string port;
};

// "127.0.0.1:8080", "localhost:0", "[::1]:8080".
Result<HostPort> SplitHostPort(std::string_view address) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format("listen address '{}' {}", address, why));
  };
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return bad("is not host:port");
  std::string_view host = address.substr(0, colon);
  std::string_view port = address.substr(colon + 1);
  if (host.starts_with('[') && host.ends_with(']')) {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("needs brackets around an IPv6 host");
  }
  int number = -1;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (host.empty() || ec != std::errc() || end != port.data() + port.size() || number < 0 ||
      number > 65535) {
    return bad("is not host:port with a port from 0 to 65535");
  }
  return HostPort{std::string(host), std::string(port)};
}

}  // namespace

// The running parts of a started server.
struct HttpServer::Impl {
  Impl(const HttpServerOptions& options, int thread_count, const Router* router,
       MetricsRegistry* metrics)
      : io(thread_count),
        acceptor(net::make_strand(io)),
        retry_timer(acceptor.get_executor()),
        probe(metrics),
        dispatcher(router, &probe),
        context{options.max_body_bytes,
                std::chrono::milliseconds(options.request_timeout_ms),
                options.keep_alive,
                &dispatcher,
                &probe,
                {}} {}

  Result<tcp::endpoint> Resolve(const std::string& address);
  Status Listen(const std::string& address);
  void Accept();
  void OnAccept(error_code ec, tcp::socket socket);
  // Stops accepting, lets every session finish, and joins the threads.
  void Drain();

  net::io_context io;
  tcp::acceptor acceptor;
  net::steady_timer retry_timer;
  HttpProbe probe;
  Dispatcher dispatcher;
  ConnectionContext context;
  std::vector<std::thread> threads;
};

Result<tcp::endpoint> HttpServer::Impl::Resolve(const std::string& address) {
  ASSIGN_OR_RETURN(HostPort host_port, SplitHostPort(address));
  tcp::resolver resolver(io);
  error_code ec;
  auto results =
      resolver.resolve(host_port.host, host_port.port, tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return Status::InvalidArgument(
        fmt::format("cannot resolve listen address '{}': {}", address, ec.message()));
  }
  return results.begin()->endpoint();
}

Status HttpServer::Impl::Listen(const std::string& address) {
  ASSIGN_OR_RETURN(tcp::endpoint endpoint, Resolve(address));
  error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  // Lets a restarted server bind while old connections sit in TIME_WAIT.
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable(fmt::format("cannot listen on {}: {}", address, ec.message()));
  return Status::Ok();
}

void HttpServer::Impl::Accept() {
  acceptor.async_accept(net::make_strand(io), [this](error_code ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void HttpServer::Impl::OnAccept(error_code ec, tcp::socket socket) {
  if (!acceptor.is_open()) return;  // closed by Drain
  if (ec) {
    retry_timer.expires_after(kAcceptRetryDelay);
    retry_timer.async_wait([this](error_code wait_ec) {
      if (!wait_ec) Accept();
    });
    return;
  }
  error_code ignored;
  // Responses are written whole; Nagle's algorithm would only delay them.
  socket.set_option(tcp::no_delay(true), ignored);
  std::make_shared<HttpSession>(std::move(socket), &context)->Run();
  Accept();
}

void HttpServer::Impl::Drain() {
  net::post(acceptor.get_executor(), [this] {
    error_code ignored;
    acceptor.close(ignored);
    retry_timer.cancel();
  });
  context.sessions.ShutdownAll();
  // Once the acceptor is closed and the last session is gone, io.run() runs out of work and
  // returns.
  for (std::thread& thread : threads) thread.join();
}

HttpServer::HttpServer(HttpServerOptions options, const Router* router)
    : options_(std::move(options)), router_(router) {
  if (options_.metrics == nullptr) own_metrics_ = std::make_unique<MetricsRegistry>();
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return Status::FailedPrecondition("the HTTP server was already started");
  MetricsRegistry* metrics = own_metrics_ ? own_metrics_.get() : options_.metrics;
  int threads = options_.threads > 0 ? options_.threads
                                     : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(threads, 1);
  auto impl = std::make_unique<Impl>(options_, threads, router_, metrics);
  RETURN_IF_ERROR(impl->Listen(options_.listen_address));
  port_.store(impl->acceptor.local_endpoint().port());
  impl->Accept();
  for (int i = 0; i < threads; ++i) {
    impl->threads.emplace_back([io = &impl->io] { io->run(); });
  }
  impl_ = std::move(impl);
  started_ = true;
  return Status::Ok();
}

void HttpServer::Stop() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!started_) return;
    if (stopping_) {
      stopped_cv_.wait(lock, [this] { return stopped_; });
      return;
    }
    stopping_ = true;
  }
  impl_->Drain();
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  stopped_cv_.notify_all();
}

void HttpServer::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  stopped_cv_.wait(lock, [this] { return !started_ || stopped_; });
}

}  // namespace freshet
