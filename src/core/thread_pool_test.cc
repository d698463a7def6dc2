#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

namespace freshet {
namespace {

TEST(ThreadPoolTest, RunsEveryIndexOnceAcrossThreads) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> runs(1000);
  std::mutex mu;
  std::set<std::thread::id> threads;
  Status st = pool.ParallelFor(runs.size(), 4, [&](size_t i) {
    runs[i]++;
    std::lock_guard lock(mu);
    threads.insert(std::this_thread::get_id());
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  for (const auto& r : runs) EXPECT_EQ(r.load(), 1);
  EXPECT_GE(threads.size(), 1u);
  EXPECT_LE(threads.size(), 4u);  // the caller and at most 3 helpers
}

TEST(ThreadPoolTest, ParallelismOneRunsOnTheCaller) {
  ThreadPool pool(2);
  const auto caller = std::this_thread::get_id();
  ASSERT_TRUE(pool.ParallelFor(50, 1,
                               [&](size_t) {
                                 EXPECT_EQ(std::this_thread::get_id(), caller);
                                 return Status::Ok();
                               })
                  .ok());
}

TEST(ThreadPoolTest, FirstErrorStopsNewWorkAndIsReturned) {
  ThreadPool pool(2);
  std::atomic<int> started{0};
  Status st = pool.ParallelFor(100000, 3, [&](size_t i) {
    started++;
    return i == 10 ? Status::IoError("disk gone at 10") : Status::Ok();
  });
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_EQ(st.message(), "disk gone at 10");
  EXPECT_LT(started.load(), 100000);
}

TEST(ThreadPoolTest, NestedCallsFromEveryWorkerDoNotDeadlock) {
  ThreadPool pool(2);
  std::atomic<int> leaves{0};
  Status st = pool.ParallelFor(8, 8, [&](size_t) {
    return pool.ParallelFor(16, 8, [&](size_t) {
      leaves++;
      return Status::Ok();
    });
  });
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(leaves.load(), 8 * 16);
}

TEST(ThreadPoolTest, SharedPoolHasAtLeastTwoThreads) {
  EXPECT_GE(ThreadPool::Shared()->size(), 2);
  EXPECT_EQ(ThreadPool::Shared(), ThreadPool::Shared());
}

}  // namespace
}  // namespace freshet
