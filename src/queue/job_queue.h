// JobQueue: the durable prediction queue, with SQS semantics, embedded in the data directory's
// `queue` column family (docs/formats.md). Producers enqueue jobs under an idempotency id into a
// named logical queue ("predict/recommend", "deliver/recommend/0"); consumers receive them under
// a lease, then Ack (done) or Nack (retry after backoff, or the dead letter after max_attempts).
//
// Durability: Enqueue, Ack, Nack and the dead-letter operations have written RocksDB's WAL when
// they return (not fsync'd: a job survives kill -9 of the process, not a power cut). Receive
// writes nothing: a lease lives in memory only, so after a crash every job not acked is visible
// again (at-least-once), with the receive_count last persisted (by a Nack or a timeout).
// Memory holds the index (per queue: ready and delayed heaps, in-flight leases, dead letter);
// acked ids are kept in RocksDB only, for done_retention_ms; then compactions drop them
// (Db::SetExpiry), so remembering an id costs one put and its expiry no write at all.
//
// Visibility timeouts are enforced without a thread: a Receive or Stats of a queue first
// returns its expired leases to ready (or the dead letter). An Ack of an expired lease is still
// accepted until the job has been received again.
//
// Thread-safety: all methods are thread-safe; many producers and consumers. Enqueue, Ack and
// Complete write with the queue's lock released (each job they add, coalesce into or remove is
// marked meanwhile: not receivable, not a coalescing target, its lease not ackable), so
// consumers receive and other writers stage while a batch is written. An id a failed write
// would have added counts as known (kDuplicate) to an Enqueue racing that write. `db` and `clock`
// must outlive the queue. Before destroying it, Shutdown() and join every thread blocked in
// Receive.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "storage/db.h"

namespace freshet {

struct QueueOptions {
  // Bound on jobs held (ready + delayed + in flight, all queues; the dead letter is not
  // counted); an Enqueue beyond it gets kResourceExhausted (Complete's follow-ups excepted).
  // Default: 1,000,000.
  size_t max_jobs = 1'000'000;
  // A received job not acked by then is visible again. Default: 30 s.
  int64_t visibility_timeout_ms = 30'000;
  // A job received this many times without Ack goes to the dead letter on its next failure or
  // timeout. Default: 5.
  int max_attempts = 5;
  // Queues whose name starts with a key take its max attempts instead (the longest matching
  // key wins), e.g. {"deliver/", 20}: deliveries to a destination that is down keep retrying
  // (at backoff_max_ms) longer than model calls do. Default: none.
  std::map<std::string, int> max_attempts_by_prefix;
  // Nack: visible again after backoff_base_ms * 2^(receive_count-1), at most backoff_max_ms.
  // Defaults: 100 ms, 30 s.
  int64_t backoff_base_ms = 100;
  int64_t backoff_max_ms = 30'000;
  // Acked ids are remembered this long, so re-enqueueing a done id is a no-op. Default: 24 h.
  int64_t done_retention_ms = 24LL * 3600 * 1000;
};

// What a producer enqueues.
struct JobSpec {
  std::string id;            // idempotency id, unique across the queue; required
  std::string queue;         // logical queue name; required
  std::string coalesce_key;  // optional: see EnqueueOrCoalesce
  std::string payload;       // opaque bytes
  int64_t delay_ms = 0;      // not visible before now + delay_ms (debounce)
};

// What a consumer receives (and what ListDead lists).
struct Job {
  std::string id, queue, payload;
  int64_t enqueued_ms = 0;  // first enqueue time (epoch ms, from the Clock)
  int receive_count = 0;    // including this receive
  std::string last_error;   // from the last Nack (or the visibility timeout)
  // Receipt handle: Ack/Nack must pass it. A stale lease (the job timed out and was received
  // again) is refused with kFailedPrecondition. 0 in ListDead.
  uint64_t lease = 0;
  int64_t dead_ms = 0;  // when it went to the dead letter (ListDead only)
};

enum class EnqueueResult {
  kAdded,
  kDuplicate,  // the id is known: pending, in flight, done (within retention) or dead
  kCoalesced,  // EnqueueOrCoalesce replaced a pending job's payload
};

class JobQueue {
 public:
  // Loads pending and dead jobs from `db`: every job not acked before a crash is visible again
  // (a delayed or backed-off one at its persisted visible time), receive_count kept as last
  // persisted. Acked ids older than done_retention_ms are forgotten. kInvalidArgument for options
  // out of range (non-positive limits), kIoError/kInternal when the column family cannot be read.
  static Result<std::unique_ptr<JobQueue>> Open(Db* db, const Clock* clock,
                                                const QueueOptions& options);
  ~JobQueue();
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  // Durable when it returns. The batch form writes one RocksDB WriteBatch and returns one result
  // per job (an id repeated within the batch is kDuplicate after its first occurrence).
  // kResourceExhausted "prediction queue is full (N jobs held, limit M)" when the jobs to add
  // would exceed max_jobs (then nothing of the batch is added); kInvalidArgument for an empty id
  // or queue (then nothing of the batch is added either).
  Result<EnqueueResult> Enqueue(const JobSpec& job);
  Result<std::vector<EnqueueResult>> EnqueueBatch(const std::vector<JobSpec>& jobs);
  // Debounce: when a job with the same (queue, coalesce_key) is pending and not yet received,
  // replaces its payload with job.payload (keeping its id, enqueue time and visible time) and
  // returns kCoalesced; otherwise behaves as Enqueue. An empty coalesce_key never coalesces.
  Result<EnqueueResult> EnqueueOrCoalesce(const JobSpec& job);
  Result<std::vector<EnqueueResult>> EnqueueOrCoalesceBatch(const std::vector<JobSpec>& jobs);

  // Waits up to wait_ms (long poll, woken by Enqueue, Nack, replays and timeouts) for visible
  // jobs of `queue`; appends up to `max` of them to `out`, oldest visible first, each under a
  // new lease valid for visibility_timeout_ms. Returns the count appended (0 on timeout or
  // Shutdown).
  Result<size_t> Receive(const std::string& queue, size_t max, int64_t wait_ms,
                         std::vector<Job>* out);

  // Done: the job is removed and its id remembered (a Complete follow-up's is not). kNotFound for
  // an id not in flight (unknown, already acked, pending, dead); kFailedPrecondition for a stale
  // lease.
  Status Ack(const std::string& id, uint64_t lease);
  // Acks every job of `jobs` whose lease is current, in one WriteBatch; returns the first
  // refusal (with how many were refused), the others acked all the same.
  Status AckBatch(const std::vector<std::pair<std::string, uint64_t>>& jobs);
  // Acks every job of `acks` and enqueues `follow_ups` in one atomic RocksDB write together with
  // the caller's writes in `with` (e.g. the predictions the jobs made): after a crash either all of
  // it is there or none, and the jobs are visible again. The follow-ups are never refused for
  // max_jobs: they carry on work the queue admitted already (a prediction's deliveries); refusing
  // them would hold the admitted jobs forever once the queue is full, as nothing could drain it. So
  // max_jobs may be exceeded by the follow-ups of the jobs in flight. Nor are follow-ups checked
  // against the acked ids, or remembered once acked: they come into being only here, atomically
  // with the ack of the jobs they carry on, which are remembered; so their ids, derived from
  // those jobs' (e.g. "<job id>#<output>"), cannot be enqueued by Complete again, and an ack costs
  // them a delete only. All or nothing otherwise: a lease refused (as by Ack), an invalid
  // follow-up or a failed write changes nothing and is returned. `with` is consumed.
  Status Complete(const std::vector<std::pair<std::string, uint64_t>>& acks,
                  const std::vector<JobSpec>& follow_ups, rocksdb::WriteBatch* with);
  // A failed attempt: visible again after the backoff, or to the dead letter when
  // receive_count >= max_attempts. `error` is kept as last_error. Errors as Ack.
  Status Nack(const std::string& id, uint64_t lease, std::string_view error);

  // Dead letter. `queue` empty means every queue.
  // Up to `limit` dead jobs, oldest (by dead_ms) first.
  Result<std::vector<Job>> ListDead(const std::string& queue, size_t limit) const;
  // Back to ready with receive_count 0: every dead job of `queue`, or only `id` (kNotFound when
  // it is not dead, or not in `queue`). kResourceExhausted (nothing replayed) when max_jobs
  // would be exceeded. Returns how many.
  Result<size_t> ReplayDead(const std::string& queue, const std::string& id = "");
  // Deletes the dead jobs of `queue` (of every queue when empty); their ids are forgotten, so
  // they may be enqueued again. Returns how many.
  Result<size_t> PurgeDead(const std::string& queue);

  struct QueueStats {
    std::string queue;
    size_t ready = 0, delayed = 0, in_flight = 0, dead = 0;
    int64_t oldest_age_ms = 0;  // now - enqueued_ms of the oldest job held; 0 when none
    // Since Open: Nacks and timeouts that made a job visible again, jobs sent to the dead
    // letter, EnqueueOrCoalesce calls that coalesced.
    uint64_t retries = 0, dead_lettered = 0, coalesced = 0;
  };
  // Per queue known since Open, sorted by name. Expires leases first.
  std::vector<QueueStats> Stats() const;
  // Jobs held (ready + delayed + in flight) and max_jobs.
  size_t held() const;
  size_t capacity() const;

  // Wakes every Receive, which then returns 0, as do later ones. Other methods keep working.
  void Shutdown();

 private:
  class Impl;
  explicit JobQueue(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace freshet
