#include "serving/micro_batcher.h"

#include <fmt/format.h>

#include <algorithm>

namespace freshet {

MicroBatcher::Announcement::Announcement(MicroBatcher* batcher) : batcher_(batcher) {
  if (batcher_ == nullptr) return;
  std::lock_guard<std::mutex> lock(batcher_->mu_);
  ++batcher_->announced_;
}

MicroBatcher::Announcement::~Announcement() {
  if (batcher_ == nullptr) return;
  std::lock_guard<std::mutex> lock(batcher_->mu_);
  batcher_->EndAnnouncementLocked(this);
}

void MicroBatcher::EndAnnouncementLocked(Announcement* a) {
  if (a == nullptr || a->batcher_ != this) return;
  a->batcher_ = nullptr;
  if (--announced_ == 0 && open_ != nullptr) open_->cv.notify_all();
}

MicroBatcher::MicroBatcher(Options options) : options_(options) {}

Status MicroBatcher::Predict(const std::shared_ptr<const ModelRuntime>& runtime, const float* rows,
                             size_t n_rows, size_t n_cols, std::vector<float>* out,
                             Announcement* announced) {
  auto alone = [&] {
    model_calls_.fetch_add(1, std::memory_order_relaxed);
    return runtime->Predict(rows, n_rows, n_cols, out);
  };
  std::unique_lock<std::mutex> lock(mu_);
  EndAnnouncementLocked(announced);
  if (n_rows == 0 || n_rows >= options_.max_batch_rows) {
    lock.unlock();
    return alone();
  }
  if (open_ != nullptr) {
    std::shared_ptr<Batch> batch = open_;
    if (batch->runtime != runtime.get() || batch->n_cols != n_cols ||
        batch->n_rows + n_rows > options_.max_batch_rows) {
      lock.unlock();
      return alone();
    }
    batch->calls.push_back({rows, n_rows, out});
    batch->n_rows += n_rows;
    if (batch->n_rows >= options_.max_batch_rows) {
      open_.reset();  // full: wake the leader now
      batch->cv.notify_all();
    }
    batch->cv.wait(lock, [&] { return batch->done; });
    return batch->status;
  }

  // Leader: open a batch, wait for others, close it and run it.
  auto batch = std::make_shared<Batch>();
  batch->runtime = runtime.get();
  batch->n_cols = n_cols;
  batch->n_rows = n_rows;
  batch->calls.push_back({rows, n_rows, out});
  open_ = batch;
  batch->cv.wait_for(lock, options_.max_delay, [&] { return open_ != batch || announced_ == 0; });
  if (open_ == batch) open_.reset();
  lock.unlock();
  // Closed: nobody else touches batch->calls now.
  Status status = Run(*batch);
  lock.lock();
  batch->status = status;
  batch->done = true;
  batch->cv.notify_all();
  return status;
}

Status MicroBatcher::Run(const Batch& batch) {
  model_calls_.fetch_add(1, std::memory_order_relaxed);
  if (batch.calls.size() == 1) {
    const Call& c = batch.calls.front();
    return batch.runtime->Predict(c.rows, c.n_rows, batch.n_cols, c.out);
  }
  std::vector<float> input;
  input.reserve(batch.n_rows * batch.n_cols);
  for (const Call& c : batch.calls) {
    input.insert(input.end(), c.rows, c.rows + c.n_rows * batch.n_cols);
  }
  std::vector<float> scores;
  RETURN_IF_ERROR(batch.runtime->Predict(input.data(), batch.n_rows, batch.n_cols, &scores));
  if (scores.size() % batch.n_rows != 0) {
    return Status::Internal(
        fmt::format("model returned {} outputs for {} rows", scores.size(), batch.n_rows));
  }
  const size_t per_row = scores.size() / batch.n_rows;
  auto from = scores.begin();
  for (const Call& c : batch.calls) {
    auto to = from + static_cast<std::ptrdiff_t>(c.n_rows * per_row);
    c.out->assign(from, to);
    from = to;
  }
  return Status::Ok();
}

}  // namespace freshet
