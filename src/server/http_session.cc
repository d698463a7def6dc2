#include "server/http_session.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <string>
#include <utility>
#include <vector>

namespace freshet {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using beast::error_code;

// How long and how much a closing connection keeps draining a request it did not read.
constexpr std::chrono::milliseconds kLingerTime{1000};
constexpr size_t kMaxLingerBytes = size_t{1} << 20;

bool IsHttpParseError(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

// A response header must not carry a line break: a handler echoing client input into one
// would otherwise let the client forge headers.
std::string WithoutLineBreaks(std::string value) {
  std::replace_if(
      value.begin(), value.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  return value;
}

std::string_view ToStd(beast::string_view text) { return {text.data(), text.size()}; }

// 1xx, 204 and 304 responses carry no body and no Content-Length (RFC 9110 8.6).
bool IsBodiless(int status) { return status < 200 || status == 204 || status == 304; }

}  // namespace

void SessionSet::Add(const std::shared_ptr<HttpSession>& session) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.emplace(session.get(), session);
}

void SessionSet::Remove(HttpSession* session) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(session);
}

void SessionSet::ShutdownAll() {
  std::vector<std::shared_ptr<HttpSession>> live;
  {
    // Under the lock, so a session is either in this snapshot or added after stopping_ is set.
    std::lock_guard<std::mutex> lock(mu_);
    stopping_.store(true);
    for (const auto& [raw, weak] : sessions_) {
      if (std::shared_ptr<HttpSession> session = weak.lock()) live.push_back(std::move(session));
    }
  }
  for (const auto& session : live) session->Shutdown();
}

HttpSession::HttpSession(net::ip::tcp::socket socket, ConnectionContext* context,
                         TurnBatcher* batcher)
    : context_(context),
      batcher_(batcher),
      stream_(std::move(socket)),
      deadline_(stream_.get_executor()) {
  context_->open_sessions.fetch_add(1);
  context_->probe->ConnectionOpened();
}

HttpSession::~HttpSession() {
  context_->sessions.Remove(this);
  context_->probe->ConnectionClosed();
  context_->open_sessions.fetch_sub(1);
}

void HttpSession::Run() {
  context_->sessions.Add(shared_from_this());
  net::dispatch(stream_.get_executor(),
                beast::bind_front_handler(&HttpSession::ReadHeader, shared_from_this()));
}

void HttpSession::Shutdown() {
  net::post(stream_.get_executor(),
            beast::bind_front_handler(&HttpSession::OnShutdown, shared_from_this()));
}

void HttpSession::OnShutdown() {
  bool nothing_received = buffer_.size() == 0 && parser_.has_value() && !parser_->got_some();
  if (awaiting_header_ && nothing_received) stream_.cancel();
}

void HttpSession::ReadHeader() {
  if (context_->sessions.stopping()) return Close();
  parser_.emplace();
  parser_->body_limit(context_->max_body_bytes);
  timed_out_ = false;
  body_bytes_ = 0;
  auto now = std::chrono::steady_clock::now();
  request_deadline_ = now + context_->request_timeout;
  ArmDeadline(std::min(request_deadline_, now + context_->header_timeout));
  awaiting_header_ = true;
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&HttpSession::OnHeader, shared_from_this()));
}

void HttpSession::OnHeader(error_code ec, size_t) {
  awaiting_header_ = false;
  if (ec) return OnReadError(ec);
  const auto& header = parser_->get();
  http_version_ = header.version();
  body_started_ = std::chrono::steady_clock::now();
  // Clients such as curl wait (about a second) for this before sending a large body.
  if (!parser_->is_done() && beast::iequals(header[http::field::expect], "100-continue")) {
    ArmDeadline(std::min(request_deadline_, body_started_ + context_->body_timeout));
    continue_response_ = {http::status::continue_, http_version_};
    http::async_write(stream_, continue_response_,
                      [self = shared_from_this()](error_code write_ec, size_t) {
                        if (write_ec) return self->Close();
                        self->ReadBody();
                      });
    return;
  }
  ReadBody();
}

// Reads the body a piece at a time, so that its deadline moves with what has arrived.
void HttpSession::ReadBody() {
  if (parser_->is_done()) {
    DisarmDeadline();
    return Serve();
  }
  auto allowance = context_->body_timeout;
  if (context_->min_body_bytes_per_second > 0) {
    allowance +=
        std::chrono::milliseconds(body_bytes_ * 1000 / context_->min_body_bytes_per_second);
  }
  ArmDeadline(std::min(request_deadline_, body_started_ + allowance));
  http::async_read_some(stream_, buffer_, *parser_,
                        beast::bind_front_handler(&HttpSession::OnBody, shared_from_this()));
}

void HttpSession::OnBody(error_code ec, size_t bytes) {
  if (ec) return OnReadError(ec);
  body_bytes_ += bytes;
  ReadBody();
}

void HttpSession::ArmDeadline(std::chrono::steady_clock::time_point when) {
  if (closing_) return;
  deadline_at_ = when;
  if (!timer_waiting_ || when < timer_expiry_) WaitForDeadline(when);
}

void HttpSession::DisarmDeadline() { deadline_at_ = std::chrono::steady_clock::time_point::max(); }

void HttpSession::WaitForDeadline(std::chrono::steady_clock::time_point expiry) {
  uint64_t generation = ++deadline_generation_;
  timer_waiting_ = true;
  timer_expiry_ = expiry;
  deadline_.expires_at(expiry);  // a wait still pending ends with operation_aborted
  deadline_.async_wait(
      beast::bind_front_handler(&HttpSession::OnTimer, shared_from_this(), generation));
}

void HttpSession::OnTimer(uint64_t generation, error_code ec) {
  if (generation != deadline_generation_) return;  // replaced by a nearer expiry
  timer_waiting_ = false;
  if (ec || closing_) return;  // cancelled by StopTimer
  if (deadline_at_ == std::chrono::steady_clock::time_point::max()) return;  // disarmed
  if (std::chrono::steady_clock::now() < deadline_at_) return WaitForDeadline(deadline_at_);
  OnDeadline();
}

void HttpSession::StopTimer() {
  DisarmDeadline();
  closing_ = true;
  deadline_.cancel();
}

void HttpSession::OnDeadline() {
  timed_out_ = true;
  error_code ignored;
  stream_.socket().cancel(ignored);  // the read under way ends with operation_aborted
}

void HttpSession::OnReadError(error_code ec) {
  DisarmDeadline();
  if (timed_out_) {
    // Nothing of a request arrived: an idle kept-alive connection, closed without a word.
    if (!parser_->got_some() && buffer_.size() == 0) return Close();
    std::string what =
        parser_->is_header_done()
            ? fmt::format("request body arrived too slowly ({} bytes in {} ms)", body_bytes_,
                          std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - body_started_)
                              .count())
            : fmt::format("request header not received within {} ms",
                          std::min(context_->header_timeout, context_->request_timeout).count());
    return Reject(408, Status::DeadlineExceeded(std::move(what)));
  }
  if (ec == http::error::body_limit) {
    return Reject(413, Status::ResourceExhausted(fmt::format("request body is larger than {} bytes",
                                                             context_->max_body_bytes)));
  }
  if (ec == http::error::header_limit) {
    return Reject(431, Status::InvalidArgument("request header is too large"));
  }
  // end_of_stream: the client closed between requests; partial_message: mid-request.
  bool client_gone = ec == http::error::end_of_stream || ec == http::error::partial_message;
  if (IsHttpParseError(ec) && !client_gone) {
    return Reject(400, Status::InvalidArgument("malformed HTTP request: " + ec.message()));
  }
  Close();  // cancelled by a shutdown, or a socket error
}

void HttpSession::Reject(int http_status, const Status& status) {
  const auto& header = parser_->get();
  HttpResponse response = context_->dispatcher->Reject(ToStd(header.method_string()),
                                                       ToStd(header.target()), http_status, status);
  Send(std::move(response), /*keep_alive=*/false, /*head_request=*/false, /*linger=*/true);
}

void HttpSession::Serve() {
  auto& message = parser_->get();
  HttpRequest request;
  request.method = ToStd(message.method_string());
  request.target = ToStd(message.target());
  for (const auto& field : message) {
    request.headers.Add(std::string(ToStd(field.name_string())), std::string(ToStd(field.value())));
  }
  request.body = std::move(message.body());
  Dispatcher::Routed routed = context_->dispatcher->Prepare(&request);
  if (routed.RunsInBatches()) {
    return batcher_->Hold(shared_from_this(), {std::move(routed), std::move(request)});
  }
  if (!routed.RunsOffIoThread()) {
    return Answer(context_->dispatcher->Run(std::move(routed), request));
  }
  // The handler waits: run it on the pool, then answer back on this session's thread. The
  // tracked executor keeps this thread's io_context running until the answer is posted.
  auto io = net::prefer(stream_.get_executor(), net::execution::outstanding_work.tracked);
  net::post(*context_->handler_pool, [self = shared_from_this(), io, routed = std::move(routed),
                                      request = std::move(request)]() mutable {
    HttpResponse response = self->context_->dispatcher->Run(std::move(routed), request);
    net::post(io, [self, response = std::move(response)]() mutable {
      self->Answer(std::move(response));
    });
  });
}

void HttpSession::Answer(HttpResponse response) {
  auto& message = parser_->get();
  // Checked after the handler, so a request answered during a stop says the connection closes.
  bool keep_alive = message.keep_alive() && context_->keep_alive && !context_->sessions.stopping();
  bool head_request = message.method() == http::verb::head;
  Send(std::move(response), keep_alive, head_request, /*linger=*/false);
}

void HttpSession::Send(HttpResponse response, bool keep_alive, bool head_request, bool linger) {
  DisarmDeadline();
  response_ = {};
  response_.version(http_version_);
  response_.result(static_cast<unsigned>(response.status));
  response_.set(http::field::server, "freshet");
  response_.set(http::field::content_type, WithoutLineBreaks(std::move(response.content_type)));
  for (auto& [name, value] : response.headers) {
    response_.insert(WithoutLineBreaks(std::move(name)), WithoutLineBreaks(std::move(value)));
  }
  response_.keep_alive(keep_alive);
  if (!IsBodiless(response.status)) {
    // Set by hand: a response to HEAD states the length of the body it does not carry.
    response_.content_length(response.body.size());
    if (!head_request) response_.body() = std::move(response.body);
  }
  // A response not sent within request_timeout: the deadline cancels the write, which closes.
  ArmDeadline(std::chrono::steady_clock::now() + context_->request_timeout);
  http::async_write(
      stream_, response_,
      beast::bind_front_handler(&HttpSession::OnWrite, shared_from_this(), keep_alive, linger));
}

void HttpSession::OnWrite(bool keep_alive, bool linger, error_code ec, size_t) {
  if (ec) return Close();
  if (linger) return LingerThenClose();
  if (!keep_alive) return Close();
  ReadHeader();
}

void HttpSession::LingerThenClose() {
  StopTimer();  // the stream's own timeout bounds the linger
  error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
  stream_.expires_after(
      std::min<std::chrono::milliseconds>(kLingerTime, context_->request_timeout));
  DiscardInput();
}

void HttpSession::DiscardInput() {
  stream_.async_read_some(net::buffer(discard_buffer_),
                          [self = shared_from_this()](error_code ec, size_t bytes) {
                            self->discarded_bytes_ += bytes;
                            // Returning without a new read lets the session die and close.
                            if (ec || self->discarded_bytes_ > kMaxLingerBytes) return;
                            self->DiscardInput();
                          });
}

void HttpSession::Close() {
  // The socket closes when the session dies, which is as soon as this handler returns (and the
  // deadline's callback, which holds the session, has run).
  StopTimer();
  error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace freshet
