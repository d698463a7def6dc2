// triggered_load: steady meditation-app traffic into `freshet serve`, measuring event ->
// triggered prediction (the load tool of bench/triggered.sh).
//
// Usage: triggered_load --url http://127.0.0.1:PORT --receiver-port P --rate R --seconds S
//                       [--users 10000] [--senders 4] [--pull-sample 0.01] [--seed 1]
// Prints one JSON line (LoadResultJson in bench/triggered_load_stats.h):
//   {"rate":..,"offered_per_s":..,"acked":..,"errors":..,
//    "push":{"delivered":..,"p50_ms":..,"p99_ms":..,"max_ms":..},
//    "pull":{"seen":..,"p50_ms":..,"p99_ms":..,"max_ms":..},
//    "ack":{"requests":..,"p50_ms":..,"p99_ms":..,"max_ms":..},"held":..}
//
// Senders (threads, each with its own keep-alive connection) each offer rate/senders events per
// second as NDJSON batches every 10 ms to POST /v1/events/app_events and note each event's
// acknowledgement time; the response's first_offset gives each event's offset in the log; "ack"
// is each request's time from send to acknowledgement (a sender offers its next batch at the next
// tick after it). A webhook receiver (HTTP/1.1 keep-alive on 127.0.0.1:P, any number of
// connections, its own thread) notes when each pushed prediction arrives. A prediction names its
// user and the offset of the event that triggered it, and reflects every event of that user up to
// that offset: an event's push latency runs from its acknowledgement to the earliest arrival of
// such a prediction. A sample of events (--pull-sample of them) is also read back by pull
// (GET /v1/predictions/recommend?user_id=..) from 2 threads until the stored prediction reaches
// the event's offset (for at most 10 s after its acknowledgement): the pull latency. After the
// senders, the tool waits min(10, 1 + seconds/10) s for the last predictions. "held": at least
// 99.9% of acknowledged events delivered, push p99 under a second, and at least 90% of the
// offered rate acknowledged.
//
// A sender or puller that fails (connection refused or lost, no answer within 30 s, an answer it
// cannot read) stops with a line on stderr and the run goes on without it; exit status 2 is bad
// usage, 1 a receiver that cannot listen.
#include <fmt/format.h>
#include <simdjson.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "bench/triggered_load_stats.h"

namespace freshet {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr char kEventsTarget[] = "/v1/events/app_events";
constexpr std::string_view kPredictionsTarget = "/v1/predictions/recommend?user_id=";
constexpr std::array<std::string_view, 4> kKinds = {"start", "exit", "complete", "search"};
constexpr std::array<std::string_view, 5> kCategories = {"sleep", "focus", "move", "meditate",
                                                         "stress"};
constexpr double kTickS = 0.01;      // a sender's batch interval
constexpr int kPullers = 2;          // threads reading sampled events back by pull
constexpr double kPullGiveUpS = 10;  // a puller gives up on an event this long after its ack
constexpr auto kPullPause = std::chrono::milliseconds(1);  // between a puller's reads
constexpr auto kIoTimeout = std::chrono::seconds(30);      // per connect, write or read

struct Options {
  std::string url;
  uint16_t receiver_port = 0;
  double rate = 0;     // events/s over all senders
  double seconds = 0;  // how long the senders offer it
  uint32_t users = 10000;
  int senders = 4;
  double pull_sample = 0.01;  // probability that an acknowledged event is read back by pull
  int64_t seed = 1;
};

// What stops a sender or puller thread (a connection error or timeout, an answer it cannot
// read) or the whole run (a --url that does not resolve, a receiver port it cannot listen on).
class LoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Seconds on the steady clock all latencies are measured on.
double SteadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Wall-clock milliseconds: the events' ts_ms, which the server's windows use.
int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SleepSeconds(double s) {
  if (s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

// A sender's draws of users, kinds, durations and pull samples, reproducible for a --seed. Not
// thread-safe: one per sender.
class EventRandom {
 public:
  explicit EventRandom(int64_t seed) : engine_(static_cast<uint64_t>(seed)) {}

  // Uniform in [0, n). REQUIRES 0 < n.
  uint32_t Below(uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n - 1)(engine_); }

  // One element of `seq`, uniformly. REQUIRES: seq not empty.
  template <class Seq>
  auto Choice(const Seq& seq) {
    return seq[Below(static_cast<uint32_t>(seq.size()))];
  }

  // Uniform in [0, 1).
  double Uniform() { return std::uniform_real_distribution<double>(0, 1)(engine_); }

 private:
  std::mt19937_64 engine_;
};

// Where --url points: its authority (the Host header) and its resolved addresses.
struct Target {
  std::string authority;
  tcp::resolver::results_type endpoints;
};

// "http://HOST[:PORT][/...]" (port 80 by default, HOST may be a bracketed IPv6 address),
// resolved. Throws LoadError naming the URL when it is not one or does not resolve.
Target ResolveUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  std::string_view rest(url);
  if (!rest.starts_with(kScheme)) throw LoadError(fmt::format("--url {} is not http://", url));
  rest.remove_prefix(kScheme.size());
  const std::string_view authority = rest.substr(0, rest.find('/'));
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  const bool has_port =
      colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket);
  std::string_view host = has_port ? authority.substr(0, colon) : authority;
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  const std::string port = has_port ? std::string(authority.substr(colon + 1)) : "80";
  if (host.empty()) throw LoadError(fmt::format("--url {} names no host", url));
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec) throw LoadError(fmt::format("--url {}: {}", url, ec.message()));
  return {std::string(authority), std::move(endpoints)};
}

std::string_view ToStd(beast::string_view text) { return {text.data(), text.size()}; }

// One keep-alive HTTP/1.1 connection to the server, opened on the first request and again after
// a response that closes it, each connect, write and read bounded by kIoTimeout. Not thread-safe:
// one per thread.
class HttpClient {
 public:
  explicit HttpClient(const Target& target) : target_(target) {}

  // Sends `request` (its Host set here) and returns the response; throws LoadError on a
  // connection error or timeout.
  const http::response<http::string_body>& RoundTrip(http::request<http::string_body>& request) {
    request.set(http::field::host, target_.authority);
    beast::error_code ec;
    if (!stream_.socket().is_open()) {
      ec = Run([&](auto done) { stream_.async_connect(target_.endpoints, done); });
    }
    if (!ec) ec = Run([&](auto done) { http::async_write(stream_, request, done); });
    response_ = {};
    if (!ec) ec = Run([&](auto done) { http::async_read(stream_, buffer_, response_, done); });
    if (ec || !response_.keep_alive()) {
      stream_.close();
      buffer_.clear();
    }
    if (ec) {
      throw LoadError(fmt::format("{} {}: {}", ToStd(request.method_string()),
                                  ToStd(request.target()), ec.message()));
    }
    return response_;
  }

 private:
  // Starts one asynchronous operation with `start(handler)` and runs it to completion.
  template <class Start>
  beast::error_code Run(Start start) {
    beast::error_code result;
    stream_.expires_after(kIoTimeout);
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  const Target& target_;
  net::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
  http::response<http::string_body> response_;
};

// An offset in a prediction's "event": a JSON number, or a string of digits.
uint64_t ReadOffset(simdjson::dom::element offset) {
  if (!offset.is_string()) return offset.get_uint64();
  const std::string_view text = offset.get_string();
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw LoadError(fmt::format("offset '{}' is not an integer", text));
  }
  return value;
}

// The webhook receiver: an HTTP/1.1 keep-alive server on 127.0.0.1:port, on a thread of its own,
// that notes (user, offset of the triggering event, arrival time) of every record of each
// {"predictions":[...]} POSTed to it (any path) and answers 200 with an empty body. A body it
// cannot read gets a 500 (so the sink sends it again) and a line on stderr; other methods get
// 501.
class WebhookReceiver {
 public:
  // Listens on 127.0.0.1:port and starts serving; throws LoadError when it cannot listen.
  explicit WebhookReceiver(uint16_t port) {
    const tcp::endpoint endpoint(net::ip::make_address_v4("127.0.0.1"), port);
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      throw LoadError(fmt::format("the webhook receiver cannot listen on 127.0.0.1:{}: {}", port,
                                  ec.message()));
    }
    Accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }

  ~WebhookReceiver() {
    if (thread_.joinable()) Stop();
  }

  // Stops serving, dropping its connections, and returns every arrival noted. Call once.
  std::vector<PredictionArrival> Stop() {
    ioc_.stop();
    thread_.join();
    return std::move(arrivals_);
  }

 private:
  class Session;

  // Accepts connections until the receiver stops, a Session each.
  void Accept();

  // Notes the records of one POSTed body that arrived at `arrived_s`: all of them, or none and
  // the error's text.
  std::string Note(const std::string& body, double arrived_s) {
    std::vector<PredictionArrival> got;
    try {
      for (simdjson::dom::element record : parser_.parse(body)["predictions"].get_array()) {
        simdjson::dom::element prediction = record["prediction"];
        got.push_back({std::string(std::string_view(prediction["entity"]["user_id"])),
                       ReadOffset(prediction["event"]["offset"]), arrived_s});
      }
    } catch (const std::exception& e) {
      const std::string error = fmt::format("not a batch of predictions: {}", e.what());
      fmt::print(stderr, "triggered_load: receiver: {}\n", error);
      return error;
    }
    arrivals_.insert(arrivals_.end(), got.begin(), got.end());
    return {};
  }

  net::io_context ioc_;  // first: destroyed last, after the sessions its handlers hold
  tcp::acceptor acceptor_{ioc_};
  simdjson::dom::parser parser_;
  std::vector<PredictionArrival> arrivals_;  // only the receiver's thread touches it until Stop
  std::thread thread_;
};

// One connection to the receiver: reads requests and answers them in turn until the client
// closes it or asks to.
class WebhookReceiver::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, WebhookReceiver* receiver)
      : socket_(std::move(socket)), receiver_(receiver) {}

  void Read() {
    parser_.emplace();
    // No limit on a batch's size; boost::none would mean none, but Beast 1.74 compares the length
    // with it as with 0.
    parser_->body_limit(std::numeric_limits<uint64_t>::max());
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (!ec) self->Answer(self->parser_->release());
                     });
  }

 private:
  void Answer(http::request<http::string_body> request) {
    const double arrived_s = SteadySeconds();
    response_ = {};
    response_.version(request.version());
    response_.keep_alive(request.keep_alive());
    if (request.method() != http::verb::post) {
      response_.result(http::status::not_implemented);
    } else {
      response_.body() = receiver_->Note(request.body(), arrived_s);
      response_.result(response_.body().empty() ? http::status::ok
                                                : http::status::internal_server_error);
    }
    response_.prepare_payload();
    http::async_write(socket_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (!ec && self->response_.keep_alive()) self->Read();
                      });
  }

  tcp::socket socket_;
  WebhookReceiver* receiver_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
};

void WebhookReceiver::Accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (!ec) std::make_shared<Session>(std::move(socket), this)->Read();
    Accept();
  });
}

// Sampled events waiting to be read back by pull: senders push, pullers pop in order.
class PullQueue {
 public:
  void Push(AckedEvent event) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(event));
    }
    cv_.notify_one();
  }

  // No more pushes: Pop returns nullopt once the queue is empty.
  void SendingDone() {
    {
      std::lock_guard lock(mu_);
      sending_ = false;
    }
    cv_.notify_all();
  }

  // The oldest queued event, waiting for one while senders run; nullopt when they are done and
  // the queue is empty.
  std::optional<AckedEvent> Pop() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !queue_.empty() || !sending_; });
    if (queue_.empty()) return std::nullopt;
    AckedEvent event = std::move(queue_.front());
    queue_.pop_front();
    return event;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<AckedEvent> queue_;
  bool sending_ = true;
};

// What one sender recorded.
struct SenderRecord {
  std::vector<AckedEvent> acked;
  std::vector<double> ack_ms;  // per request: send -> acknowledgement
  uint64_t errors = 0;         // events of batches answered with another status than 200
};

// One sender: its connection, its random draws and what it recorded.
class Sender {
 public:
  Sender(int index, const Options& options, const Target& target, PullQueue* pulls)
      : index_(index),
        options_(options),
        client_(target),
        rnd_(options.seed * 1000 + index),
        pulls_(pulls) {
    request_.method(http::verb::post);
    request_.target(kEventsTarget);
    request_.set(http::field::content_type, "application/x-ndjson");
  }

  // Offers rate/senders events per second from `start_s` for --seconds: at each 10 ms tick the
  // whole events owed so far, in one request, then a sleep to the next tick boundary.
  void Run(double start_s) {
    const double per_tick = options_.rate / options_.senders * kTickS;
    double owed = 0;
    while (SteadySeconds() - start_s < options_.seconds) {
      owed += per_tick;
      const auto batch = static_cast<int64_t>(owed);
      owed -= static_cast<double>(batch);
      if (batch > 0) SendBatch(batch);
      const double now_s = SteadySeconds() - start_s;
      SleepSeconds((std::floor(now_s / kTickS) + 1) * kTickS - now_s);
    }
  }

  SenderRecord& record() { return record_; }

 private:
  // Writes the request's body: `batch` NDJSON event lines stamped now, their users in users_.
  void WriteBatch(int64_t batch) {
    const int64_t ts_ms = WallMs();
    std::string& body = request_.body();
    body.clear();
    users_.clear();
    for (int64_t i = 0; i < batch; ++i) {
      std::string user = fmt::format("u{}", rnd_.Below(options_.users));
      const std::string_view kind = rnd_.Choice(kKinds);
      const std::string_view category = rnd_.Choice(kCategories);
      const uint32_t duration_s = rnd_.Below(600);
      if (i > 0) body.push_back('\n');
      fmt::format_to(std::back_inserter(body),
                     R"({{"eid":"e{}-{}","user_id":"{}","ts_ms":{},"event":"{}","category":"{}",)"
                     R"("duration_s":{}.0}})",
                     index_, events_++, user, ts_ms, kind, category, duration_s);
      users_.push_back(std::move(user));
    }
    request_.prepare_payload();
  }

  void SendBatch(int64_t batch) {
    WriteBatch(batch);
    const double sent_s = SteadySeconds();
    const auto& response = client_.RoundTrip(request_);
    const double ack_s = SteadySeconds();
    record_.ack_ms.push_back((ack_s - sent_s) * 1000);
    if (response.result() != http::status::ok) {
      record_.errors += batch;
      return;
    }
    const uint64_t first = FirstOffset(response.body());
    for (size_t i = 0; i < users_.size(); ++i) {
      AckedEvent event{std::move(users_[i]), first + i, ack_s};
      if (rnd_.Uniform() < options_.pull_sample) pulls_->Push(event);
      record_.acked.push_back(std::move(event));
    }
  }

  // The "first_offset" of an ingest answer.
  uint64_t FirstOffset(const std::string& body) {
    try {
      return parser_.parse(body)["first_offset"].get_uint64();
    } catch (const simdjson::simdjson_error& e) {
      throw LoadError(fmt::format("the answer {} has no first_offset: {}", body, e.what()));
    }
  }

  const int index_;
  const Options& options_;
  HttpClient client_;
  EventRandom rnd_;
  PullQueue* pulls_;
  simdjson::dom::parser parser_;
  http::request<http::string_body> request_;
  std::vector<std::string> users_;  // of the batch in request_
  uint64_t events_ = 0;             // events written so far (the n of their eids)
  SenderRecord record_;
};

// Whether a GET /v1/predictions answer's "latest" prediction (null until a first one) reflects
// the event at `offset`.
bool ReachesOffset(simdjson::dom::parser& parser, const std::string& body, uint64_t offset) {
  try {
    simdjson::dom::element latest = parser.parse(body)["latest"];
    return !latest.is_null() && ReadOffset(latest["event"]["offset"]) >= offset;
  } catch (const simdjson::simdjson_error& e) {
    throw LoadError(fmt::format("the answer {} has no latest prediction: {}", body, e.what()));
  }
}

// One puller: reads each popped event back every kPullPause until the latest prediction of its
// user reaches its offset, or kPullGiveUpS after its acknowledgement; appends the latencies of
// those that did to `pulled_ms`.
void Pull(const Target& target, PullQueue* pulls, std::vector<double>* pulled_ms) {
  HttpClient client(target);
  simdjson::dom::parser parser;
  http::request<http::string_body> request;
  request.method(http::verb::get);
  while (std::optional<AckedEvent> event = pulls->Pop()) {
    request.target(fmt::format("{}{}", kPredictionsTarget, event->user));
    while (SteadySeconds() < event->ack_s + kPullGiveUpS) {
      const auto& response = client.RoundTrip(request);
      if (response.result() == http::status::ok &&
          ReachesOffset(parser, response.body(), event->offset)) {
        pulled_ms->push_back((SteadySeconds() - event->ack_s) * 1000);
        break;
      }
      std::this_thread::sleep_for(kPullPause);
    }
  }
}

// Runs `body` on a thread; a LoadError ends that thread alone, with a line on stderr naming it.
std::thread Spawn(std::string name, std::function<void()> body) {
  return std::thread([name = std::move(name), body = std::move(body)] {
    try {
      body();
    } catch (const LoadError& e) {
      fmt::print(stderr, "triggered_load: {} stopped: {}\n", name, e.what());
    }
  });
}

// The whole run: receiver, senders and pullers, the wait for the last predictions.
LoadRecord RunLoad(const Options& options, const Target& target) {
  WebhookReceiver receiver(options.receiver_port);
  PullQueue pulls;
  std::vector<std::unique_ptr<Sender>> senders;
  for (int k = 0; k < options.senders; ++k) {
    senders.push_back(std::make_unique<Sender>(k, options, target, &pulls));
  }
  std::vector<std::vector<double>> pulled_ms(kPullers);

  const double start_s = SteadySeconds();
  std::vector<std::thread> sender_threads, puller_threads;
  for (int k = 0; k < options.senders; ++k) {
    sender_threads.push_back(
        Spawn(fmt::format("sender {}", k), [&, k] { senders[k]->Run(start_s); }));
  }
  for (int p = 0; p < kPullers; ++p) {
    puller_threads.push_back(
        Spawn(fmt::format("puller {}", p), [&, p] { Pull(target, &pulls, &pulled_ms[p]); }));
  }
  for (std::thread& t : sender_threads) t.join();
  LoadRecord record;
  record.rate = options.rate;
  record.seconds = options.seconds;
  record.elapsed_s = SteadySeconds() - start_s;
  pulls.SendingDone();
  for (std::thread& t : puller_threads) t.join();

  SleepSeconds(std::min(10.0, 1.0 + options.seconds / 10));
  record.arrivals = receiver.Stop();
  for (const auto& sender : senders) {
    SenderRecord& s = sender->record();
    std::move(s.acked.begin(), s.acked.end(), std::back_inserter(record.acked));
    record.ack_ms.insert(record.ack_ms.end(), s.ack_ms.begin(), s.ack_ms.end());
    record.errors += s.errors;
  }
  for (const auto& ms : pulled_ms) {
    record.pull_ms.insert(record.pull_ms.end(), ms.begin(), ms.end());
  }
  return record;
}

void AddOptions(CLI::App* app, Options* o) {
  app->add_option("--url", o->url, "the server, http://HOST:PORT")->required();
  app->add_option("--receiver-port", o->receiver_port,
                  "port of the webhook receiver on 127.0.0.1 (the deployment's webhook URL)")
      ->required();
  app->add_option("--rate", o->rate, "events/s offered over all senders")
      ->required()
      ->check(CLI::NonNegativeNumber);
  app->add_option("--seconds", o->seconds, "how long the rate is offered")
      ->required()
      ->check(CLI::NonNegativeNumber);
  app->add_option("--users", o->users, "users drawn uniformly, u0 .. u<N-1>")
      ->capture_default_str()
      ->check(CLI::Range(1u, UINT32_MAX));
  app->add_option("--senders", o->senders, "threads, each with its own connection")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_option("--pull-sample", o->pull_sample,
                  "probability that an acknowledged event is also read back by pull")
      ->capture_default_str();
  app->add_option("--seed", o->seed, "random seed: the same seed offers the same events")
      ->capture_default_str();
}

}  // namespace
}  // namespace freshet

int main(int argc, char** argv) {
  freshet::Options options;
  CLI::App app{
      "Steady meditation-app traffic into `freshet serve`, measuring event -> triggered "
      "prediction (push and pull); prints one JSON line.",
      "triggered_load"};
  freshet::AddOptions(&app, &options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;  // --help, or bad usage
  }
  if (!std::isfinite(options.rate) || !std::isfinite(options.seconds)) {
    fmt::print(stderr, "triggered_load: --rate and --seconds must be finite\n");
    return 2;
  }
  freshet::Target target;
  try {
    target = freshet::ResolveUrl(options.url);
  } catch (const freshet::LoadError& e) {
    fmt::print(stderr, "triggered_load: {}\n", e.what());
    return 2;
  }
  try {
    const freshet::LoadRecord record = freshet::RunLoad(options, target);
    fmt::print("{}\n", freshet::LoadResultJson(freshet::SummarizeLoad(record)));
  } catch (const freshet::LoadError& e) {  // the receiver could not listen
    fmt::print(stderr, "triggered_load: {}\n", e.what());
    return 1;
  }
  return 0;
}
