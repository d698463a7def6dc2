// Google Benchmark micro-suite of the prediction queue (src/queue/job_queue.h): one job's whole
// life — Enqueue, Receive, Ack — on a real RocksDB in a temp directory, one job at a time and
// in batches (EnqueueBatch + one Receive + AckBatch), and with producer and consumer threads
// running concurrently; and a triggered prediction's jobs (BM_TriggeredPredictions).
// items_per_second is jobs through the queue (predictions in BM_TriggeredPredictions); a
// triggered prediction costs two (its predict job and one delivery job per sink).
// Run: build/bench/queue_micro_bench
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "queue/job_queue.h"
#include "storage/db.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

// A queue on a fresh data directory, removed afterwards.
class BenchQueue {
 public:
  BenchQueue() {
    std::string pattern = (fs::temp_directory_path() / "queue_micro_bench.XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    db_ = Take(Db::Open(dir_));
    queue_ = Take(JobQueue::Open(db_.get(), SystemClock::Default(), QueueOptions()));
  }
  ~BenchQueue() {
    queue_.reset();
    db_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  JobQueue* get() { return queue_.get(); }

 private:
  template <typename T>
  static T Take(Result<T> r) {
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      std::abort();
    }
    return std::move(r).value();
  }
  std::string dir_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<JobQueue> queue_;
};

void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "queue bench: %s failed\n", what);
    std::abort();
  }
}

// A payload the size of a predict job's (deployment, entity key, event reference).
const std::string kPayload(120, 'x');

void BM_EnqueueReceiveAck(benchmark::State& state) {
  BenchQueue q;
  const size_t batch = static_cast<size_t>(state.range(0));
  uint64_t next_id = 0;
  std::vector<JobSpec> jobs(batch);
  std::vector<Job> received;
  std::vector<std::pair<std::string, uint64_t>> acks;
  for (auto _ : state) {
    for (JobSpec& job : jobs)
      job = JobSpec{std::to_string(next_id++), "predict/m", "", kPayload, 0};
    if (batch == 1) {
      Require(q.get()->Enqueue(jobs[0]).ok(), "Enqueue");
    } else {
      Require(q.get()->EnqueueBatch(jobs).ok(), "EnqueueBatch");
    }
    received.clear();
    auto n = q.get()->Receive("predict/m", batch, 0, &received);
    Require(n.ok() && *n == batch, "Receive");
    if (batch == 1) {
      Require(q.get()->Ack(received[0].id, received[0].lease).ok(), "Ack");
    } else {
      acks.clear();
      for (const Job& j : received) acks.emplace_back(j.id, j.lease);
      Require(q.get()->AckBatch(acks).ok(), "AckBatch");
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}
BENCHMARK(BM_EnqueueReceiveAck)->Arg(1)->Arg(16)->Arg(128)->UseRealTime();

// The queue's part of `batch` triggered predictions, as the triggered path runs it: their
// predict jobs enqueued (ids as a trigger makes them), received, completed with one delivery
// each (a follow-up with a prediction record's size), the deliveries received and acked.
// items_per_second is predictions.
void BM_TriggeredPredictions(benchmark::State& state) {
  BenchQueue q;
  const size_t batch = static_cast<size_t>(state.range(0));
  const std::string record(400, 'r');
  uint64_t next_offset = 0;
  std::vector<JobSpec> jobs(batch), deliveries(batch);
  std::vector<Job> received;
  std::vector<std::pair<std::string, uint64_t>> acks;
  auto receive_all = [&](const char* queue) {
    received.clear();
    auto n = q.get()->Receive(queue, batch, 0, &received);
    Require(n.ok() && *n == batch, "Receive");
    acks.clear();
    for (const Job& j : received) acks.emplace_back(j.id, j.lease);
  };
  for (auto _ : state) {
    for (JobSpec& job : jobs) {
      job = JobSpec{"recommend/app_events/0/" + std::to_string(next_offset++), "predict/recommend",
                    "", kPayload, 0};
    }
    Require(q.get()->EnqueueBatch(jobs).ok(), "EnqueueBatch");
    receive_all("predict/recommend");
    for (size_t i = 0; i < batch; ++i) {
      deliveries[i] = JobSpec{received[i].id + "#0", "deliver/recommend/0", "", record, 0};
    }
    rocksdb::WriteBatch predictions;
    Require(q.get()->Complete(acks, deliveries, &predictions).ok(), "Complete");
    receive_all("deliver/recommend/0");
    Require(q.get()->AckBatch(acks).ok(), "AckBatch");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}
BENCHMARK(BM_TriggeredPredictions)->Arg(64)->UseRealTime();

// One producer thread enqueueing one job per call (as a trigger does per event) and one
// consumer thread receiving up to 64 and acking them in one batch (as a worker does).
void BM_ProducerConsumer(benchmark::State& state) {
  BenchQueue q;
  constexpr int kJobs = 20'000;
  uint64_t next_id = 0;  // written by the producer thread only
  for (auto _ : state) {
    std::thread producer([&] {
      for (int i = 0; i < kJobs; ++i) {
        Require(
            q.get()->Enqueue(JobSpec{std::to_string(next_id++), "predict/m", "", kPayload, 0}).ok(),
            "Enqueue");
      }
    });
    int done = 0;
    std::vector<Job> received;
    std::vector<std::pair<std::string, uint64_t>> acks;
    while (done < kJobs) {
      received.clear();
      auto n = q.get()->Receive("predict/m", 64, 100, &received);
      Require(n.ok(), "Receive");
      acks.clear();
      for (const Job& j : received) acks.emplace_back(j.id, j.lease);
      if (!acks.empty()) Require(q.get()->AckBatch(acks).ok(), "AckBatch");
      done += static_cast<int>(received.size());
    }
    producer.join();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kJobs);
}
BENCHMARK(BM_ProducerConsumer)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace freshet

BENCHMARK_MAIN();
