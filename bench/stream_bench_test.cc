#include "bench/stream_bench.h"

#include <gtest/gtest.h>

namespace freshet {
namespace {

// A small run through the real parser, engine and RocksDB: the figures add up and the JSON line
// carries them.
TEST(StreamBenchTest, SmallRunReportsWhereTheTimeWent) {
  StreamBenchOptions options;
  options.events = 20'000;
  options.entities = 500;
  options.chunk_bytes = 64 << 10;      // several batches
  options.checkpoint_records = 5'000;  // and several checkpoints
  auto result = RunStreamBench(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->events, 20'000u);
  EXPECT_GT(result->entities, 100u);
  EXPECT_LE(result->entities, 500u);
  EXPECT_GE(result->checkpoints, 4u);
  EXPECT_GT(result->parse_seconds, 0.0);
  EXPECT_GT(result->checkpoint_seconds, 0.0);
  EXPECT_GE(result->apply_seconds, 0.0);
  EXPECT_NEAR(result->parse_seconds + result->apply_seconds + result->checkpoint_seconds,
              result->seconds, 1e-9);
  EXPECT_GT(result->peak_rss_bytes, 0u);

  std::string text = result->ToJson();
  for (const char* key : {"\"events_per_s\":", "\"parse_s\":", "\"apply_s\":", "\"checkpoint_s\":",
                          "\"peak_rss_bytes\":"}) {
    EXPECT_NE(text.find(key), std::string::npos) << key << " missing from " << text;
  }
}

}  // namespace
}  // namespace freshet
