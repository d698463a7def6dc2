#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <memory>

namespace freshet {

ThreadPool::ThreadPool(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

ThreadPool* ThreadPool::Shared() {
  static ThreadPool pool(std::max(2, static_cast<int>(std::thread::hardware_concurrency())));
  return &pool;
}

void ThreadPool::Submit(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void ThreadPool::WorkerLoop() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

Status ThreadPool::ParallelFor(size_t n, int parallelism, const std::function<Status(size_t)>& fn) {
  if (n == 0) return Status::Ok();
  const size_t helpers = std::min<size_t>(std::max(1, parallelism), n) - 1;
  // Shared with the helper tasks, which may start after this call returned (then they find it
  // closed and return at once).
  struct Run {
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex mu;
    std::condition_variable done;
    bool closed = false;
    size_t active = 0;
    std::vector<Status> status;
  };
  auto run = std::make_shared<Run>();
  run->status.resize(helpers + 1);
  auto loop = [run, &fn, n](size_t slot) {
    for (size_t i; !run->failed.load() && (i = run->next.fetch_add(1)) < n;) {
      Status st = fn(i);
      if (!st.ok()) {
        run->status[slot] = std::move(st);
        run->failed = true;
      }
    }
  };
  for (size_t h = 1; h <= helpers; ++h) {
    Submit([run, loop, h] {
      {
        std::lock_guard lock(run->mu);
        if (run->closed) return;
        ++run->active;
      }
      loop(h);
      std::lock_guard lock(run->mu);
      if (--run->active == 0) run->done.notify_all();
    });
  }
  loop(0);
  std::unique_lock lock(run->mu);
  run->closed = true;
  run->done.wait(lock, [&] { return run->active == 0; });
  for (Status& st : run->status) RETURN_IF_ERROR(st);
  return Status::Ok();
}

}  // namespace freshet
