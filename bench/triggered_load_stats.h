// The pure part of bench/triggered_load.cc: matching acknowledged events to the pushed
// predictions that reflect them, the latency summaries, the held rule and the JSON line the tool
// prints. Kept apart from the tool's sockets and threads so it is tested on hand-made cases.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace freshet {

// An event the server acknowledged: its user, its offset in the source's log and when its
// acknowledgement arrived, in seconds on the one steady clock PredictionArrival uses too.
struct AckedEvent {
  std::string user;
  uint64_t offset = 0;
  double ack_s = 0;
};

// A prediction pushed to the webhook receiver: its user, the offset of the event that triggered
// it and when it arrived (seconds on AckedEvent's clock).
struct PredictionArrival {
  std::string user;
  uint64_t offset = 0;
  double arrived_s = 0;
};

// One push latency (ms) per delivered event of `events`, in no particular order. A prediction
// at offset o reflects every event of its user at or before o (offsets are in commit order), so
// an event is delivered by the earliest arrival among its user's predictions at offsets >= its
// own, and its latency is max(0, that arrival - its acknowledgement). An event without such a
// prediction is undelivered and has no latency.
std::vector<double> PushLatenciesMs(const std::vector<AckedEvent>& events,
                                    const std::vector<PredictionArrival>& arrivals);

// Python's round(x, digits): the nearest multiple of 10^-digits to x's exact binary value,
// ties to even.
double RoundTo(double x, int digits);

// sorted_ms[min(n - 1, int(q * n))] rounded to 2 decimals; nullopt when sorted_ms is empty.
// REQUIRES: sorted_ms ascending, 0 <= q <= 1.
std::optional<double> Percentile(const std::vector<double>& sorted_ms, double q);

// p50, p99 and max of a set of latencies, each rounded to 2 decimals; all nullopt when empty.
struct LatencySummary {
  std::optional<double> p50_ms;
  std::optional<double> p99_ms;
  std::optional<double> max_ms;
};
LatencySummary Summarize(std::vector<double> latencies_ms);

// Whether a rate was held: at least 99.9% of the acknowledged events delivered, a push p99 under
// a second, and at least 90% of the offered rate (rate * seconds events) acknowledged.
bool Held(size_t delivered, size_t acked, std::optional<double> push_p99_ms, double rate,
          double seconds);

// What one run of the tool recorded.
struct LoadRecord {
  double rate = 0;       // --rate, events/s
  double seconds = 0;    // --seconds
  double elapsed_s = 0;  // start -> the last sender done
  std::vector<AckedEvent> acked;
  uint64_t errors = 0;  // events of batches answered with another status than 200
  std::vector<PredictionArrival> arrivals;
  std::vector<double> pull_ms;  // per sampled event: acknowledgement -> readable by pull
  std::vector<double> ack_ms;   // per request: send -> acknowledgement
};

// The run's figures as the tool reports them.
struct LoadResult {
  double rate = 0;
  double offered_per_s = 0;  // acknowledged events / elapsed, rounded to 1 decimal
  uint64_t acked = 0;
  uint64_t errors = 0;
  size_t delivered = 0;
  LatencySummary push;
  size_t pull_seen = 0;
  LatencySummary pull;
  size_t ack_requests = 0;
  LatencySummary ack;
  bool held = false;
};
LoadResult SummarizeLoad(const LoadRecord& record);

// The result as one JSON line (RapidJSON's writer: doubles as 2000.0 and 1.5), missing latencies
// as null, no trailing newline; bench/triggered.sh reads it:
//   {"rate":..,"offered_per_s":..,"acked":..,"errors":..,
//    "push":{"delivered":..,"p50_ms":..,"p99_ms":..,"max_ms":..},
//    "pull":{"seen":..,"p50_ms":..,"p99_ms":..,"max_ms":..},
//    "ack":{"requests":..,"p50_ms":..,"p99_ms":..,"max_ms":..},"held":..}
std::string LoadResultJson(const LoadResult& result);

}  // namespace freshet
