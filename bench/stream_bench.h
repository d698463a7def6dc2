// StreamBench: `freshet bench stream` — stream aggregation throughput from NDJSON bytes to
// committed window state, on the file-source path (parse -> watermark -> window state ->
// RocksDB checkpoints), on one thread. Synthetic events for `entities` users with Zipf-like
// popularity; features: two sliding counts (10 min, 1 h, one filtered), a sliding sum (1 h),
// a sliding mean (10 min) and a session count (30 min gap).
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "stream/engine.h"

namespace freshet {

struct StreamBenchOptions {
  uint64_t events = 5'000'000;               // Default: 5M
  uint64_t entities = 1'000'000;             // Default: 1M
  int64_t events_per_s_event_time = 20'000;  // event-time density (sets window occupancy)
  std::string data_dir;                      // Default: a fresh temp directory, removed after
  uint64_t seed = 1;
  size_t chunk_bytes = 4u << 20;  // NDJSON parsed per step
  // The engine's checkpoint triggers. Default: the engine's defaults (as `freshet serve`).
  int64_t checkpoint_interval_ms = kDefaultCheckpointIntervalMs;
  size_t checkpoint_records = kDefaultCheckpointRecords;
};

struct StreamBenchResult {
  uint64_t events = 0;
  uint64_t entities = 0;
  uint64_t ndjson_bytes = 0;
  double seconds = 0;
  double events_per_s = 0;
  // Where `seconds` went: NDJSON parsing, applying records, checkpoints.
  double parse_seconds = 0;
  double apply_seconds = 0;
  double checkpoint_seconds = 0;
  uint64_t checkpoints = 0;
  uint64_t peak_rss_bytes = 0;
  std::string ToJson() const;
};

Result<StreamBenchResult> RunStreamBench(const StreamBenchOptions& options);

// The benchmark's project (freshet.yaml text): source "events", view "activity"; shared with
// the micro-benchmarks in bench/.
const char* StreamBenchSpecYaml();
// `n` synthetic NDJSON events over `entities` users (the benchmark's event generator).
std::string StreamBenchNdjson(uint64_t n, uint64_t entities, uint64_t seed = 1);

}  // namespace freshet
