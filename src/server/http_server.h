// HttpServer: freshet's HTTP/1.1 server (Boost.Beast), serving a Router's handlers.
//
// Each of `threads` threads runs its own io_context; every connection is assigned to one of
// them (round robin) and served there asynchronously. A route's handler runs on that thread
// (Runs::kOnIoThread), or, for a route added with Runs::kOffIoThread (a handler that waits, as
// a durable write does), on a pool of handler_threads while the I/O thread serves the other
// connections; the response is sent from the connection's thread either way. A route added with
// Runs::kBatchedOnIoThread gets, in one handler call on the I/O thread, the requests for it that
// the thread read in the same turn of its event loop (server/turn_batcher.h). The server itself
// answers what no handler should have to: 400 for malformed HTTP, 413 for a body over
// max_body_bytes (before the handler is called), 431 for oversized headers, 408 for a request that
// arrives too slowly, 503 for a connection past max_connections, 404/405 from routing and 500 for a
// throwing handler, all with the JSON error body (json_error.h); and "Expect: 100-continue",
// keep-alive and HEAD.
//
//   Router router;
//   RETURN_IF_ERROR(router.Add("GET", "/metrics", MetricsHandler(&registry)));
//   HttpServer server(options, &router);
//   RETURN_IF_ERROR(server.Start());
//   ...                      // another thread (a signal watcher) calls server.Stop()
//   server.Wait();
//
// Ownership: the router (and options.metrics) are not owned and must outlive the server.
// Thread-safety: Start, Stop, Wait and port may be called from any threads, but Stop must not
// be called from a handler (it waits for handlers to finish).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "core/metrics.h"
#include "core/status.h"
#include "server/router.h"

namespace freshet {

struct HttpServerOptions {
  // "host:port" to listen on; the host is an IP address (IPv6 in brackets: "[::1]:8080") or a
  // name resolved at Start. Port 0 picks a free port (see HttpServer::port()).
  // Default: loopback only, since nothing else should reach a server without access tokens.
  std::string listen_address = "127.0.0.1:8080";

  // Threads running I/O and handlers, each with its share of the connections.
  // Default (0): std::thread::hardware_concurrency().
  int threads = 0;

  // Threads for the handlers of Runs::kOffIoThread routes (router.h), which wait on disk or
  // other servers rather than compute. Default: 16.
  int handler_threads = 16;

  // Largest request body accepted; a larger one is answered 413 without calling the handler.
  // Default: 16 MiB.
  size_t max_body_bytes = size_t{16} << 20;

  // Time allowed to receive a whole request (including the wait for it on a kept-alive
  // connection) and, separately, to send its response; the connection is closed after.
  // Default: 30 s.
  int64_t request_timeout_ms = 30'000;

  // Time allowed for a request's line and headers to arrive, counted from the start of the
  // wait for it (so it is also how long a kept-alive connection may sit idle). A client that
  // sent part of a header by then is answered 408; an idle one is closed. Default: 10 s.
  int64_t header_timeout_ms = 10'000;

  // The body must keep arriving: once the headers are in, it is given body_timeout_ms plus one
  // second per min_body_bytes_per_second bytes received so far; a body slower than that is
  // answered 408. (request_timeout_ms still bounds the whole request.)
  // Default: 10 s and 4 KiB/s.
  int64_t body_timeout_ms = 10'000;
  size_t min_body_bytes_per_second = 4096;

  // Connections served at once. A connection accepted past it is answered 503 (JSON error,
  // "Retry-After") and closed without its request being read, and counted in
  // freshet_http_refused_connections_total. Default: 1024.
  size_t max_connections = 1024;

  // Whether connections may serve more than one request. Default: true.
  bool keep_alive = true;

  // Where request metrics go (see http_probe.h); not owned. Default (null): a registry
  // private to the server.
  MetricsRegistry* metrics = nullptr;
};

class HttpServer {
 public:
  // REQUIRES: no route is added to `router` once Start is called.
  HttpServer(HttpServerOptions options, const Router* router);
  // Stops the server if it is running.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the threads; returns once connections are accepted.
  // kInvalidArgument for a bad listen address, kUnavailable when it cannot be bound
  // ("cannot listen on 127.0.0.1:80: Address already in use"), kFailedPrecondition when
  // called twice. A server is started at most once.
  Status Start();

  // The bound port (useful with port 0); 0 before Start.
  int port() const { return port_.load(); }

  // Graceful stop: stops accepting, closes idle connections, lets requests being received or
  // handled finish and their responses be sent (with "Connection: close"), then joins the
  // threads. Returns when all of that is done. Idempotent; a no-op before Start.
  void Stop();

  // Blocks until the server has stopped (returns at once if it was never started).
  void Wait();

 private:
  struct Impl;

  const HttpServerOptions options_;
  const Router* const router_;
  std::unique_ptr<MetricsRegistry> own_metrics_;  // when options_.metrics is null
  std::atomic<int> port_{0};

  std::mutex mu_;
  std::condition_variable stopped_cv_;
  bool started_ = false;        // guarded by mu_
  bool stopping_ = false;       // guarded by mu_: a Stop is under way or done
  bool stopped_ = false;        // guarded by mu_
  std::unique_ptr<Impl> impl_;  // set by a successful Start
};

}  // namespace freshet
