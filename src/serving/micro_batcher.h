// MicroBatcher: dynamic micro-batching of one deployment's concurrent predict calls. Calls that
// arrive while a batch is open join it; the batch's first caller (its leader) waits for others
// at most `max_delay`, until `max_batch_rows` rows are collected, or until no announced caller
// is still on its way, then runs ONE ModelRuntime::Predict over all rows and hands every caller
// its own rows' outputs. There is no background thread: callers block in Predict() until their
// batch ran. Callers announce themselves (Announcement) before they prepare their rows, so a lone
// caller never waits: with nobody announced, the leader runs at once.
//
// A batch holds calls for one runtime (one model version) and one input width only; a call that
// does not fit the open batch (another runtime or width, or too many rows) runs on its own. A
// runtime error fails exactly the calls of its batch.
//
// Thread-safety: thread-safe; that is its purpose. The rows and output vectors given to
// Predict() must stay valid until it returns (they are, since it blocks).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/status.h"
#include "models/model_runtime.h"

namespace freshet {

class MicroBatcher {
 public:
  struct Options {
    size_t max_batch_rows = 64;  // >= 1; a call of this many rows or more runs alone
    std::chrono::microseconds max_delay{200};
  };

  // A caller on its way to Predict(): while it exists and has not been passed to Predict(), an
  // open batch's leader waits for it (up to max_delay). Create it before reading features; a
  // caller that fails before Predict() just destroys it. `batcher` may be null (no batching).
  class Announcement {
   public:
    explicit Announcement(MicroBatcher* batcher);
    ~Announcement();
    Announcement(const Announcement&) = delete;
    Announcement& operator=(const Announcement&) = delete;

   private:
    friend class MicroBatcher;
    MicroBatcher* batcher_;
  };

  explicit MicroBatcher(Options options);

  // Same contract as runtime->Predict(rows, n_rows, n_cols, out), possibly scored together with
  // other callers' rows. *out gets this call's outputs only. `announced`, when not null, is this
  // caller's Announcement, which ends here.
  Status Predict(const std::shared_ptr<const ModelRuntime>& runtime, const float* rows,
                 size_t n_rows, size_t n_cols, std::vector<float>* out,
                 Announcement* announced = nullptr);

  // How many runtime Predict calls this batcher has made so far.
  uint64_t model_calls() const { return model_calls_.load(std::memory_order_relaxed); }

 private:
  struct Call {
    const float* rows;
    size_t n_rows;
    std::vector<float>* out;
  };
  struct Batch {
    const ModelRuntime* runtime = nullptr;
    size_t n_cols = 0;
    size_t n_rows = 0;
    std::vector<Call> calls;
    bool done = false;
    Status status;
    std::condition_variable cv;  // waited on with mu_: closing (leader) and done (the others)
  };

  // Ends an announcement; mu_ held. Wakes the open batch's leader when nobody is on the way.
  void EndAnnouncementLocked(Announcement* a);

  // Runs a closed batch: one model call over the concatenated rows, outputs split back.
  Status Run(const Batch& batch);

  const Options options_;
  std::atomic<uint64_t> model_calls_{0};
  std::mutex mu_;
  std::shared_ptr<Batch> open_;  // the batch accepting calls, guarded by mu_
  size_t announced_ = 0;         // live announcements, guarded by mu_
};

}  // namespace freshet
