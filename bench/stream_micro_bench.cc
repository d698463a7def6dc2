// Google Benchmark micro-suite of the hot paths behind `freshet bench stream`: NDJSON parsing,
// window-state inserts, feature reads and a whole engine micro-batch with a checkpoint.
// Run: build/bench/stream_micro_bench
#include <benchmark/benchmark.h>

#include <filesystem>

#include "bench/stream_bench.h"
#include "format/record_parser.h"
#include "spec/spec_loader.h"
#include "storage/db.h"
#include "stream/compiled_view.h"
#include "stream/engine.h"
#include "stream/rocksdb_state_backend.h"

namespace freshet {
namespace {

const ProjectSpec& Spec() {
  static const ProjectSpec spec = *ParseProject(StreamBenchSpecYaml(), "bench/freshet.yaml");
  return spec;
}

std::string Ndjson(int n, int users) { return StreamBenchNdjson(n, users); }

std::vector<Record> Records(int n, int users) {
  RecordParser parser(Spec().sources.at("events"), RequiredFields(Spec(), "events"));
  std::vector<Record> records;
  (void)parser.Parse(Ndjson(n, users), &records);
  return records;
}

void BM_ParseNdjson(benchmark::State& state) {
  const std::string body = Ndjson(10'000, 1000);
  RecordParser parser(Spec().sources.at("events"), RequiredFields(Spec(), "events"));
  std::vector<Record> out;  // reused across batches, as the engine's readers do
  for (auto _ : state) {
    benchmark::DoNotOptimize(parser.Parse(body, &out));
  }
  state.SetItemsProcessed(state.iterations() * 10'000);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_ParseNdjson);

void BM_EntityStateInsert(benchmark::State& state) {
  auto view = *CompiledView::Compile(Spec(), Spec().feature_views.at("activity"));
  const std::vector<Record> records = Records(10'000, 1);
  for (auto _ : state) {
    auto entity = view->NewState();
    for (const Record& r : records) entity->Insert(r);
    benchmark::DoNotOptimize(entity->last_event_ms());
  }
  state.SetItemsProcessed(state.iterations() * 10'000);
}
BENCHMARK(BM_EntityStateInsert);

// Reading all five features of an entity holding `range(0)` events in its windows.
void BM_EntityStateRead(benchmark::State& state) {
  auto view = *CompiledView::Compile(Spec(), Spec().feature_views.at("activity"));
  auto entity = view->NewState();
  const std::vector<Record> records = Records(static_cast<int>(state.range(0)), 1);
  for (const Record& r : records) entity->Insert(r);
  const int64_t t = records.back().ts_ms + 1;
  std::vector<Value> out;
  for (auto _ : state) {
    out.clear();
    entity->Read(t, {}, &out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_EntityStateRead)->Arg(10)->Arg(100)->Arg(1000);

// One engine micro-batch of 10K events over 100K entities, then a RocksDB checkpoint.
void BM_EngineApplyAndCheckpoint(benchmark::State& state) {
  const std::string dir = (std::filesystem::temp_directory_path() / "freshet_micro_bench").string();
  std::filesystem::remove_all(dir);
  auto db = std::move(Db::Open(dir)).value();
  RocksDbStateBackend backend(db.get());
  auto engine = std::move(StreamEngine::Create(Spec(), &backend, SystemClock::Default())).value();
  const std::vector<Record> records = Records(10'000, 100'000);
  uint64_t offset = 0;
  for (auto _ : state) {
    std::vector<Record> batch = records;
    for (Record& r : batch) r.ts_ms += static_cast<int64_t>(offset) * 50;
    (void)engine->Apply("events", offset, batch);
    (void)engine->Checkpoint();
    offset += batch.size();
  }
  state.SetItemsProcessed(state.iterations() * 10'000);
  engine.reset();
  db.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_EngineApplyAndCheckpoint)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace freshet

BENCHMARK_MAIN();
