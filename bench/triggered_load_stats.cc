#include "bench/triggered_load_stats.h"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

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

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void OptionalDouble(JsonWriter* w, std::optional<double> x) {
  if (x) {
    w->Double(*x);
  } else {
    w->Null();
  }
}

// "<key>":{"<count_key>":<count>,"p50_ms":..,"p99_ms":..,"max_ms":..}
void SummaryJson(JsonWriter* w, const char* key, const char* count_key, size_t count,
                 const LatencySummary& s) {
  w->Key(key);
  w->StartObject();
  w->Key(count_key);
  w->Uint64(count);
  w->Key("p50_ms");
  OptionalDouble(w, s.p50_ms);
  w->Key("p99_ms");
  OptionalDouble(w, s.p99_ms);
  w->Key("max_ms");
  OptionalDouble(w, s.max_ms);
  w->EndObject();
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
  rapidjson::StringBuffer out;
  JsonWriter w(out);
  w.StartObject();
  w.Key("rate");
  w.Double(r.rate);
  w.Key("offered_per_s");
  w.Double(r.offered_per_s);
  w.Key("acked");
  w.Uint64(r.acked);
  w.Key("errors");
  w.Uint64(r.errors);
  SummaryJson(&w, "push", "delivered", r.delivered, r.push);
  SummaryJson(&w, "pull", "seen", r.pull_seen, r.pull);
  SummaryJson(&w, "ack", "requests", r.ack_requests, r.ack);
  w.Key("held");
  w.Bool(r.held);
  w.EndObject();
  return out.GetString();
}

}  // namespace freshet
