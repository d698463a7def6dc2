#include "bench/triggered_load_stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace freshet {
namespace {

// One user's predictions sorted by offset, with the earliest arrival at or after each.
struct UserPredictions {
  std::vector<uint64_t> offsets;
  std::vector<double> earliest_s;  // earliest_s[i]: min arrival over offsets[i..]
};

std::unordered_map<std::string_view, UserPredictions> ByUser(
    const std::vector<PredictionArrival>& arrivals) {
  std::unordered_map<std::string_view, std::vector<std::pair<uint64_t, double>>> got;
  for (const PredictionArrival& a : arrivals) got[a.user].emplace_back(a.offset, a.arrived_s);
  std::unordered_map<std::string_view, UserPredictions> by_user;
  for (auto& [user, predictions] : got) {
    std::sort(predictions.begin(), predictions.end());
    UserPredictions& u = by_user[user];
    for (const auto& [offset, arrived_s] : predictions) {
      u.offsets.push_back(offset);
      u.earliest_s.push_back(arrived_s);
    }
    for (size_t i = u.earliest_s.size(); i-- > 1;) {
      u.earliest_s[i - 1] = std::min(u.earliest_s[i - 1], u.earliest_s[i]);
    }
  }
  return by_user;
}

// `x` as Python's repr writes a float: the shortest text that reads back as x, with ".0" when
// that text is an integer.
std::string PythonFloat(double x) {
  std::string text = fmt::format("{}", x);
  if (text.find_first_not_of("-0123456789") == std::string::npos) text += ".0";
  return text;
}

std::string OptionalFloat(std::optional<double> x) {
  return x ? PythonFloat(*x) : std::string("null");
}

// `"<count_key>":<count>,"p50_ms":..,"p99_ms":..,"max_ms":..` wrapped in braces.
std::string SummaryJson(std::string_view count_key, size_t count, const LatencySummary& s) {
  return fmt::format(R"({{"{}":{},"p50_ms":{},"p99_ms":{},"max_ms":{}}})", count_key, count,
                     OptionalFloat(s.p50_ms), OptionalFloat(s.p99_ms), OptionalFloat(s.max_ms));
}

}  // namespace

std::vector<double> PushLatenciesMs(const std::vector<AckedEvent>& events,
                                    const std::vector<PredictionArrival>& arrivals) {
  const auto by_user = ByUser(arrivals);
  std::vector<double> latencies_ms;
  latencies_ms.reserve(events.size());
  for (const AckedEvent& e : events) {
    auto it = by_user.find(e.user);
    if (it == by_user.end()) continue;
    const UserPredictions& u = it->second;
    const size_t i =
        std::lower_bound(u.offsets.begin(), u.offsets.end(), e.offset) - u.offsets.begin();
    if (i < u.offsets.size())
      latencies_ms.push_back(std::max(0.0, u.earliest_s[i] - e.ack_s) * 1000);
  }
  return latencies_ms;
}

double RoundTo(double x, int digits) {
  // fmt's fixed notation rounds x's exact value half to even, as Python's round does.
  const std::string text = fmt::format("{:.{}f}", x, digits);
  double rounded = x;
  std::from_chars(text.data(), text.data() + text.size(), rounded);
  return rounded;
}

std::optional<double> Percentile(const std::vector<double>& sorted_ms, double q) {
  if (sorted_ms.empty()) return std::nullopt;
  const size_t n = sorted_ms.size();
  return RoundTo(sorted_ms[std::min(n - 1, static_cast<size_t>(q * n))], 2);
}

LatencySummary Summarize(std::vector<double> latencies_ms) {
  std::sort(latencies_ms.begin(), latencies_ms.end());
  LatencySummary s{Percentile(latencies_ms, 0.50), Percentile(latencies_ms, 0.99), std::nullopt};
  if (!latencies_ms.empty()) s.max_ms = RoundTo(latencies_ms.back(), 2);
  return s;
}

bool Held(size_t delivered, size_t acked, std::optional<double> push_p99_ms, double rate,
          double seconds) {
  return delivered >= 0.999 * std::max<size_t>(1, acked) && push_p99_ms && *push_p99_ms < 1000 &&
         acked >= 0.9 * rate * seconds;
}

LoadResult SummarizeLoad(const LoadRecord& record) {
  const std::vector<double> push_ms = PushLatenciesMs(record.acked, record.arrivals);
  LoadResult r;
  r.rate = record.rate;
  r.offered_per_s = RoundTo(record.acked.size() / record.elapsed_s, 1);
  r.acked = record.acked.size();
  r.errors = record.errors;
  r.delivered = push_ms.size();
  r.push = Summarize(push_ms);
  r.pull_seen = record.pull_ms.size();
  r.pull = Summarize(record.pull_ms);
  r.ack_requests = record.ack_ms.size();
  r.ack = Summarize(record.ack_ms);
  r.held = Held(r.delivered, r.acked, r.push.p99_ms, r.rate, record.seconds);
  return r;
}

std::string LoadResultJson(const LoadResult& r) {
  return fmt::format(R"({{"rate":{},"offered_per_s":{},"acked":{},"errors":{},)"
                     R"("push":{},"pull":{},"ack":{},"held":{}}})",
                     PythonFloat(r.rate), PythonFloat(r.offered_per_s), r.acked, r.errors,
                     SummaryJson("delivered", r.delivered, r.push),
                     SummaryJson("seen", r.pull_seen, r.pull),
                     SummaryJson("requests", r.ack_requests, r.ack), r.held);
}

}  // namespace freshet
