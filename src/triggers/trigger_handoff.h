// TriggerHandOff: enqueues triggered predict jobs on a thread of its own, so the queue's write
// (and its lock, shared with the predict workers' completions) is off the ingest
// acknowledgement path. The commit hook hands over the jobs of each applied batch
// (TriggerRouter::JobsOf) and returns; the thread enqueues everything handed over so far in one
// TriggerRouter::Enqueue, in hand-over order, so coalescing sees the events in order.
//
// Durability: an acknowledged event's jobs may still be in memory here. They are not lost by a
// crash as long as no checkpoint has passed their records: the replay at the next start
// triggers them again. So whatever commits the engine's progress calls Flush first
// (EngineOptions::before_checkpoint). A failed enqueue is logged and counted
// (TriggerProbe::EnqueueFailed), as a failed synchronous one would be.
//
// Thread-safety: Hand, Backlog and Flush may be called from any thread. The destructor
// enqueues what is left, then joins the thread. `router` must outlive the hand-off.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "triggers/trigger_router.h"

namespace freshet {

class TriggerHandOff {
 public:
  explicit TriggerHandOff(TriggerRouter* router);
  ~TriggerHandOff();
  TriggerHandOff(const TriggerHandOff&) = delete;
  TriggerHandOff& operator=(const TriggerHandOff&) = delete;

  // Queues `triggered` for the thread; never blocks on the queue's write.
  void Hand(TriggeredJobs triggered);
  // Jobs handed over and not yet enqueued (or failed).
  size_t Backlog() const;
  // Returns once every job handed over before the call is enqueued (or its failure logged).
  void Flush();

 private:
  void Run();

  TriggerRouter* const router_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;   // the thread waits for hand-overs
  std::condition_variable done_cv_;   // Flush waits for the thread
  std::vector<TriggeredJobs> handed_; // guarded by mu_
  size_t backlog_ = 0;                // jobs in handed_ and being enqueued; guarded by mu_
  uint64_t handed_count_ = 0;         // hand-overs so far; guarded by mu_
  uint64_t done_count_ = 0;           // hand-overs enqueued (or failed); guarded by mu_
  bool stopping_ = false;             // guarded by mu_
  std::thread thread_;
};

}  // namespace freshet
