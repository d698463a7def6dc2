#include "bench/stream_bench.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <random>

#include "format/record_parser.h"
#include "spec/spec_loader.h"
#include "storage/db.h"
#include "stream/engine.h"
#include "stream/rocksdb_state_backend.h"

namespace freshet {
namespace {

constexpr const char* kBenchSpec = R"(project: bench
entities:
  user: {key: user_id}
sources:
  events:
    kind: file
    path: events.ndjson
    timestamp: ts_ms
    fields: {user_id: string, event: string, category: string, duration_s: double}
    allowed_lateness: 1m
feature_views:
  activity:
    entity: user
    source: events
    features:
      events_10m: {agg: count, window: 10m}
      sleep_starts_1h: {agg: count, window: 1h, where: "event = 'start' and category = 'sleep'"}
      listen_s_1h: {agg: sum, of: duration_s, window: 1h}
      mean_len_10m: {agg: mean, of: duration_s, window: 10m}
      session_events: {agg: count, session_gap: 30m}
)";

constexpr const char* kEvents[] = {"start", "exit", "complete", "search", "pause"};
constexpr const char* kCategories[] = {"sleep", "focus", "move", "meditate", "stress"};

// Synthetic NDJSON, one event per line, event time increasing with small disorder.
std::string MakeNdjson(const StreamBenchOptions& o) {
  std::mt19937_64 rng(o.seed);
  // Zipf-like popularity via a power of a uniform: hot users get many events.
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::string out;
  out.reserve(o.events * 100);
  const int64_t t0 = 1'767'225'600'000;
  const double ms_per_event = 1000.0 / static_cast<double>(o.events_per_s_event_time);
  for (uint64_t i = 0; i < o.events; ++i) {
    uint64_t user =
        static_cast<uint64_t>(std::pow(unit(rng), 2.0) * static_cast<double>(o.entities));
    int64_t ts = t0 + static_cast<int64_t>(static_cast<double>(i) * ms_per_event) -
                 static_cast<int64_t>(rng() % 2000);
    fmt::format_to(
        std::back_inserter(out),
        R"({{"user_id":"u{}","ts_ms":{},"event":"{}","category":"{}","duration_s":{:.1f}}})"
        "\n",
        user, ts, kEvents[rng() % 5], kCategories[rng() % 5], unit(rng) * 600.0);
  }
  return out;
}

uint64_t PeakRssBytes() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;
}

}  // namespace

const char* StreamBenchSpecYaml() { return kBenchSpec; }

std::string StreamBenchNdjson(uint64_t n, uint64_t entities, uint64_t seed) {
  StreamBenchOptions o;
  o.events = n;
  o.entities = entities;
  o.seed = seed;
  return MakeNdjson(o);
}

std::string StreamBenchResult::ToJson() const {
  return fmt::format(
      R"({{"bench":"stream","events":{},"entities":{},"ndjson_bytes":{},"seconds":{:.3f},)"
      R"("events_per_s":{:.0f},"parse_s":{:.3f},"apply_s":{:.3f},"checkpoint_s":{:.3f},)"
      R"("checkpoints":{},"peak_rss_bytes":{}}})",
      events, entities, ndjson_bytes, seconds, events_per_s, parse_seconds, apply_seconds,
      checkpoint_seconds, checkpoints, peak_rss_bytes);
}

Result<StreamBenchResult> RunStreamBench(const StreamBenchOptions& o) {
  ASSIGN_OR_RETURN(ProjectSpec spec, ParseProject(kBenchSpec, "bench/freshet.yaml"));
  const std::string ndjson = MakeNdjson(o);

  std::string dir = o.data_dir;
  bool temp = dir.empty();
  if (temp) {
    dir = (std::filesystem::temp_directory_path() / fmt::format("freshet-bench-{}", ::getpid()))
              .string();
  }
  std::filesystem::remove_all(dir);
  StreamBenchResult result;
  {
    ASSIGN_OR_RETURN(auto db, Db::Open(dir));
    auto backend = std::make_unique<RocksDbStateBackend>(db.get());
    EngineOptions engine_options;
    engine_options.checkpoint_interval_ms = o.checkpoint_interval_ms;
    engine_options.checkpoint_records = o.checkpoint_records;
    ASSIGN_OR_RETURN(auto engine, StreamEngine::Create(spec, backend.get(), SystemClock::Default(),
                                                       engine_options));
    const SourceSpec& source = spec.sources.at("events");
    RecordParser parser(source, RequiredFields(spec, "events"));
    std::vector<Record> records;

    auto start = std::chrono::steady_clock::now();
    uint64_t offset = 0;
    for (size_t pos = 0; pos < ndjson.size();) {
      size_t end = std::min(ndjson.size(), pos + o.chunk_bytes);
      end = ndjson.find('\n', end);
      end = end == std::string::npos ? ndjson.size() : end + 1;
      auto parse_start = std::chrono::steady_clock::now();
      RETURN_IF_ERROR(parser.Parse(std::string_view(ndjson).substr(pos, end - pos), &records));
      result.parse_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - parse_start).count();
      RETURN_IF_ERROR(engine->Apply("events", offset, records));
      offset += records.size();
      pos = end;
    }
    RETURN_IF_ERROR(engine->Checkpoint());
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EngineStats stats = engine->stats();
    result.events = offset;
    result.entities = stats.entities;
    result.checkpoints = stats.checkpoints;
    result.checkpoint_seconds = stats.checkpoint_seconds;
    result.apply_seconds = result.seconds - result.parse_seconds - result.checkpoint_seconds;
  }
  result.ndjson_bytes = ndjson.size();
  result.events_per_s = static_cast<double>(result.events) / result.seconds;
  result.peak_rss_bytes = PeakRssBytes();
  if (temp) std::filesystem::remove_all(dir);
  return result;
}

}  // namespace freshet
