#include "core/metrics.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

namespace freshet {
namespace {

TEST(MetricsTest, RendersCounterWithLabelsSortedByValue) {
  MetricsRegistry registry;
  CounterFamily* requests = registry.GetCounter("freshet_http_requests_total", "HTTP requests.",
                                                {"route", "method", "code"});
  requests->WithLabels({"/v1/predict/{deployment}", "POST", "200"})->Increment(3);
  requests->WithLabels({"/v1/features", "POST", "200"})->Increment();
  EXPECT_EQ(registry.Render(),
            "# HELP freshet_http_requests_total HTTP requests.\n"
            "# TYPE freshet_http_requests_total counter\n"
            "freshet_http_requests_total{route=\"/v1/features\",method=\"POST\",code=\"200\"} 1\n"
            "freshet_http_requests_total{route=\"/v1/predict/{deployment}\",method=\"POST\","
            "code=\"200\"} 3\n");
}

TEST(MetricsTest, RendersUnlabelledGaugeAndFractions) {
  MetricsRegistry registry;
  Gauge* depth = registry.GetGauge("freshet_queue_depth", "Queued items.")->WithLabels({});
  depth->Set(5);
  depth->Add(-1.5);
  EXPECT_EQ(depth->Value(), 3.5);
  EXPECT_EQ(registry.Render(),
            "# HELP freshet_queue_depth Queued items.\n"
            "# TYPE freshet_queue_depth gauge\n"
            "freshet_queue_depth 3.5\n");
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  MetricsRegistry registry;
  registry.GetCounter("x_total", "a \\ b\nc \"q\"", {"v"})
      ->WithLabels({"back\\slash \"quoted\"\nnext"})
      ->Increment();
  EXPECT_EQ(registry.Render(),
            "# HELP x_total a \\\\ b\\nc \"q\"\n"
            "# TYPE x_total counter\n"
            "x_total{v=\"back\\\\slash \\\"quoted\\\"\\nnext\"} 1\n");
}

TEST(MetricsTest, RendersHistogramBucketsSumAndCount) {
  MetricsRegistry registry;
  Histogram* h = registry.GetHistogram("lat_seconds", "Latency.", {"route"}, {0.001, 0.5, 2})
                     ->WithLabels({"/a"});
  h->Observe(0.001);  // on a bound: counted in that bucket (le is inclusive)
  h->Observe(0.25);
  h->Observe(0.25);
  h->Observe(7);  // above every bound: +Inf only
  EXPECT_EQ(registry.Render(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{route=\"/a\",le=\"0.001\"} 1\n"
            "lat_seconds_bucket{route=\"/a\",le=\"0.5\"} 3\n"
            "lat_seconds_bucket{route=\"/a\",le=\"2\"} 3\n"
            "lat_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"
            "lat_seconds_sum{route=\"/a\"} 7.501\n"
            "lat_seconds_count{route=\"/a\"} 4\n");
}

TEST(MetricsTest, DefaultBucketsSpanFiftyMicrosToTenSeconds) {
  const std::vector<double>& b = DefaultLatencyBuckets();
  EXPECT_EQ(b.front(), 0.00005);
  EXPECT_EQ(b.back(), 10);
  MetricsRegistry registry;
  registry.GetHistogram("d_seconds", "D.")->WithLabels({})->Observe(0.00003);
  std::string text = registry.Render();
  EXPECT_NE(text.find("d_seconds_bucket{le=\"5e-05\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_bucket{le=\"10\"} 1\n"), std::string::npos) << text;
}

TEST(MetricsTest, NanObservationGoesToInfBucket) {
  Histogram h({1, 2});
  h.Observe(std::nan(""));
  EXPECT_EQ(h.CumulativeCounts(), (std::vector<uint64_t>{0, 0, 1}));
}

TEST(MetricsTest, AddingSameFamilyTwiceReturnsIt) {
  MetricsRegistry registry;
  CounterFamily* a = registry.GetCounter("c_total", "C.", {"k"});
  CounterFamily* b = registry.GetCounter("c_total", "C.", {"k"});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->WithLabels({"x"}), b->WithLabels({"x"}));
  EXPECT_NE(a->WithLabels({"x"}), a->WithLabels({"y"}));
}

TEST(MetricsDeathTest, MismatchedRedefinitionAborts) {
  MetricsRegistry registry;
  registry.GetCounter("c_total", "C.", {"k"});
  EXPECT_DEATH(registry.GetGauge("c_total", "C.", {"k"}), "different kind or labels");
  EXPECT_DEATH(registry.GetCounter("bad name", "C."), "invalid metric name");
  EXPECT_DEATH(registry.GetCounter("c_total", "C.", {"k"})->WithLabels({}), "got 0 values");
}

TEST(MetricsTest, ConcurrentIncrementsAndObservesSum) {
  MetricsRegistry registry;
  CounterFamily* counters = registry.GetCounter("n_total", "N.", {"t"});
  Histogram* hist = registry.GetHistogram("h_seconds", "H.")->WithLabels({});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half the threads share a series, half look theirs up concurrently with the others.
      Counter* shared = counters->WithLabels({"shared"});
      Counter* own = counters->WithLabels({fmt::format("t{}", t % 2)});
      for (int i = 0; i < kPerThread; ++i) {
        shared->Increment();
        own->Increment(2);
        hist->Observe(0.001);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counters->WithLabels({"shared"})->Value(), kThreads * kPerThread);
  EXPECT_EQ(counters->WithLabels({"t0"})->Value(), kThreads / 2 * kPerThread * 2);
  EXPECT_EQ(hist->CumulativeCounts().back(), uint64_t{kThreads * kPerThread});
  EXPECT_NEAR(hist->Sum(), kThreads * kPerThread * 0.001, 1e-6);
}

}  // namespace
}  // namespace freshet
