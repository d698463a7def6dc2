#include <fmt/format.h>

#include "bench/stream_bench.h"
#include "cli/cli_context.h"
#include "cli/commands.h"

namespace freshet::cli {

void RegisterBench(CLI::App* app) {
  CLI::App* bench = app->add_subcommand("bench", "Benchmarks (print one JSON line last)");
  bench->require_subcommand(1);
  auto o = std::make_shared<StreamBenchOptions>();
  CLI::App* stream = bench->add_subcommand(
      "stream", "Stream aggregation: NDJSON bytes -> committed window state, one thread");
  stream->add_option("--events", o->events, "Events")->capture_default_str();
  stream->add_option("--entities", o->entities, "Distinct entities")->capture_default_str();
  stream->add_option("--rate", o->events_per_s_event_time, "Events per second of event time")
      ->capture_default_str();
  stream->add_option("--data", o->data_dir, "Data directory (Default: a temp dir)");
  stream->add_option("--seed", o->seed, "Seed")->capture_default_str();
  stream->add_option("--checkpoint-ms", o->checkpoint_interval_ms, "Checkpoint period")
      ->capture_default_str();
  stream
      ->add_option("--checkpoint-records", o->checkpoint_records,
                   "Checkpoint after this many records")
      ->capture_default_str();
  stream->add_option("--chunk-bytes", o->chunk_bytes, "NDJSON bytes parsed and applied per batch")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  stream->callback([o] {
    auto result = RunStreamBench(*o);
    if (!result.ok()) throw CLI::RuntimeError(Fail(result.status()));
    fmt::print(
        "{} events over {} entities in {:.2f} s: {:.0f} events/s on one thread, "
        "peak RSS {:.0f} MiB (parse {:.2f} s, apply {:.2f} s, {} checkpoints {:.2f} s)\n",
        result->events, result->entities, result->seconds, result->events_per_s,
        static_cast<double>(result->peak_rss_bytes) / (1 << 20), result->parse_seconds,
        result->apply_seconds, result->checkpoints, result->checkpoint_seconds);
    fmt::print("{}\n", result->ToJson());
  });
}

}  // namespace freshet::cli
