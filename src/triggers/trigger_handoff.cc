#include "triggers/trigger_handoff.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace freshet {

TriggerHandOff::TriggerHandOff(TriggerRouter* router) : router_(router) {
  thread_ = std::thread([this] { Run(); });
}

TriggerHandOff::~TriggerHandOff() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_one();
  thread_.join();
}

void TriggerHandOff::Hand(TriggeredJobs triggered) {
  if (triggered.jobs.empty()) return;
  {
    std::lock_guard lock(mu_);
    backlog_ += triggered.jobs.size();
    ++handed_count_;
    handed_.push_back(std::move(triggered));
  }
  work_cv_.notify_one();
}

size_t TriggerHandOff::Backlog() const {
  std::lock_guard lock(mu_);
  return backlog_;
}

void TriggerHandOff::Flush() {
  std::unique_lock lock(mu_);
  const uint64_t target = handed_count_;
  done_cv_.wait(lock, [&] { return done_count_ >= target; });
}

void TriggerHandOff::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return !handed_.empty() || stopping_; });
    if (handed_.empty()) return;  // stopping, and everything handed over is enqueued
    std::vector<TriggeredJobs> taken;
    taken.swap(handed_);
    lock.unlock();
    TriggeredJobs all = std::move(taken.front());
    for (size_t i = 1; i < taken.size(); ++i) all.Append(std::move(taken[i]));
    Status st = router_->Enqueue(all);
    if (!st.ok()) spdlog::error("{}", st.ToString());
    lock.lock();
    backlog_ -= all.jobs.size();
    done_count_ += taken.size();
    done_cv_.notify_all();
  }
}

}  // namespace freshet
