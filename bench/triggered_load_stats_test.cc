#include "bench/triggered_load_stats.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace freshet {
namespace {

std::vector<double> Sorted(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// A prediction at a later offset reflects the event too; when it arrived before the one the
// event itself triggered, it is the one that delivered the event.
TEST(TriggeredLoadStatsTest, LaterOffsetArrivingFirstDeliversTheEvent) {
  const std::vector<AckedEvent> events = {{"u1", 10, 100.000}};
  const std::vector<PredictionArrival> arrivals = {{"u1", 10, 100.050},   // its own, 50 ms
                                                   {"u1", 12, 100.020},   // later offset, 20 ms
                                                   {"u2", 11, 100.001}};  // another user
  const std::vector<double> ms = PushLatenciesMs(events, arrivals);
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_NEAR(ms[0], 20.0, 1e-6);
}

// Predictions before an event's offset do not reflect it; each event takes the earliest arrival
// among its user's predictions at or after its offset, and one that arrived before the
// acknowledgement counts as 0 ms.
TEST(TriggeredLoadStatsTest, EachEventMatchesPredictionsAtOrAfterItsOffset) {
  const std::vector<AckedEvent> events = {
      {"u1", 5, 10.000},  // offsets 5 (30 ms), 7 (15 ms), 9 (40 ms) -> 15 ms
      {"u1", 8, 10.000},  // offset 9 only -> 40 ms
      {"u1", 9, 10.050},  // offset 9 arrived 10 ms before the acknowledgement -> 0
  };
  const std::vector<PredictionArrival> arrivals = {
      {"u1", 9, 10.040}, {"u1", 5, 10.030}, {"u1", 7, 10.015}, {"u1", 3, 10.001}};
  const std::vector<double> ms = Sorted(PushLatenciesMs(events, arrivals));
  ASSERT_EQ(ms.size(), 3u);
  EXPECT_EQ(ms[0], 0.0);
  EXPECT_NEAR(ms[1], 15.0, 1e-6);
  EXPECT_NEAR(ms[2], 40.0, 1e-6);
}

// An event with no prediction of its user at or after its offset (only earlier ones, or none at
// all) is undelivered: it has no latency.
TEST(TriggeredLoadStatsTest, EventsWithoutALaterPredictionAreUndelivered) {
  const std::vector<AckedEvent> events = {
      {"u1", 20, 1.0}, {"u1", 21, 1.0}, {"u2", 4, 1.0}, {"u3", 1, 1.0}};
  const std::vector<PredictionArrival> arrivals = {
      {"u1", 20, 1.010}, {"u1", 19, 1.001}, {"u2", 3, 1.002}};
  const std::vector<double> ms = PushLatenciesMs(events, arrivals);
  ASSERT_EQ(ms.size(), 1u);  // only u1's offset 20
  EXPECT_NEAR(ms[0], 10.0, 1e-6);
}

// sorted[min(n - 1, int(q * n))], rounded to 2 decimals.
TEST(TriggeredLoadStatsTest, PercentileIndexing) {
  std::vector<double> hundred;
  for (int i = 0; i < 100; ++i) hundred.push_back(i + 0.001);
  EXPECT_EQ(Percentile(hundred, 0.50), 50.0);  // index 50, not 49
  EXPECT_EQ(Percentile(hundred, 0.99), 99.0);  // index 99
  EXPECT_EQ(Percentile(hundred, 1.0), 99.0);   // clamped to the last

  const std::vector<double> three = {1.0, 2.0, 3.0};
  EXPECT_EQ(Percentile(three, 0.50), 2.0);  // int(1.5) = 1
  EXPECT_EQ(Percentile(three, 0.99), 3.0);  // int(2.97) = 2

  EXPECT_EQ(Percentile({}, 0.5), std::nullopt);
  EXPECT_EQ(Percentile({1.23456}, 0.5), 1.23);
}

TEST(TriggeredLoadStatsTest, RoundsAsPython) {
  EXPECT_EQ(RoundTo(0.125, 2), 0.12);  // an exact tie goes to even
  EXPECT_EQ(RoundTo(0.375, 2), 0.38);
  EXPECT_EQ(RoundTo(2.675, 2), 2.67);  // 2.67499999... in binary
  EXPECT_EQ(RoundTo(1974.46, 1), 1974.5);
}

TEST(TriggeredLoadStatsTest, SummaryOfLatencies) {
  const LatencySummary s = Summarize({5.0, 1.0, 3.0, 2.0, 4.0});
  EXPECT_EQ(s.p50_ms, 3.0);
  EXPECT_EQ(s.p99_ms, 5.0);
  EXPECT_EQ(s.max_ms, 5.0);
  const LatencySummary empty = Summarize({});
  EXPECT_EQ(empty.p50_ms, std::nullopt);
  EXPECT_EQ(empty.max_ms, std::nullopt);
}

// 10,000 events offered at 1,000/s for 10 s: held, and each of the three conditions failing.
TEST(TriggeredLoadStatsTest, HeldRule) {
  EXPECT_TRUE(Held(9'990, 10'000, 12.5, 1000, 10));
  // Under 99.9% delivered.
  EXPECT_FALSE(Held(9'989, 10'000, 12.5, 1000, 10));
  // Push p99 of a second or more, or none at all.
  EXPECT_TRUE(Held(9'990, 10'000, 999.99, 1000, 10));
  EXPECT_FALSE(Held(9'990, 10'000, 1000.0, 1000, 10));
  EXPECT_FALSE(Held(9'990, 10'000, std::nullopt, 1000, 10));
  // Under 90% of the offered rate acknowledged.
  EXPECT_TRUE(Held(9'000, 9'000, 12.5, 1000, 10));
  EXPECT_FALSE(Held(8'999, 8'999, 12.5, 1000, 10));
  // Nothing acknowledged is never held, even with nothing offered.
  EXPECT_FALSE(Held(0, 0, std::nullopt, 0, 10));
}

// The line bench/triggered.sh parses: Python's float repr (2000.0), null for no latencies.
TEST(TriggeredLoadStatsTest, JsonLineAsPythonWroteIt) {
  LoadRecord record;
  record.rate = 2000;
  record.seconds = 0.001;
  record.elapsed_s = 0.003;
  record.acked = {{"u1", 7, 1.0}, {"u2", 8, 1.0}};
  record.errors = 25;
  record.arrivals = {{"u1", 7, 1.0014}};
  record.ack_ms = {3.0, 1.25};
  EXPECT_EQ(LoadResultJson(SummarizeLoad(record)),
            R"({"rate":2000.0,"offered_per_s":666.7,"acked":2,"errors":25,)"
            R"("push":{"delivered":1,"p50_ms":1.4,"p99_ms":1.4,"max_ms":1.4},)"
            R"("pull":{"seen":0,"p50_ms":null,"p99_ms":null,"max_ms":null},)"
            R"("ack":{"requests":2,"p50_ms":3.0,"p99_ms":3.0,"max_ms":3.0},"held":false})");
}

}  // namespace
}  // namespace freshet
