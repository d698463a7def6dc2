// HttpSession: one client connection of an HttpServer, served asynchronously on the io_context
// of one server thread (Beast's async server pattern): read a request, dispatch it, write the
// response, repeat while the connection is kept alive. Internal to server/.
//
// Ownership: a session owns its socket and keeps itself alive through the shared_ptrs its
// pending operations hold; it dies when none is pending, closing the socket. The
// ConnectionContext is the server's and outlives every session (the server's Stop waits for
// them).
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "core/status.h"
#include "server/dispatcher.h"
#include "server/http_probe.h"
#include "server/turn_batcher.h"

namespace freshet {

class HttpSession;

// The live sessions of a server, so that a stop reaches every one of them.
// Thread-safety: thread-safe.
class SessionSet {
 public:
  void Add(const std::shared_ptr<HttpSession>& session);
  void Remove(HttpSession* session);

  // True once ShutdownAll has been called; sessions then serve no new request.
  bool stopping() const { return stopping_.load(); }

  // Marks the set stopping and asks every live session to shut down. A session added after
  // this sees stopping() before reading its first request.
  void ShutdownAll();

 private:
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::unordered_map<HttpSession*, std::weak_ptr<HttpSession>> sessions_;  // guarded by mu_
};

// What every connection of one server shares.
struct ConnectionContext {
  size_t max_body_bytes = 0;
  std::chrono::milliseconds request_timeout{0};
  std::chrono::milliseconds header_timeout{0};
  std::chrono::milliseconds body_timeout{0};
  size_t min_body_bytes_per_second = 0;  // 0: no rate, body_timeout alone
  bool keep_alive = true;
  Dispatcher* dispatcher = nullptr;
  // Runs the handlers of Runs::kOffIoThread routes; joined after the last session is gone.
  boost::asio::thread_pool* handler_pool = nullptr;
  HttpProbe* probe = nullptr;
  SessionSet sessions;
  std::atomic<size_t> open_sessions{0};  // sessions constructed and not yet destroyed
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  // `batcher` gathers the requests of batched routes for the session's I/O thread.
  HttpSession(boost::asio::ip::tcp::socket socket, ConnectionContext* context,
              TurnBatcher* batcher);
  ~HttpSession();

  // Joins the context's session set and starts serving.
  void Run();

  // Closes the connection now if it is waiting for a request; otherwise it closes once the
  // request under way is answered. Thread-safe: runs on the session's io_context.
  void Shutdown();

  // Sends the response to the request the session read and is waiting to answer. On the
  // session's thread.
  void Answer(HttpResponse response);

 private:
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

  void ReadHeader();
  void OnHeader(boost::beast::error_code ec, size_t bytes);
  void ReadBody();
  void OnBody(boost::beast::error_code ec, size_t bytes);
  // The deadlines (header_timeout, body progress, request_timeout, and the write of a
  // response) run on deadline_ rather than on the stream's own timeout, which closes the
  // socket and so would leave no way to answer 408. Arming replaces the previous deadline;
  // both are lazy: the timer is only reset when the new deadline comes before its expiry, and
  // a timer firing early waits again for the deadline then in force, so a kept-alive
  // connection costs no timer operation per request.
  void ArmDeadline(std::chrono::steady_clock::time_point when);
  void DisarmDeadline();
  void WaitForDeadline(std::chrono::steady_clock::time_point expiry);
  void OnTimer(uint64_t generation, boost::beast::error_code ec);
  void OnDeadline();
  // Cancels the timer for good, so that it no longer keeps the session alive.
  void StopTimer();
  void OnReadError(boost::beast::error_code ec);
  void Serve();
  // Answers a request that could not be read whole, then closes.
  void Reject(int http_status, const Status& status);
  // `linger`: the client may still be sending a request we did not read.
  void Send(HttpResponse response, bool keep_alive, bool head_request, bool linger);
  void OnWrite(bool keep_alive, bool linger, boost::beast::error_code ec, size_t bytes);
  void OnShutdown();
  // Stops sending, then reads and drops what the client still sends for a short while before
  // closing, so that closing with unread data does not reset the connection before the client
  // has read our error response.
  void LingerThenClose();
  void DiscardInput();
  void Close();

  ConnectionContext* const context_;
  TurnBatcher* const batcher_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  boost::asio::steady_timer deadline_;
  uint64_t deadline_generation_ = 0;  // a timer callback of an older wait does nothing
  bool timer_waiting_ = false;        // a wait of the current generation is pending
  // The deadline in force (time_point::max() when none) and the expiry the timer waits for.
  std::chrono::steady_clock::time_point deadline_at_ = std::chrono::steady_clock::time_point::max();
  std::chrono::steady_clock::time_point timer_expiry_;
  bool closing_ = false;    // StopTimer was called
  bool timed_out_ = false;  // the deadline cancelled the read under way
  std::chrono::steady_clock::time_point request_deadline_;
  std::chrono::steady_clock::time_point body_started_;
  size_t body_bytes_ = 0;  // bytes consumed since the header
  unsigned http_version_ = 11;
  // True from the start of a request read until its header is in: the only time a shutdown
  // may close the connection at once (if no byte of the request has arrived).
  bool awaiting_header_ = false;
  boost::beast::http::response<boost::beast::http::empty_body> continue_response_;
  boost::beast::http::response<boost::beast::http::string_body> response_;
  std::array<char, 4096> discard_buffer_;
  size_t discarded_bytes_ = 0;
};

}  // namespace freshet
