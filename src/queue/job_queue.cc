#include "queue/job_queue.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <queue>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/byte_codec.h"
#include "core/int_math.h"

namespace freshet {
namespace {

// Key prefixes in the `queue` column family (docs/formats.md): part of the on-disk format.
constexpr char kJobPrefix = 'j';   // 'j' + id -> JobRecord
constexpr char kDonePrefix = 'd';  // 'd' + id -> signed varint done_ms
// Written by earlier versions: 't' + big-endian done_ms + id -> "" (the acked ids in expiry
// order); deleted when the queue is opened, compactions now drop expired done records.
constexpr char kDoneTimePrefix = 't';
// Format 2 adds a flags byte after the state; format 1 records (no flags) are still read.
constexpr uint8_t kJobFormat1 = 1;
constexpr uint8_t kJobFormat = 2;
constexpr uint8_t kFollowUpFlag = 1;  // enqueued by Complete: acked without a done marker

// A job's persisted state. Values part of the on-disk format: never renumber.
enum class Persisted : uint8_t { kPending = 0, kDead = 1 };

struct JobRecord {
  Persisted state = Persisted::kPending;
  std::string queue, coalesce_key, payload, last_error;
  int64_t enqueued_ms = 0, visible_ms = 0, dead_ms = 0;
  int receive_count = 0;
  bool follow_up = false;  // see JobQueue::Complete
};

std::string JobKey(std::string_view id) {
  std::string key(1, kJobPrefix);
  key.append(id);
  return key;
}

std::string DoneKey(std::string_view id) {
  std::string key(1, kDonePrefix);
  key.append(id);
  return key;
}

std::string EncodeJob(const JobRecord& r) {
  std::string out;
  out.reserve(32 + r.queue.size() + r.coalesce_key.size() + r.payload.size() + r.last_error.size());
  out.push_back(static_cast<char>(kJobFormat));
  out.push_back(static_cast<char>(r.state));
  out.push_back(static_cast<char>(r.follow_up ? kFollowUpFlag : 0));
  byte_codec::PutBytes(&out, r.queue);
  byte_codec::PutBytes(&out, r.coalesce_key);
  byte_codec::PutBytes(&out, r.payload);
  byte_codec::PutBytes(&out, r.last_error);
  byte_codec::PutSigned(&out, r.enqueued_ms);
  byte_codec::PutSigned(&out, r.visible_ms);
  byte_codec::PutSigned(&out, r.dead_ms);
  byte_codec::PutVarint(&out, static_cast<uint64_t>(r.receive_count));
  return out;
}

bool DecodeJob(std::string_view in, JobRecord* r) {
  byte_codec::ByteReader reader(in);
  uint8_t format, state, flags = 0;
  std::string_view queue, coalesce_key, payload, last_error;
  uint64_t receive_count;
  if (!reader.GetByte(&format) || (format != kJobFormat && format != kJobFormat1) ||
      !reader.GetByte(&state) || state > static_cast<uint8_t>(Persisted::kDead) ||
      (format == kJobFormat && (!reader.GetByte(&flags) || flags > kFollowUpFlag)) ||
      !reader.GetBytes(&queue) || !reader.GetBytes(&coalesce_key) || !reader.GetBytes(&payload) ||
      !reader.GetBytes(&last_error) || !reader.GetSigned(&r->enqueued_ms) ||
      !reader.GetSigned(&r->visible_ms) || !reader.GetSigned(&r->dead_ms) ||
      !reader.GetVarint(&receive_count) || receive_count > 1'000'000'000 || !reader.empty()) {
    return false;
  }
  r->state = static_cast<Persisted>(state);
  r->queue = queue;
  r->coalesce_key = coalesce_key;
  r->payload = payload;
  r->last_error = last_error;
  r->receive_count = static_cast<int>(receive_count);
  r->follow_up = (flags & kFollowUpFlag) != 0;
  return true;
}

std::optional<int64_t> DecodeDone(std::string_view in) {
  byte_codec::ByteReader reader(in);
  int64_t done_ms;
  if (!reader.GetSigned(&done_ms) || !reader.empty()) return std::nullopt;
  return done_ms;
}

Status ValidateOptions(const QueueOptions& o) {
  if (o.max_jobs == 0) return Status::InvalidArgument("queue max_jobs must be positive");
  if (o.visibility_timeout_ms <= 0) {
    return Status::InvalidArgument("queue visibility_timeout_ms must be positive");
  }
  if (o.max_attempts < 1) return Status::InvalidArgument("queue max_attempts must be >= 1");
  for (const auto& [prefix, attempts] : o.max_attempts_by_prefix) {
    if (attempts < 1) {
      return Status::InvalidArgument("queue max_attempts for '" + prefix + "' must be >= 1");
    }
  }
  if (o.backoff_base_ms < 0 || o.backoff_max_ms < o.backoff_base_ms) {
    return Status::InvalidArgument(
        "queue backoff must satisfy 0 <= backoff_base_ms <= backoff_max_ms");
  }
  if (o.done_retention_ms < 0) {
    return Status::InvalidArgument("queue done_retention_ms must be >= 0");
  }
  return Status::Ok();
}

}  // namespace

class JobQueue::Impl {
 public:
  Impl(Db* db, const Clock* clock, const QueueOptions& options)
      : db_(db), clock_(clock), options_(options) {}

  Status Load();
  Result<std::vector<EnqueueResult>> Enqueue(const std::vector<JobSpec>& jobs, bool coalesce);
  Result<size_t> Receive(const std::string& queue, size_t max, int64_t wait_ms,
                         std::vector<Job>* out);
  Status Ack(const std::vector<std::pair<std::string, uint64_t>>& jobs);
  Status Complete(const std::vector<std::pair<std::string, uint64_t>>& acks,
                  const std::vector<JobSpec>& follow_ups, rocksdb::WriteBatch* with);
  Status Nack(const std::string& id, uint64_t lease, std::string_view error);
  Result<std::vector<Job>> ListDead(const std::string& queue, size_t limit);
  Result<size_t> ReplayDead(const std::string& queue, const std::string& id);
  Result<size_t> PurgeDead(const std::string& queue);
  std::vector<QueueStats> Stats();
  size_t held() {
    std::lock_guard lock(mu_);
    return held_;
  }
  const QueueOptions& options() const { return options_; }
  void Shutdown();

 private:
  struct QueueState;
  struct Entry {
    std::string id;
    JobRecord rec;
    QueueState* q = nullptr;
    uint64_t seq = 0;  // enqueue order: breaks ties between equal times
    bool in_flight = false;
    uint64_t lease = 0;
    int64_t lease_deadline_ms = 0;
    // A write of this job's record is under way outside mu_ (an Enqueue adding it or coalescing
    // into it, an Ack or Complete removing it): until it lands, Receive skips the job, no
    // Enqueue coalesces into it, and FindLeased refuses it.
    bool writing = false;
  };
  // Heap items: ordered by time, then enqueue order.
  struct TimedRef {
    int64_t at_ms;
    uint64_t seq;
    Entry* entry;
    bool operator>(const TimedRef& o) const {
      return at_ms != o.at_ms ? at_ms > o.at_ms : seq > o.seq;
    }
  };
  using MinHeap = std::priority_queue<TimedRef, std::vector<TimedRef>, std::greater<TimedRef>>;
  using TimeSeq = std::pair<int64_t, uint64_t>;
  struct QueueState {
    std::string name;
    // Each pending job is in exactly one of ready (visible_ms <= the last promotion's now) and
    // delayed, both by visible_ms; no job leaves them except from the top.
    MinHeap ready, delayed;
    std::map<TimeSeq, Entry*> in_flight;  // by (lease deadline, lease)
    std::map<TimeSeq, Entry*> dead;       // by (dead_ms, seq)
    std::set<TimeSeq> held_by_age;        // (enqueued_ms, seq) of ready, delayed, in flight
    // Pending jobs never received, by coalesce key (the latest enqueued under it).
    std::unordered_map<std::string, Entry*> coalescable;
    std::condition_variable cv;  // Receive waits here, with mu_
    uint64_t retries = 0, dead_lettered = 0, coalesced = 0;
  };

  // An Enqueue's jobs, written to a batch and entered into the index once it is written.
  struct StagedEnqueue {
    std::vector<EnqueueResult> results;
    std::vector<std::unique_ptr<Entry>> entries;   // the jobs added, until Reserve
    std::vector<Entry*> added;                     // the same jobs, from Reserve on
    std::map<Entry*, std::string_view> coalesced;  // pending jobs taking a new payload
  };
  // An Ack's jobs, likewise; `refused` of them could not be acked.
  struct StagedAck {
    std::vector<Entry*> acked;
    size_t refused = 0;
    Status first_refusal;
  };

  static Status CheckSpecs(const std::vector<JobSpec>& jobs);
  // Wakes the consumers of `touched` after `added` jobs were added (no lock needed).
  static void Wake(const std::set<QueueState*>& touched, size_t added);

  // Writes `batch` with mu_ released (`lock` holds it before and after), then, with it held
  // again, settles the staged changes: applied when the write succeeded, undone otherwise.
  // So writes of different jobs land concurrently, and what waits on mu_ (Receive, the next
  // staging) does not wait for the disk. Returns the write's status.
  Status WriteUnlocked(std::unique_lock<std::mutex>& lock, rocksdb::WriteBatch* batch,
                       StagedAck* ack, const std::vector<JobSpec>* jobs, StagedEnqueue* enqueue,
                       std::set<QueueState*>* touched);

  // All below: REQUIRES mu_ held.
  // Enqueue in three steps: the writes into `batch` (nothing changes in memory; refused as
  // Enqueue documents); Reserve: the jobs added enter the index as `writing` (their ids taken,
  // counted as held, not yet receivable), as do the jobs coalesced into; once the batch is
  // written, Apply (or Undo after a failed write). `follow_ups`: Complete's (never refused for
  // max_jobs, not checked against the done ids, acked without a done marker). `jobs` must live
  // until Apply.
  Status StageEnqueue(const std::vector<JobSpec>& jobs, bool coalesce, bool follow_ups, int64_t now,
                      StagedEnqueue* staged, rocksdb::WriteBatch* batch);
  void ReserveEnqueue(StagedEnqueue* staged);
  std::set<QueueState*> ApplyEnqueue(const std::vector<JobSpec>& jobs, StagedEnqueue* staged,
                                     int64_t now);
  void UndoEnqueue(StagedEnqueue* staged);
  // Ack likewise: Reserve takes the jobs out of their leases' timeouts as `writing`.
  Status StageAck(const std::vector<std::pair<std::string, uint64_t>>& jobs, int64_t now,
                  StagedAck* staged, rocksdb::WriteBatch* batch);
  void ReserveAck(const StagedAck& staged);
  void ApplyAck(const StagedAck& staged);
  void UndoAck(const StagedAck& staged);
  static Status RefusalOf(const StagedAck& staged, size_t jobs);
  QueueState& StateOf(const std::string& queue);
  // Per job of `jobs`: whether its id was acked within done_retention_ms (one batched read).
  Result<std::vector<bool>> AreDone(const std::vector<JobSpec>& jobs, int64_t now);
  // Enters a pending job (rec.state kPending) into its queue's ready or delayed heap.
  void Schedule(Entry* e, int64_t now);
  void PromoteDue(QueueState& q, int64_t now);
  void ExpireLeases(QueueState& q, int64_t now);
  // The max attempts of queue `name` (QueueOptions::max_attempts_by_prefix, else max_attempts).
  int MaxAttempts(const std::string& name) const;
  // Moves a job just taken out of ready, delayed or in flight to the dead letter: ToDead marks
  // it dead at `now`, EnterDead takes a record already marked.
  void ToDead(Entry* e, int64_t now);
  void EnterDead(Entry* e);
  void ReleaseHeld(Entry* e);
  void TrackHeld(Entry* e);
  Result<Entry*> FindLeased(const std::string& id, uint64_t lease, int64_t now);
  void PutDone(const std::string& id, int64_t now, rocksdb::WriteBatch* batch);
  // Done records acked at or before now - done_retention_ms are expired: IsDone ignores them,
  // and compactions of the queue's column family drop them (Db::SetExpiry).
  void AdvanceExpiry(int64_t now);
  // Deletes the done-index keys (kDoneTimePrefix) earlier versions wrote.
  Status DeleteDoneIndex();
  std::vector<Entry*> DeadOf(const std::string& queue);
  static Job ToJob(const Entry& e);

  Db* const db_;
  const Clock* const clock_;
  const QueueOptions options_;

  std::mutex mu_;
  // Every pending, in-flight and dead job, by id; the queue states point into it.
  std::unordered_map<std::string, std::unique_ptr<Entry>> jobs_;
  std::map<std::string, std::unique_ptr<QueueState>, std::less<>> queues_;
  size_t held_ = 0;
  uint64_t next_seq_ = 1;
  uint64_t next_lease_ = 1;
  bool shutdown_ = false;
  // done_ms at or before which a done record is expired; shared with the queue column family's
  // expiry rule, which may outlive the queue.
  std::shared_ptr<std::atomic<int64_t>> expired_through_ =
      std::make_shared<std::atomic<int64_t>>(std::numeric_limits<int64_t>::min());
};

JobQueue::Impl::QueueState& JobQueue::Impl::StateOf(const std::string& queue) {
  auto it = queues_.find(queue);
  if (it == queues_.end()) {
    auto state = std::make_unique<QueueState>();
    state->name = queue;
    it = queues_.emplace(queue, std::move(state)).first;
  }
  return *it->second;
}

Status JobQueue::Impl::Load() {
  std::lock_guard lock(mu_);
  const int64_t now = clock_->NowMs();
  auto it = db_->NewIterator(Cf::kQueue);
  for (it->Seek(std::string(1, kJobPrefix)); it->Valid(); it->Next()) {
    rocksdb::Slice key = it->key();
    if (key.empty() || key[0] != kJobPrefix) break;
    auto e = std::make_unique<Entry>();
    e->id.assign(key.data() + 1, key.size() - 1);
    if (!DecodeJob(it->value().ToStringView(), &e->rec)) {
      return Status::Internal("queue: corrupt job record for id '" + e->id + "'");
    }
    e->q = &StateOf(e->rec.queue);
    e->seq = next_seq_++;
    Entry* raw = e.get();
    jobs_.emplace(e->id, std::move(e));
    if (raw->rec.state == Persisted::kDead) {
      raw->q->dead.emplace(TimeSeq{raw->rec.dead_ms, raw->seq}, raw);
      continue;
    }
    TrackHeld(raw);
    Schedule(raw, now);
    if (raw->rec.receive_count == 0 && !raw->rec.coalesce_key.empty()) {
      raw->q->coalescable[raw->rec.coalesce_key] = raw;
    }
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "read the queue"));
  it.reset();
  RETURN_IF_ERROR(DeleteDoneIndex());
  AdvanceExpiry(now);
  db_->SetExpiry(Cf::kQueue, [expired_through = expired_through_](std::string_view key,
                                                                  std::string_view value) {
    if (key.empty() || key[0] != kDonePrefix) return false;
    std::optional<int64_t> done_ms = DecodeDone(value);
    return done_ms && *done_ms <= expired_through->load(std::memory_order_relaxed);
  });
  return Status::Ok();
}

Status JobQueue::Impl::DeleteDoneIndex() {
  auto it = db_->NewIterator(Cf::kQueue);
  const std::string first(1, kDoneTimePrefix), past(1, kDoneTimePrefix + 1);
  it->Seek(first);
  RETURN_IF_ERROR(FromRocks(it->status(), "read the queue"));
  if (!it->Valid() || it->key().compare(past) >= 0) return Status::Ok();
  rocksdb::WriteBatch batch;
  batch.DeleteRange(db_->cf(Cf::kQueue), first, past);
  return db_->Write(&batch, false);
}

void JobQueue::Impl::AdvanceExpiry(int64_t now) {
  const int64_t through = now - options_.done_retention_ms;
  int64_t current = expired_through_->load(std::memory_order_relaxed);
  while (through > current && !expired_through_->compare_exchange_weak(current, through)) {
  }
}

void JobQueue::Impl::TrackHeld(Entry* e) {
  ++held_;
  e->q->held_by_age.emplace(e->rec.enqueued_ms, e->seq);
}

void JobQueue::Impl::ReleaseHeld(Entry* e) {
  --held_;
  e->q->held_by_age.erase(TimeSeq{e->rec.enqueued_ms, e->seq});
}

void JobQueue::Impl::Schedule(Entry* e, int64_t now) {
  TimedRef ref{e->rec.visible_ms, e->seq, e};
  if (e->rec.visible_ms <= now) {
    e->q->ready.push(ref);
  } else {
    e->q->delayed.push(ref);
  }
}

void JobQueue::Impl::PromoteDue(QueueState& q, int64_t now) {
  while (!q.delayed.empty() && q.delayed.top().at_ms <= now) {
    q.ready.push(q.delayed.top());
    q.delayed.pop();
  }
}

void JobQueue::Impl::ToDead(Entry* e, int64_t now) {
  e->rec.state = Persisted::kDead;
  e->rec.dead_ms = now;
  EnterDead(e);
}

void JobQueue::Impl::EnterDead(Entry* e) {
  ReleaseHeld(e);
  e->q->dead.emplace(TimeSeq{e->rec.dead_ms, e->seq}, e);
  ++e->q->dead_lettered;
}

int JobQueue::Impl::MaxAttempts(const std::string& name) const {
  int attempts = options_.max_attempts;
  size_t longest = 0;
  for (const auto& [prefix, n] : options_.max_attempts_by_prefix) {
    if (name.starts_with(prefix) && prefix.size() >= longest) {
      longest = prefix.size();
      attempts = n;
    }
  }
  return attempts;
}

void JobQueue::Impl::ExpireLeases(QueueState& q, int64_t now) {
  if (q.in_flight.empty() || q.in_flight.begin()->first.first > now) return;
  rocksdb::WriteBatch batch;
  while (!q.in_flight.empty() && q.in_flight.begin()->first.first <= now) {
    Entry* e = q.in_flight.begin()->second;
    q.in_flight.erase(q.in_flight.begin());
    e->in_flight = false;
    e->rec.last_error = "not acked within the visibility timeout (" +
                        std::to_string(options_.visibility_timeout_ms) + " ms)";
    if (e->rec.receive_count >= MaxAttempts(q.name)) {
      ToDead(e, now);
    } else {
      e->rec.visible_ms = e->lease_deadline_ms;
      Schedule(e, now);
      ++q.retries;
    }
    batch.Put(db_->cf(Cf::kQueue), JobKey(e->id), EncodeJob(e->rec));
  }
  // Memory stays authoritative while running; a lost write only means an older receive_count
  // (or a still pending job) after a restart, which at-least-once allows.
  Status st = db_->Write(&batch, false);
  if (!st.ok())
    spdlog::warn("queue {}: persisting expired leases failed: {}", q.name, st.ToString());
}

Result<std::vector<bool>> JobQueue::Impl::AreDone(const std::vector<JobSpec>& jobs, int64_t now) {
  std::vector<std::string> keys;
  keys.reserve(jobs.size());
  for (const JobSpec& job : jobs) keys.push_back(DoneKey(job.id));
  ASSIGN_OR_RETURN(auto values, db_->MultiGet(Cf::kQueue, keys));
  std::vector<bool> done(jobs.size(), false);
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!values[i]) continue;
    std::optional<int64_t> done_ms = DecodeDone(*values[i]);
    if (!done_ms) return Status::Internal("queue: corrupt done record for id '" + jobs[i].id + "'");
    done[i] = *done_ms + options_.done_retention_ms > now;
  }
  return done;
}

Status JobQueue::Impl::CheckSpecs(const std::vector<JobSpec>& jobs) {
  for (size_t i = 0; i < jobs.size(); ++i) {
    std::string where = jobs.size() == 1 ? "job" : "job #" + std::to_string(i);
    if (jobs[i].id.empty()) return Status::InvalidArgument(where + ": id is empty");
    if (jobs[i].queue.empty()) {
      return Status::InvalidArgument(where + " '" + jobs[i].id + "': queue is empty");
    }
  }
  return Status::Ok();
}

Status JobQueue::Impl::StageEnqueue(const std::vector<JobSpec>& jobs, bool coalesce,
                                    bool follow_ups, int64_t now, StagedEnqueue* staged,
                                    rocksdb::WriteBatch* batch) {
  AdvanceExpiry(now);
  staged->results.assign(jobs.size(), EnqueueResult::kDuplicate);
  std::unordered_set<std::string_view> batch_ids;
  // Coalescing targets: a job added earlier in this batch (by queue and key: its index).
  std::map<std::pair<std::string_view, std::string_view>, size_t> batch_keys;
  std::vector<std::string_view> payload_of(jobs.size());
  std::vector<size_t> added;  // indexes into jobs
  // Follow-ups are never checked against the acked ids (see JobQueue::Complete).
  std::vector<bool> done(jobs.size(), false);
  if (!follow_ups) {
    ASSIGN_OR_RETURN(done, AreDone(jobs, now));
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    const JobSpec& job = jobs[i];
    if (batch_ids.count(job.id) || jobs_.count(job.id) || done[i]) continue;
    if (coalesce && !job.coalesce_key.empty()) {
      auto in_batch = batch_keys.find({job.queue, job.coalesce_key});
      if (in_batch != batch_keys.end()) {
        payload_of[in_batch->second] = job.payload;
        staged->results[i] = EnqueueResult::kCoalesced;
        continue;
      }
      auto q = queues_.find(job.queue);
      if (q != queues_.end()) {
        auto target = q->second->coalescable.find(job.coalesce_key);
        if (target != q->second->coalescable.end() && !target->second->writing) {
          staged->coalesced[target->second] = job.payload;
          staged->results[i] = EnqueueResult::kCoalesced;
          continue;
        }
      }
    }
    staged->results[i] = EnqueueResult::kAdded;
    batch_ids.insert(job.id);
    payload_of[i] = job.payload;
    if (!job.coalesce_key.empty()) batch_keys[{job.queue, job.coalesce_key}] = i;
    added.push_back(i);
  }
  if (!follow_ups && held_ + added.size() > options_.max_jobs) {
    return Status::ResourceExhausted("prediction queue is full (" + std::to_string(held_) +
                                     " jobs held, limit " + std::to_string(options_.max_jobs) +
                                     ")");
  }
  for (size_t i : added) {
    const JobSpec& job = jobs[i];
    auto e = std::make_unique<Entry>();
    e->id = job.id;
    e->rec.queue = job.queue;
    e->rec.coalesce_key = job.coalesce_key;
    e->rec.payload = payload_of[i];
    e->rec.enqueued_ms = now;
    e->rec.visible_ms = now + std::max<int64_t>(job.delay_ms, 0);
    e->rec.follow_up = follow_ups;
    batch->Put(db_->cf(Cf::kQueue), JobKey(e->id), EncodeJob(e->rec));
    staged->entries.push_back(std::move(e));
  }
  for (auto& [e, payload] : staged->coalesced) {
    JobRecord next = e->rec;
    next.payload = payload;
    batch->Put(db_->cf(Cf::kQueue), JobKey(e->id), EncodeJob(next));
  }
  return Status::Ok();
}

void JobQueue::Impl::ReserveEnqueue(StagedEnqueue* staged) {
  for (auto& owned : staged->entries) {
    Entry* e = owned.get();
    e->q = &StateOf(e->rec.queue);
    e->seq = next_seq_++;
    e->writing = true;
    jobs_.emplace(e->id, std::move(owned));
    TrackHeld(e);
    staged->added.push_back(e);
  }
  staged->entries.clear();
  for (auto& [e, payload] : staged->coalesced) e->writing = true;
}

std::set<JobQueue::Impl::QueueState*> JobQueue::Impl::ApplyEnqueue(const std::vector<JobSpec>& jobs,
                                                                   StagedEnqueue* staged,
                                                                   int64_t now) {
  std::set<QueueState*> touched;  // queues with new (or newly receivable) jobs
  for (Entry* e : staged->added) {
    e->writing = false;
    Schedule(e, now);
    if (!e->rec.coalesce_key.empty()) e->q->coalescable[e->rec.coalesce_key] = e;
    touched.insert(e->q);
  }
  for (auto& [e, payload] : staged->coalesced) {
    e->rec.payload = std::string(payload);
    e->writing = false;
    touched.insert(e->q);
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (staged->results[i] == EnqueueResult::kCoalesced) ++StateOf(jobs[i].queue).coalesced;
  }
  return touched;
}

void JobQueue::Impl::UndoEnqueue(StagedEnqueue* staged) {
  for (Entry* e : staged->added) {
    ReleaseHeld(e);
    jobs_.erase(e->id);
  }
  for (auto& [e, payload] : staged->coalesced) e->writing = false;
}

Status JobQueue::Impl::WriteUnlocked(std::unique_lock<std::mutex>& lock,
                                     rocksdb::WriteBatch* batch, StagedAck* ack,
                                     const std::vector<JobSpec>* jobs, StagedEnqueue* enqueue,
                                     std::set<QueueState*>* touched) {
  if (ack) ReserveAck(*ack);
  if (enqueue) ReserveEnqueue(enqueue);
  lock.unlock();
  Status st = db_->Write(batch, false);
  lock.lock();
  if (!st.ok()) {
    if (ack) UndoAck(*ack);
    if (enqueue) UndoEnqueue(enqueue);
    return st;
  }
  if (ack) ApplyAck(*ack);
  if (enqueue) *touched = ApplyEnqueue(*jobs, enqueue, clock_->NowMs());
  return Status::Ok();
}

// Wakes consumers; a delayed job wakes one so it can shorten its wait to the job's time.
void JobQueue::Impl::Wake(const std::set<QueueState*>& touched, size_t added) {
  for (QueueState* q : touched) {
    if (added == 1) {
      q->cv.notify_one();
    } else {
      q->cv.notify_all();
    }
  }
}

Result<std::vector<EnqueueResult>> JobQueue::Impl::Enqueue(const std::vector<JobSpec>& jobs,
                                                           bool coalesce) {
  RETURN_IF_ERROR(CheckSpecs(jobs));
  std::unique_lock lock(mu_);
  const int64_t now = clock_->NowMs();
  StagedEnqueue staged;
  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(StageEnqueue(jobs, coalesce, /*follow_ups=*/false, now, &staged, &batch));
  std::set<QueueState*> touched;
  RETURN_IF_ERROR(WriteUnlocked(lock, &batch, nullptr, &jobs, &staged, &touched));
  lock.unlock();
  Wake(touched, staged.added.size() + staged.coalesced.size());
  return std::move(staged.results);
}

Job JobQueue::Impl::ToJob(const Entry& e) {
  Job job;
  job.id = e.id;
  job.queue = e.rec.queue;
  job.payload = e.rec.payload;
  job.enqueued_ms = e.rec.enqueued_ms;
  job.receive_count = e.rec.receive_count;
  job.last_error = e.rec.last_error;
  job.lease = e.in_flight ? e.lease : 0;
  job.dead_ms = e.rec.state == Persisted::kDead ? e.rec.dead_ms : 0;
  return job;
}

Result<size_t> JobQueue::Impl::Receive(const std::string& queue, size_t max, int64_t wait_ms,
                                       std::vector<Job>* out) {
  if (queue.empty()) return Status::InvalidArgument("receive: queue is empty");
  using Steady = std::chrono::steady_clock;
  const Steady::time_point give_up =
      Steady::now() + std::chrono::milliseconds(std::max<int64_t>(wait_ms, 0));
  std::unique_lock lock(mu_);
  QueueState& q = StateOf(queue);
  while (!shutdown_ && max > 0) {
    const int64_t now = clock_->NowMs();
    ExpireLeases(q, now);
    PromoteDue(q, now);
    size_t n = 0;
    std::vector<TimedRef> skipped;  // jobs being written: receivable once written
    while (n < max && !q.ready.empty()) {
      const TimedRef top = q.ready.top();
      q.ready.pop();
      Entry* e = top.entry;
      if (e->writing) {
        skipped.push_back(top);
        continue;
      }
      e->in_flight = true;
      ++e->rec.receive_count;
      e->lease = next_lease_++;
      e->lease_deadline_ms = now + options_.visibility_timeout_ms;
      q.in_flight.emplace(TimeSeq{e->lease_deadline_ms, e->lease}, e);
      if (!e->rec.coalesce_key.empty()) {
        auto c = q.coalescable.find(e->rec.coalesce_key);
        if (c != q.coalescable.end() && c->second == e) q.coalescable.erase(c);
      }
      out->push_back(ToJob(*e));
      ++n;
    }
    for (const TimedRef& ref : skipped) q.ready.push(ref);
    if (n > 0) return n;
    Steady::time_point wake = give_up;
    if (Steady::now() >= wake) break;
    // Wake when the next delayed job or lease is due, whichever is first.
    int64_t next_due = std::numeric_limits<int64_t>::max();
    if (!q.delayed.empty()) next_due = q.delayed.top().at_ms;
    if (!q.in_flight.empty()) next_due = std::min(next_due, q.in_flight.begin()->first.first);
    if (next_due != std::numeric_limits<int64_t>::max()) {
      wake = std::min(wake, Steady::now() + std::chrono::milliseconds(next_due - now));
    }
    q.cv.wait_until(lock, wake);
  }
  return size_t{0};
}

Result<JobQueue::Impl::Entry*> JobQueue::Impl::FindLeased(const std::string& id, uint64_t lease,
                                                          int64_t now) {
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second->writing ||
      (!it->second->in_flight && it->second->lease == 0)) {
    return Status::NotFound("job '" + id + "' is not in flight");
  }
  Entry* e = it->second.get();
  if (e->lease != lease) {
    return Status::FailedPrecondition("lease " + std::to_string(lease) + " of job '" + id +
                                      "' is stale: the job was received again");
  }
  if (!e->in_flight || e->lease_deadline_ms <= now) {
    return Status::FailedPrecondition("lease " + std::to_string(lease) + " of job '" + id +
                                      "' expired (visibility timeout " +
                                      std::to_string(options_.visibility_timeout_ms) + " ms)");
  }
  return e;
}

void JobQueue::Impl::PutDone(const std::string& id, int64_t now, rocksdb::WriteBatch* batch) {
  std::string done;
  byte_codec::PutSigned(&done, now);
  batch->Put(db_->cf(Cf::kQueue), DoneKey(id), done);
}

Status JobQueue::Impl::StageAck(const std::vector<std::pair<std::string, uint64_t>>& jobs,
                                int64_t now, StagedAck* staged, rocksdb::WriteBatch* batch) {
  for (const auto& [id, lease] : jobs) {
    Result<Entry*> e = FindLeased(id, lease, now);
    if (!e.ok()) {
      if (staged->refused++ == 0) staged->first_refusal = e.status();
      continue;
    }
    // The same lease twice in one batch: the second is not in flight any more.
    if (std::find(staged->acked.begin(), staged->acked.end(), *e) != staged->acked.end()) {
      if (staged->refused++ == 0) {
        staged->first_refusal = Status::NotFound("job '" + id + "' is not in flight");
      }
      continue;
    }
    batch->Delete(db_->cf(Cf::kQueue), JobKey(id));
    if (!(*e)->rec.follow_up) PutDone(id, now, batch);
    staged->acked.push_back(*e);
  }
  AdvanceExpiry(now);
  return Status::Ok();
}

void JobQueue::Impl::ReserveAck(const StagedAck& staged) {
  for (Entry* e : staged.acked) {
    e->q->in_flight.erase(TimeSeq{e->lease_deadline_ms, e->lease});
    e->writing = true;
  }
}

void JobQueue::Impl::ApplyAck(const StagedAck& staged) {
  for (Entry* e : staged.acked) {
    ReleaseHeld(e);
    jobs_.erase(e->id);
  }
}

void JobQueue::Impl::UndoAck(const StagedAck& staged) {
  for (Entry* e : staged.acked) {
    e->writing = false;
    e->q->in_flight.emplace(TimeSeq{e->lease_deadline_ms, e->lease}, e);
  }
}

Status JobQueue::Impl::RefusalOf(const StagedAck& staged, size_t jobs) {
  if (staged.refused == 0) return Status::Ok();
  if (jobs == 1) return staged.first_refusal;
  return Status(staged.first_refusal.code(),
                std::to_string(staged.refused) + " of " + std::to_string(jobs) +
                    " acks refused, the first: " + staged.first_refusal.message());
}

Status JobQueue::Impl::Ack(const std::vector<std::pair<std::string, uint64_t>>& jobs) {
  std::unique_lock lock(mu_);
  const int64_t now = clock_->NowMs();
  rocksdb::WriteBatch batch;
  StagedAck staged;
  RETURN_IF_ERROR(StageAck(jobs, now, &staged, &batch));
  if (!staged.acked.empty()) {
    RETURN_IF_ERROR(WriteUnlocked(lock, &batch, &staged, nullptr, nullptr, nullptr));
  }
  return RefusalOf(staged, jobs.size());
}

Status JobQueue::Impl::Complete(const std::vector<std::pair<std::string, uint64_t>>& acks,
                                const std::vector<JobSpec>& follow_ups, rocksdb::WriteBatch* with) {
  RETURN_IF_ERROR(CheckSpecs(follow_ups));
  std::unique_lock lock(mu_);
  const int64_t now = clock_->NowMs();
  StagedAck staged_ack;
  Status st = StageAck(acks, now, &staged_ack, with);
  if (st.ok()) st = RefusalOf(staged_ack, acks.size());  // all or nothing
  StagedEnqueue staged;
  if (st.ok())
    st = StageEnqueue(follow_ups, /*coalesce=*/false, /*follow_ups=*/true, now, &staged, with);
  std::set<QueueState*> touched;
  if (st.ok()) st = WriteUnlocked(lock, with, &staged_ack, &follow_ups, &staged, &touched);
  if (!st.ok()) return st;
  lock.unlock();
  Wake(touched, staged.added.size());
  return Status::Ok();
}

Status JobQueue::Impl::Nack(const std::string& id, uint64_t lease, std::string_view error) {
  std::unique_lock lock(mu_);
  const int64_t now = clock_->NowMs();
  ASSIGN_OR_RETURN(Entry * e, FindLeased(id, lease, now));
  JobRecord next = e->rec;
  next.last_error = error;
  const bool dead = next.receive_count >= MaxAttempts(e->q->name);
  if (dead) {
    next.state = Persisted::kDead;
    next.dead_ms = now;
  } else {
    next.visible_ms =
        now + CappedBackoff(options_.backoff_base_ms, options_.backoff_max_ms, next.receive_count);
  }
  RETURN_IF_ERROR(db_->Put(Cf::kQueue, JobKey(id), EncodeJob(next)));
  QueueState& q = *e->q;
  q.in_flight.erase(TimeSeq{e->lease_deadline_ms, e->lease});
  e->in_flight = false;
  e->lease = 0;
  e->rec = std::move(next);
  if (dead) {
    EnterDead(e);
    return Status::Ok();
  }
  ++q.retries;
  Schedule(e, now);
  lock.unlock();
  q.cv.notify_one();
  return Status::Ok();
}

std::vector<JobQueue::Impl::Entry*> JobQueue::Impl::DeadOf(const std::string& queue) {
  std::vector<Entry*> dead;
  for (auto& [name, q] : queues_) {
    if (!queue.empty() && name != queue) continue;
    for (auto& [key, e] : q->dead) dead.push_back(e);
  }
  if (queue.empty()) {
    std::sort(dead.begin(), dead.end(), [](const Entry* a, const Entry* b) {
      return TimeSeq{a->rec.dead_ms, a->seq} < TimeSeq{b->rec.dead_ms, b->seq};
    });
  }
  return dead;
}

Result<std::vector<Job>> JobQueue::Impl::ListDead(const std::string& queue, size_t limit) {
  std::lock_guard lock(mu_);
  std::vector<Job> out;
  for (Entry* e : DeadOf(queue)) {
    if (out.size() >= limit) break;
    out.push_back(ToJob(*e));
  }
  return out;
}

Result<size_t> JobQueue::Impl::ReplayDead(const std::string& queue, const std::string& id) {
  std::unique_lock lock(mu_);
  const int64_t now = clock_->NowMs();
  std::vector<Entry*> replay;
  if (!id.empty()) {
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second->rec.state != Persisted::kDead ||
        (!queue.empty() && it->second->rec.queue != queue)) {
      return Status::NotFound("no dead job '" + id + "'" +
                              (queue.empty() ? "" : " in queue '" + queue + "'"));
    }
    replay.push_back(it->second.get());
  } else {
    replay = DeadOf(queue);
  }
  if (held_ + replay.size() > options_.max_jobs) {
    return Status::ResourceExhausted("prediction queue is full (" + std::to_string(held_) +
                                     " jobs held, limit " + std::to_string(options_.max_jobs) +
                                     "): cannot replay " + std::to_string(replay.size()) +
                                     " dead jobs");
  }
  rocksdb::WriteBatch batch;
  for (Entry* e : replay) {
    JobRecord next = e->rec;
    next.state = Persisted::kPending;
    next.receive_count = 0;
    next.visible_ms = now;
    next.dead_ms = 0;
    batch.Put(db_->cf(Cf::kQueue), JobKey(e->id), EncodeJob(next));
  }
  RETURN_IF_ERROR(db_->Write(&batch, false));
  std::set<QueueState*> touched;
  for (Entry* e : replay) {
    e->q->dead.erase(TimeSeq{e->rec.dead_ms, e->seq});
    e->rec.state = Persisted::kPending;
    e->rec.receive_count = 0;
    e->rec.visible_ms = now;
    e->rec.dead_ms = 0;
    e->lease = 0;
    TrackHeld(e);
    Schedule(e, now);
    touched.insert(e->q);
  }
  lock.unlock();
  for (QueueState* q : touched) q->cv.notify_all();
  return replay.size();
}

Result<size_t> JobQueue::Impl::PurgeDead(const std::string& queue) {
  std::lock_guard lock(mu_);
  std::vector<Entry*> purge = DeadOf(queue);
  rocksdb::WriteBatch batch;
  for (Entry* e : purge) batch.Delete(db_->cf(Cf::kQueue), JobKey(e->id));
  RETURN_IF_ERROR(db_->Write(&batch, false));
  for (Entry* e : purge) {
    e->q->dead.erase(TimeSeq{e->rec.dead_ms, e->seq});
    jobs_.erase(e->id);
  }
  return purge.size();
}

std::vector<JobQueue::QueueStats> JobQueue::Impl::Stats() {
  std::lock_guard lock(mu_);
  const int64_t now = clock_->NowMs();
  std::vector<QueueStats> out;
  out.reserve(queues_.size());
  for (auto& [name, q] : queues_) {
    ExpireLeases(*q, now);
    PromoteDue(*q, now);
    QueueStats s;
    s.queue = name;
    s.ready = q->ready.size();
    s.delayed = q->delayed.size();
    s.in_flight = q->in_flight.size();
    s.dead = q->dead.size();
    if (!q->held_by_age.empty()) {
      s.oldest_age_ms = std::max<int64_t>(0, now - q->held_by_age.begin()->first);
    }
    s.retries = q->retries;
    s.dead_lettered = q->dead_lettered;
    s.coalesced = q->coalesced;
    out.push_back(std::move(s));
  }
  return out;
}

void JobQueue::Impl::Shutdown() {
  std::lock_guard lock(mu_);
  shutdown_ = true;
  for (auto& [name, q] : queues_) q->cv.notify_all();
}

// ---- JobQueue: forwards to Impl ----

JobQueue::JobQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JobQueue::~JobQueue() = default;

Result<std::unique_ptr<JobQueue>> JobQueue::Open(Db* db, const Clock* clock,
                                                 const QueueOptions& options) {
  RETURN_IF_ERROR(ValidateOptions(options));
  auto impl = std::make_unique<Impl>(db, clock, options);
  RETURN_IF_ERROR(impl->Load());
  return std::unique_ptr<JobQueue>(new JobQueue(std::move(impl)));
}

Result<EnqueueResult> JobQueue::Enqueue(const JobSpec& job) {
  ASSIGN_OR_RETURN(auto results, impl_->Enqueue({job}, /*coalesce=*/false));
  return results[0];
}

Result<std::vector<EnqueueResult>> JobQueue::EnqueueBatch(const std::vector<JobSpec>& jobs) {
  return impl_->Enqueue(jobs, /*coalesce=*/false);
}

Result<EnqueueResult> JobQueue::EnqueueOrCoalesce(const JobSpec& job) {
  ASSIGN_OR_RETURN(auto results, impl_->Enqueue({job}, /*coalesce=*/true));
  return results[0];
}

Result<std::vector<EnqueueResult>> JobQueue::EnqueueOrCoalesceBatch(
    const std::vector<JobSpec>& jobs) {
  return impl_->Enqueue(jobs, /*coalesce=*/true);
}

Result<size_t> JobQueue::Receive(const std::string& queue, size_t max, int64_t wait_ms,
                                 std::vector<Job>* out) {
  return impl_->Receive(queue, max, wait_ms, out);
}

Status JobQueue::Ack(const std::string& id, uint64_t lease) { return impl_->Ack({{id, lease}}); }

Status JobQueue::AckBatch(const std::vector<std::pair<std::string, uint64_t>>& jobs) {
  return impl_->Ack(jobs);
}

Status JobQueue::Complete(const std::vector<std::pair<std::string, uint64_t>>& acks,
                          const std::vector<JobSpec>& follow_ups, rocksdb::WriteBatch* with) {
  return impl_->Complete(acks, follow_ups, with);
}

Status JobQueue::Nack(const std::string& id, uint64_t lease, std::string_view error) {
  return impl_->Nack(id, lease, error);
}

Result<std::vector<Job>> JobQueue::ListDead(const std::string& queue, size_t limit) const {
  return impl_->ListDead(queue, limit);
}

Result<size_t> JobQueue::ReplayDead(const std::string& queue, const std::string& id) {
  return impl_->ReplayDead(queue, id);
}

Result<size_t> JobQueue::PurgeDead(const std::string& queue) { return impl_->PurgeDead(queue); }

std::vector<JobQueue::QueueStats> JobQueue::Stats() const { return impl_->Stats(); }
size_t JobQueue::held() const { return impl_->held(); }
size_t JobQueue::capacity() const { return impl_->options().max_jobs; }
void JobQueue::Shutdown() { impl_->Shutdown(); }

}  // namespace freshet
