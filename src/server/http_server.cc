#include "server/http_server.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <charconv>
#include <thread>
#include <utility>
#include <vector>

#include "server/dispatcher.h"
#include "server/http_probe.h"
#include "server/http_session.h"
#include "server/json_error.h"

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

// How long a refused connection is given to take its 503 (and to finish sending its request,
// which is read and dropped so that closing does not reset the connection before the client
// has read the answer).
constexpr std::chrono::milliseconds kRefusalTime{1000};
constexpr size_t kMaxRefusalDrainBytes = size_t{64} << 10;

std::string RefusalResponse(size_t max_connections) {
  std::string body = ErrorBody(Status::Unavailable(fmt::format(
      "the server is serving its limit of {} connections; retry later", max_connections)));
  return fmt::format(
      "HTTP/1.1 503 Service Unavailable\r\nServer: freshet\r\nContent-Type: application/json\r\n"
      "Retry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{}",
      body.size(), body);
}

// One refused connection: writes the prepared 503, then drains and closes. Keeps itself alive
// through its pending operations, like a session.
class Refusal : public std::enable_shared_from_this<Refusal> {
 public:
  Refusal(tcp::socket socket, std::atomic<size_t>* in_flight)
      : stream_(std::move(socket)), in_flight_(in_flight) {
    in_flight_->fetch_add(1);
  }
  ~Refusal() { in_flight_->fetch_sub(1); }

  void Send(const std::string& response) {
    stream_.expires_after(kRefusalTime);
    net::async_write(stream_, net::buffer(response),
                     [self = shared_from_this()](error_code ec, size_t) {
                       if (ec) return;
                       error_code ignored;
                       self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                       self->Drain();
                     });
  }

 private:
  void Drain() {
    stream_.async_read_some(net::buffer(buffer_),
                            [self = shared_from_this()](error_code ec, size_t bytes) {
                              self->drained_ += bytes;
                              if (ec || self->drained_ > kMaxRefusalDrainBytes) return;
                              self->Drain();
                            });
  }

  boost::beast::tcp_stream stream_;
  std::atomic<size_t>* const in_flight_;
  std::array<char, 4096> buffer_;
  size_t drained_ = 0;
};

}  // namespace

// The running parts of a started server.
struct HttpServer::Impl {
  Impl(const HttpServerOptions& options, int thread_count, const Router* router,
       MetricsRegistry* metrics)
      : ios(MakeContexts(thread_count)),
        acceptor(*ios.front()),
        retry_timer(acceptor.get_executor()),
        probe(metrics),
        dispatcher(router, &probe),
        handler_pool(static_cast<size_t>(std::max(options.handler_threads, 1))),
        max_connections(options.max_connections),
        refusal(RefusalResponse(options.max_connections)) {
    context.max_body_bytes = options.max_body_bytes;
    context.request_timeout = std::chrono::milliseconds(options.request_timeout_ms);
    context.header_timeout = std::chrono::milliseconds(options.header_timeout_ms);
    context.body_timeout = std::chrono::milliseconds(options.body_timeout_ms);
    context.min_body_bytes_per_second = options.min_body_bytes_per_second;
    context.keep_alive = options.keep_alive;
    context.dispatcher = &dispatcher;
    context.handler_pool = &handler_pool;
    context.probe = &probe;
    for (auto& io : ios) batchers.push_back(std::make_unique<TurnBatcher>(io.get(), &dispatcher));
  }

  // One single-threaded io_context per thread: a connection lives on one of them, so its
  // handlers need no strand and no handoff between threads.
  static std::vector<std::unique_ptr<net::io_context>> MakeContexts(int count) {
    std::vector<std::unique_ptr<net::io_context>> contexts;
    for (int i = 0; i < count; ++i) contexts.push_back(std::make_unique<net::io_context>(1));
    return contexts;
  }

  Result<tcp::endpoint> Resolve(const std::string& address);
  Status Listen(const std::string& address);
  void Accept();
  // `io_index`: the io_context (and batcher) the socket was accepted onto.
  void OnAccept(error_code ec, tcp::socket socket, size_t io_index);
  // Answers a connection past max_connections with the 503 and closes it.
  void Refuse(tcp::socket socket);
  // Stops accepting, lets every session finish, and joins the threads.
  void Drain();

  std::vector<std::unique_ptr<net::io_context>> ios;   // the acceptor lives on the first
  std::vector<std::unique_ptr<TurnBatcher>> batchers;  // one per io_context, same index
  // Keep every io_context running while it has no connection, until Drain.
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work;
  size_t next_io = 0;  // round robin of new connections; used on the acceptor's thread only
  tcp::acceptor acceptor;
  net::steady_timer retry_timer;
  HttpProbe probe;
  Dispatcher dispatcher;
  net::thread_pool handler_pool;  // Runs::kOffIoThread handlers
  ConnectionContext context;
  const size_t max_connections;
  const std::string refusal;        // the whole 503 response, headers and body
  std::atomic<size_t> refusing{0};  // refused connections still being answered
  std::vector<std::thread> threads;
};

Result<tcp::endpoint> HttpServer::Impl::Resolve(const std::string& address) {
  ASSIGN_OR_RETURN(HostPort host_port, SplitHostPort(address));
  tcp::resolver resolver(*ios.front());
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
  size_t index = next_io++ % ios.size();
  acceptor.async_accept(
      ios[index]->get_executor(),
      [this, index](error_code ec, tcp::socket socket) { OnAccept(ec, std::move(socket), index); });
}

void HttpServer::Impl::OnAccept(error_code ec, tcp::socket socket, size_t io_index) {
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
  if (context.open_sessions.load() >= max_connections || context.sessions.stopping()) {
    Refuse(std::move(socket));
  } else {
    std::make_shared<HttpSession>(std::move(socket), &context, batchers[io_index].get())->Run();
  }
  Accept();
}

void HttpServer::Impl::Refuse(tcp::socket socket) {
  probe.ConnectionRefused();
  // Answering takes a descriptor for up to kRefusalTime; past as many refusals in flight as
  // connections allowed, a connection is just closed.
  if (refusing.load() >= max_connections) return;
  auto refused = std::make_shared<Refusal>(std::move(socket), &refusing);
  refused->Send(refusal);
}

void HttpServer::Impl::Drain() {
  net::post(acceptor.get_executor(), [this] {
    error_code ignored;
    acceptor.close(ignored);
    retry_timer.cancel();
  });
  context.sessions.ShutdownAll();
  // Once the acceptor is closed and the last session of a context is gone, its run() runs out
  // of work and returns.
  work.clear();
  for (std::thread& thread : threads) thread.join();
  // Every session is gone, so no handler runs on the pool any more.
  handler_pool.join();
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
  for (auto& io : impl->ios) {
    impl->work.push_back(net::make_work_guard(*io));
    impl->threads.emplace_back([io = io.get()] { io->run(); });
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
