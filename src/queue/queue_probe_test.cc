#include "queue/queue_probe.h"

#include <gtest/gtest.h>

namespace freshet {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(QueueProbeTest, GaugesPerQueueAndCountersAdvancedByTheirGrowth) {
  MetricsRegistry registry;
  QueueProbe probe(&registry);
  JobQueue::QueueStats s;
  s.queue = "predict/m";
  s.ready = 3;
  s.delayed = 2;
  s.in_flight = 4;
  s.dead = 1;
  s.oldest_age_ms = 1500;
  s.retries = 7;
  s.dead_lettered = 1;
  s.coalesced = 2;
  probe.Refresh({s});
  std::string text = registry.Render();
  EXPECT_TRUE(Has(text, R"(freshet_queue_depth{queue="predict/m"} 5)")) << text;
  EXPECT_TRUE(Has(text, R"(freshet_queue_in_flight{queue="predict/m"} 4)")) << text;
  EXPECT_TRUE(Has(text, R"(freshet_queue_dead{queue="predict/m"} 1)")) << text;
  EXPECT_TRUE(Has(text, R"(freshet_queue_oldest_age_seconds{queue="predict/m"} 1.5)")) << text;
  EXPECT_TRUE(Has(text, R"(freshet_queue_retries_total{queue="predict/m"} 7)")) << text;
  EXPECT_TRUE(Has(text, R"(freshet_queue_dead_lettered_total{queue="predict/m"} 1)")) << text;
  EXPECT_TRUE(Has(text, R"(freshet_queue_coalesced_total{queue="predict/m"} 2)")) << text;

  // The queue's totals grew by 3 retries: the counter by as much, not by the total again.
  s.retries = 10;
  s.ready = 0;
  probe.Refresh({s});
  text = registry.Render();
  EXPECT_TRUE(Has(text, R"(freshet_queue_retries_total{queue="predict/m"} 10)")) << text;
  EXPECT_TRUE(Has(text, R"(freshet_queue_depth{queue="predict/m"} 2)")) << text;
}

}  // namespace
}  // namespace freshet
