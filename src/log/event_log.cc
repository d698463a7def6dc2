#include "log/event_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "core/int_math.h"

namespace freshet {
namespace {

// On-disk keys; part of the data directory format (src/log/README.md): never change them.
// events: BE32 source id + BE64 offset -> EncodeRecord. ingest_meta:
//   "source/<name>"                         -> BE32 source id, fixed on first use, never reused
//   "next/<BE32 id>"                        -> BE64 next offset of the source
//   "idem/<decimal id>/<key>"               -> BE64 first_offset, BE64 count, BE64 created_ms
//   "idem_exp/<BE64 created_ms><idem key>"  -> the "idem/..." key: expiry order for the purge
constexpr std::string_view kSourcePrefix = "source/";
constexpr std::string_view kNextPrefix = "next/";
constexpr std::string_view kIdemPrefix = "idem/";
constexpr std::string_view kIdemExpiryPrefix = "idem_exp/";

// Expired idempotency keys are ignored at once; deleting them is housekeeping done at most this
// often (by the injected clock), a bounded number per round.
constexpr int64_t kPurgeIntervalMs = 60'000;
constexpr int kMaxPurgedPerRound = 10'000;

std::string EventKey(uint32_t source_id, uint64_t offset) {
  std::string key;
  key.reserve(12);
  AppendBigEndian32(&key, source_id);
  AppendBigEndian64(&key, offset);
  return key;
}

std::string NextOffsetKey(uint32_t source_id) {
  std::string key(kNextPrefix);
  AppendBigEndian32(&key, source_id);
  return key;
}

std::string IdempotencyKey(uint32_t source_id, std::string_view key) {
  return fmt::format("{}{}/{}", kIdemPrefix, source_id, key);
}

std::string IdempotencyExpiryKey(int64_t created_ms, std::string_view idem_key) {
  std::string key(kIdemExpiryPrefix);
  AppendBigEndian64(&key, static_cast<uint64_t>(created_ms));
  key.append(idem_key);
  return key;
}

struct IdempotencyEntry {
  AppendAck ack;
  int64_t created_ms = 0;
};

std::string EncodeIdempotencyEntry(const AppendAck& ack, int64_t created_ms) {
  std::string value;
  AppendBigEndian64(&value, ack.first_offset);
  AppendBigEndian64(&value, ack.count);
  AppendBigEndian64(&value, static_cast<uint64_t>(created_ms));
  return value;
}

Result<IdempotencyEntry> DecodeIdempotencyEntry(std::string_view value) {
  if (value.size() != 24) return Status::IoError("corrupt idempotency key entry in ingest_meta");
  IdempotencyEntry entry;
  entry.ack.first_offset = ReadBigEndian64(value.data());
  entry.ack.count = ReadBigEndian64(value.data() + 8);
  entry.created_ms = static_cast<int64_t>(ReadBigEndian64(value.data() + 16));
  return entry;
}

bool HasPrefix(const rocksdb::Slice& s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::memcmp(s.data(), prefix.data(), prefix.size()) == 0;
}

}  // namespace

struct EventLog::Impl {
  // One Append() call waiting for the committer; lives on the appender's stack.
  struct Pending {
    uint32_t source_id = 0;
    std::vector<Record> records;
    std::string idempotency_key;
    AppendAck ack;
    Status status;
    bool settled_before_write = false;  // a duplicate found on disk, or a failed look-up
    bool done = false;
  };

  Db* db;
  const Clock* clock;
  EventLogOptions options;
  std::unordered_map<std::string, uint32_t> ids;  // current sources; immutable after Open

  // Committer-owned: next offsets including the group being written, indexed by source id.
  std::vector<uint64_t> next_offsets;
  // Next offsets of what is durable; read by NextOffset() on any thread.
  std::unique_ptr<std::atomic<uint64_t>[]> committed_next;
  int64_t last_purge_ms = 0;

  std::mutex mu;
  std::condition_variable work_cv;         // the committer waits for work
  std::condition_variable done_cv;         // appenders wait for their batch
  std::vector<Pending*> queue;             // guarded by mu
  size_t pending_records = 0;              // queued + being committed; guarded by mu
  bool stopping = false;                   // guarded by mu
  std::shared_ptr<const CommitHook> hook;  // guarded by mu
  std::thread committer;

  // A group written (or failed) and waiting for the applier: the hook, then the acks.
  struct Written {
    std::vector<Pending*> group;
    std::shared_ptr<const CommitHook> hook;
    std::vector<CommittedBatch> committed;  // what the hook gets
  };
  std::condition_variable written_cv;  // the applier waits for written groups
  std::deque<Written> written;         // in commit order; guarded by mu
  bool committer_done = false;         // guarded by mu
  std::thread applier;

  Impl(Db* d, const Clock* c, EventLogOptions o) : db(d), clock(c), options(o) {}
  ~Impl();

  Status LoadSourceIds(const std::vector<std::string>& sources);
  Status LoadNextOffsets();
  // The committer: writes each group, then hands it to the applier, so the next group is
  // written while the hook runs on the previous one.
  void Run();
  // The applier: runs the hook on each written group in commit order, then acknowledges it.
  void Apply();
  // Writes the group; returns the batches for the hook (none when the write failed).
  std::vector<CommittedBatch> CommitGroup(const std::vector<Pending*>& group);
  void CheckIdempotencyKeys(const std::vector<Pending*>& group, int64_t now_ms);
  void AddRecords(Pending* p, rocksdb::WriteBatch* batch);
  Result<std::optional<IdempotencyEntry>> LookupIdempotencyKey(const std::string& key,
                                                               int64_t now_ms);
  bool Expired(int64_t created_ms, int64_t now_ms) const {
    return SaturatingAdd(created_ms, options.idempotency_ttl_ms) <= now_ms;
  }
  void MaybePurgeExpiredKeys();
  Status PurgeExpiredKeys(int64_t now_ms);
  Result<AppendAck> Append(uint32_t source_id, std::vector<Record> records, const std::string& key);
};

// Ids are never reused, so a source dropped from the spec keeps its log, and reordering or
// adding sources does not remap existing ones.
Status EventLog::Impl::LoadSourceIds(const std::vector<std::string>& sources) {
  std::map<std::string, uint32_t> known;
  uint32_t next_id = 0;
  std::unique_ptr<rocksdb::Iterator> it = db->NewIterator(Cf::kIngestMeta);
  for (it->Seek(rocksdb::Slice(kSourcePrefix.data(), kSourcePrefix.size()));
       it->Valid() && HasPrefix(it->key(), kSourcePrefix); it->Next()) {
    if (it->value().size() != 4) return Status::IoError("corrupt source id in ingest_meta");
    uint32_t id = ReadBigEndian32(it->value().data());
    known[it->key().ToString().substr(kSourcePrefix.size())] = id;
    next_id = std::max(next_id, id + 1);
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading source ids"));
  // Ids are handed out densely from 0, and index next_offsets below.
  for (const auto& [name, id] : known) {
    if (id >= known.size()) {
      return Status::IoError(
          fmt::format("corrupt source id {} of source '{}' in ingest_meta", id, name));
    }
  }

  rocksdb::WriteBatch batch;
  for (const std::string& name : sources) {
    if (known.count(name)) continue;
    std::string id;
    AppendBigEndian32(&id, next_id);
    batch.Put(db->cf(Cf::kIngestMeta), std::string(kSourcePrefix) + name, id);
    known[name] = next_id++;
  }
  if (batch.Count() > 0) RETURN_IF_ERROR(db->Write(&batch, /*sync=*/true));
  for (const std::string& name : sources) ids[name] = known[name];
  next_offsets.assign(next_id, 0);
  committed_next = std::make_unique<std::atomic<uint64_t>[]>(next_id);
  return Status::Ok();
}

Status EventLog::Impl::LoadNextOffsets() {
  for (const auto& [name, id] : ids) {
    ASSIGN_OR_RETURN(std::optional<std::string> value, db->Get(Cf::kIngestMeta, NextOffsetKey(id)));
    if (value && value->size() != 8) return Status::IoError("corrupt next offset in ingest_meta");
    next_offsets[id] = value ? ReadBigEndian64(value->data()) : 0;
    committed_next[id].store(next_offsets[id]);
  }
  return Status::Ok();
}

EventLog::Impl::~Impl() {
  {
    std::lock_guard<std::mutex> lock(mu);
    stopping = true;
  }
  work_cv.notify_all();
  if (committer.joinable()) committer.join();
  if (applier.joinable()) applier.join();
}

Result<AppendAck> EventLog::Impl::Append(uint32_t source_id, std::vector<Record> records,
                                         const std::string& key) {
  Pending p;
  p.source_id = source_id;
  p.records = std::move(records);
  p.idempotency_key = key;
  size_t n = p.records.size();
  std::unique_lock<std::mutex> lock(mu);
  if (stopping) return Status::Unavailable("the event log is shutting down");
  // An idle log takes a batch of any size, so an oversized batch is not refused forever.
  if (pending_records > 0 && pending_records + n > options.max_pending_records) {
    return Status::ResourceExhausted(fmt::format(
        "ingest queue is full ({} records waiting, max_pending_records {}); retry later",
        pending_records, options.max_pending_records));
  }
  pending_records += n;
  queue.push_back(&p);
  work_cv.notify_one();
  done_cv.wait(lock, [&] { return p.done; });
  if (!p.status.ok()) return p.status;
  return p.ack;
}

void EventLog::Impl::Run() {
  for (;;) {
    Written w;
    {
      std::unique_lock<std::mutex> lock(mu);
      work_cv.wait(lock, [&] { return !queue.empty() || stopping; });
      if (queue.empty()) {  // stopping, and every batch is written
        committer_done = true;
        written_cv.notify_one();
        return;
      }
      w.group.swap(queue);
      w.hook = hook;
    }
    MaybePurgeExpiredKeys();
    w.committed = CommitGroup(w.group);
    std::lock_guard<std::mutex> lock(mu);
    written.push_back(std::move(w));
    written_cv.notify_one();
  }
}

void EventLog::Impl::Apply() {
  for (;;) {
    Written w;
    {
      std::unique_lock<std::mutex> lock(mu);
      written_cv.wait(lock, [&] { return !written.empty() || committer_done; });
      if (written.empty()) return;  // the committer stopped and every group is acknowledged
      w = std::move(written.front());
      written.pop_front();
    }
    if (w.hook && *w.hook && !w.committed.empty()) (*w.hook)(w.committed);
    size_t n = 0;
    for (const Pending* p : w.group) n += p->records.size();
    {
      std::lock_guard<std::mutex> lock(mu);
      pending_records -= n;
      for (Pending* p : w.group) p->done = true;  // from here on an appender may free its Pending
    }
    done_cv.notify_all();
  }
}

Result<std::optional<IdempotencyEntry>> EventLog::Impl::LookupIdempotencyKey(const std::string& key,
                                                                             int64_t now_ms) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, db->Get(Cf::kIngestMeta, key));
  if (!value) return std::optional<IdempotencyEntry>();
  ASSIGN_OR_RETURN(IdempotencyEntry entry, DecodeIdempotencyEntry(*value));
  if (Expired(entry.created_ms, now_ms)) return std::optional<IdempotencyEntry>();
  return std::optional<IdempotencyEntry>(entry);
}

// Settles the batches whose key was committed before (or earlier in this same group, which
// counts as before: arrival order decides which one is the original).
void EventLog::Impl::CheckIdempotencyKeys(const std::vector<Pending*>& group, int64_t now_ms) {
  std::unordered_map<std::string, const Pending*> first_in_group;
  for (Pending* p : group) {
    if (p->idempotency_key.empty()) continue;
    std::string key = IdempotencyKey(p->source_id, p->idempotency_key);
    Result<std::optional<IdempotencyEntry>> prior = LookupIdempotencyKey(key, now_ms);
    if (!prior.ok() || prior->has_value()) {
      p->settled_before_write = true;
      p->status = prior.status();
      if (prior.ok()) p->ack = {(*prior)->ack.first_offset, (*prior)->ack.count, true};
    } else if (!first_in_group.emplace(key, p).second) {
      p->status = Status::Ok();
      p->ack.duplicate = true;  // the original's offsets are filled in once it has them
    }
  }
}

void EventLog::Impl::AddRecords(Pending* p, rocksdb::WriteBatch* batch) {
  uint64_t& next = next_offsets[p->source_id];
  p->ack = {next, p->records.size(), false};
  std::string value;
  for (const Record& r : p->records) {
    value.clear();
    EncodeRecord(r, &value);
    batch->Put(db->cf(Cf::kEvents), EventKey(p->source_id, next++), value);
  }
}

std::vector<CommittedBatch> EventLog::Impl::CommitGroup(const std::vector<Pending*>& group) {
  int64_t now_ms = clock->NowMs();
  CheckIdempotencyKeys(group, now_ms);
  rocksdb::WriteBatch batch;
  std::unordered_map<std::string, AppendAck> written_keys;
  std::vector<uint32_t> touched;
  for (Pending* p : group) {
    if (p->settled_before_write) continue;
    std::string key = p->idempotency_key.empty() ? std::string()
                                                 : IdempotencyKey(p->source_id, p->idempotency_key);
    if (p->ack.duplicate) {
      p->ack = written_keys.at(key);
      p->ack.duplicate = true;
      continue;
    }
    AddRecords(p, &batch);
    touched.push_back(p->source_id);
    if (key.empty()) continue;
    batch.Put(db->cf(Cf::kIngestMeta), key, EncodeIdempotencyEntry(p->ack, now_ms));
    batch.Put(db->cf(Cf::kIngestMeta), IdempotencyExpiryKey(now_ms, key), key);
    written_keys[key] = p->ack;
  }
  for (uint32_t id : touched) {
    std::string offset;
    AppendBigEndian64(&offset, next_offsets[id]);
    batch.Put(db->cf(Cf::kIngestMeta), NextOffsetKey(id), offset);
  }

  Status wrote = batch.Count() > 0 ? db->Write(&batch, options.sync) : Status::Ok();
  if (!wrote.ok()) {
    for (uint32_t id : touched) next_offsets[id] = committed_next[id].load();
    for (Pending* p : group) {
      if (!p->settled_before_write) p->status = wrote.WithContext("appending to the event log");
    }
    return {};
  }
  for (uint32_t id : touched) committed_next[id].store(next_offsets[id], std::memory_order_release);
  std::vector<CommittedBatch> committed;
  for (const Pending* p : group) {
    if (p->status.ok() && !p->ack.duplicate && !p->records.empty()) {
      committed.push_back({p->source_id, p->ack.first_offset, &p->records});
    }
  }
  return committed;
}

void EventLog::Impl::MaybePurgeExpiredKeys() {
  int64_t now_ms = clock->NowMs();
  if (now_ms - last_purge_ms < kPurgeIntervalMs) return;
  last_purge_ms = now_ms;
  // A failed purge only leaves dead keys behind; they are ignored on look-up and retried later.
  (void)PurgeExpiredKeys(now_ms);
}

Status EventLog::Impl::PurgeExpiredKeys(int64_t now_ms) {
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it = db->NewIterator(Cf::kIngestMeta);
  int purged = 0;
  for (it->Seek(rocksdb::Slice(kIdemExpiryPrefix.data(), kIdemExpiryPrefix.size()));
       it->Valid() && HasPrefix(it->key(), kIdemExpiryPrefix) && purged < kMaxPurgedPerRound;
       it->Next(), ++purged) {
    if (it->key().size() < kIdemExpiryPrefix.size() + 8) break;
    int64_t created_ms =
        static_cast<int64_t>(ReadBigEndian64(it->key().data() + kIdemExpiryPrefix.size()));
    if (!Expired(created_ms, now_ms)) break;
    std::string idem_key = it->value().ToString();
    // The key may have been used again since: only an expired entry goes.
    ASSIGN_OR_RETURN(std::optional<IdempotencyEntry> live, LookupIdempotencyKey(idem_key, now_ms));
    if (!live) batch.Delete(db->cf(Cf::kIngestMeta), idem_key);
    batch.Delete(db->cf(Cf::kIngestMeta), it->key());
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "scanning idempotency keys"));
  if (batch.Count() == 0) return Status::Ok();
  return db->Write(&batch, /*sync=*/false);
}

Result<std::unique_ptr<EventLog>> EventLog::Open(Db* db, const std::vector<std::string>& sources,
                                                 const Clock* clock, EventLogOptions options) {
  auto impl = std::make_unique<Impl>(db, clock, options);
  RETURN_IF_ERROR(impl->LoadSourceIds(sources));
  RETURN_IF_ERROR(impl->LoadNextOffsets());
  impl->last_purge_ms = clock->NowMs();
  Impl* raw = impl.get();
  impl->committer = std::thread([raw] { raw->Run(); });
  impl->applier = std::thread([raw] { raw->Apply(); });
  return std::unique_ptr<EventLog>(new EventLog(std::move(impl)));
}

EventLog::EventLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EventLog::~EventLog() = default;

void EventLog::SetCommitHook(CommitHook hook) {
  auto shared = std::make_shared<const CommitHook>(std::move(hook));
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->hook = std::move(shared);
}

Result<AppendAck> EventLog::Append(const std::string& source, std::vector<Record> records,
                                   const std::string& idempotency_key) {
  ASSIGN_OR_RETURN(uint32_t id, SourceId(source));
  return impl_->Append(id, std::move(records), idempotency_key);
}

Status EventLog::Read(const std::string& source, uint64_t offset, size_t max,
                      std::vector<Record>* out) {
  ASSIGN_OR_RETURN(uint32_t id, SourceId(source));
  std::string start = EventKey(id, offset);
  // A group is readable in RocksDB a moment before its sync returns (storage/db.h); only what
  // is durable is read.
  std::string end = EventKey(id, impl_->committed_next[id].load(std::memory_order_acquire));
  rocksdb::Slice upper_bound(end);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->raw()->NewIterator(read_options, impl_->db->cf(Cf::kEvents)));
  size_t old_size = out->size();
  Status st;
  for (it->Seek(start); it->Valid() && out->size() - old_size < max && st.ok(); it->Next()) {
    st = DecodeRecord(std::string_view(it->value().data(), it->value().size()),
                      &out->emplace_back());
  }
  if (st.ok()) st = FromRocks(it->status(), "reading the event log");
  if (!st.ok()) out->resize(old_size);
  return st.WithContext(fmt::format("source '{}'", source));
}

Result<uint64_t> EventLog::DropBefore(const std::string& source, int64_t cutoff_ms,
                                      uint64_t max_offset) {
  ASSIGN_OR_RETURN(uint32_t id, SourceId(source));
  std::string end = EventKey(id, max_offset);
  rocksdb::Slice upper_bound(end);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->raw()->NewIterator(read_options, impl_->db->cf(Cf::kEvents)));
  std::optional<uint64_t> first;
  uint64_t stop = 0, dropped = 0;
  Record record;
  for (it->Seek(EventKey(id, 0)); it->Valid(); it->Next()) {
    RETURN_IF_ERROR(DecodeRecord(std::string_view(it->value().data(), it->value().size()), &record)
                        .WithContext(fmt::format("source '{}'", source)));
    if (record.ts_ms >= cutoff_ms) break;
    uint64_t offset = ReadBigEndian64(it->key().data() + 4);
    if (!first) first = offset;
    stop = offset + 1;
    ++dropped;
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading the event log"));
  if (!first) return 0;
  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(FromRocks(
      batch.DeleteRange(impl_->db->cf(Cf::kEvents), EventKey(id, *first), EventKey(id, stop)),
      "dropping old log records"));
  RETURN_IF_ERROR(impl_->db->Write(&batch, /*sync=*/false));
  return dropped;
}

Result<std::optional<std::pair<uint64_t, int64_t>>> EventLog::Oldest(const std::string& source) {
  ASSIGN_OR_RETURN(uint32_t id, SourceId(source));
  std::string end;
  AppendBigEndian32(&end, id + 1);
  rocksdb::Slice upper_bound(end);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->raw()->NewIterator(read_options, impl_->db->cf(Cf::kEvents)));
  it->Seek(EventKey(id, 0));
  RETURN_IF_ERROR(FromRocks(it->status(), "reading the event log"));
  if (!it->Valid()) return std::optional<std::pair<uint64_t, int64_t>>();
  Record record;
  RETURN_IF_ERROR(DecodeRecord(std::string_view(it->value().data(), it->value().size()), &record));
  return std::optional(std::pair(ReadBigEndian64(it->key().data() + 4), record.ts_ms));
}

Result<uint64_t> EventLog::NextOffset(const std::string& source) {
  ASSIGN_OR_RETURN(uint32_t id, SourceId(source));
  return impl_->committed_next[id].load(std::memory_order_acquire);
}

size_t EventLog::PendingRecords() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->pending_records;
}

Result<uint32_t> EventLog::SourceId(const std::string& source) const {
  auto it = impl_->ids.find(source);
  if (it == impl_->ids.end()) return Status::NotFound(fmt::format("unknown source '{}'", source));
  return it->second;
}

}  // namespace freshet
