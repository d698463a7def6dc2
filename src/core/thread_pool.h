// ThreadPool: a fixed set of worker threads shared by the parts of the process that run work in
// parallel (backfill partitions, event-file parsing), instead of threads made per call.
//
//   Status st = ThreadPool::Shared()->ParallelFor(n, /*parallelism=*/4, [&](size_t i) {
//     return Work(i);
//   });
//
// ParallelFor runs on the calling thread too and never waits for a task that has not started,
// so it may be called from inside a pool task (nested) without deadlock, and from many threads
// at once. Thread-safety: all methods are thread-safe. The destructor finishes queued tasks
// and joins the workers.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/status.h"

namespace freshet {

class ThreadPool {
 public:
  // REQUIRES: threads >= 1.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // The process-wide pool, with one thread per core (at least 2), created on first use.
  static ThreadPool* Shared();

  int size() const { return static_cast<int>(workers_.size()); }

  // Runs fn(0) .. fn(n - 1), on the calling thread and up to `parallelism - 1` pool threads,
  // and returns once every started call has returned. After the first error no new index is
  // started; returns that error (the lowest-numbered worker's when several fail).
  Status ParallelFor(size_t n, int parallelism, const std::function<Status(size_t)>& fn);

 private:
  void Submit(std::function<void()> task);
  void WorkerLoop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace freshet
