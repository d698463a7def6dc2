#include "stream/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <tuple>

#include "core/int_math.h"
#include "stream/entity_key.h"
#include "stream/entity_map.h"
#include "stream/value_ops.h"
#include "stream/view_lookups.h"
#include "stream/watermark.h"

namespace freshet {
namespace {

// Records between the stages of Apply's prefetch pipeline (slot, then entry).
constexpr uint32_t kPrefetchDistance = 3;

}  // namespace

Status StateKeyOrderCheck::Next(uint32_t view_id, uint64_t hash, std::string_view entity_key) {
  // Both sides as string_view: clang 14 cannot compare tuples of string and string_view.
  std::string_view last_key = key_;
  if (any_ && std::tie(view_id_, hash_, last_key) >= std::tie(view_id, hash, entity_key)) {
    return Status::InvalidArgument(fmt::format(
        "checkpoint put of view {} entity '{}' out of state key order", view_id, entity_key));
  }
  any_ = true;
  view_id_ = view_id;
  hash_ = hash;
  key_.assign(entity_key);
  return Status::Ok();
}

struct StreamEngine::Impl {
  struct ViewRuntime {
    std::shared_ptr<const CompiledView> view;
    const CompiledView::Impl* plan = nullptr;
    std::unique_ptr<const ViewLookups> lookups;  // null: the view has no lookups
    uint32_t id = 0;
    size_t source = 0;
    // The backend may hold states of this view that are not resident, so a lookup that misses
    // memory must ask it. False on a fresh start until entities are dropped from memory.
    std::atomic<bool> may_be_stored{false};
    std::atomic<bool> dropped{false};  // DropView: no longer applied, read or checkpointed
  };
  struct SourceRuntime {
    std::string name;
    int64_t lateness_ms = 0;
    SourceProgress progress;  // written by the writer under meta_mu; read by either
    std::vector<size_t> views;
    std::vector<LateEvent> pending_late;  // not yet committed, oldest first; under meta_mu
  };
  // An entry changed since the last checkpoint, with its key hash.
  struct Dirty {
    uint64_t hash;
    EntityEntry* entry;
  };
  struct Shard {
    std::mutex mu;
    std::vector<EntityMap> maps;            // by view
    std::vector<std::vector<Dirty>> dirty;  // by view
  };
  // An entry a checkpoint writes: a dirty one, or a swept clean one to delete (`erase`).
  struct Pending {
    uint64_t hash;
    EntityEntry* entry;
    bool erase;
  };
  // A state to delete from memory once the checkpoint that erases it is committed.
  struct Doomed {
    size_t shard;
    size_t view;
    EntityEntry* entry;
  };

  StateBackend* backend;
  const Clock* clock;
  EngineOptions options;
  std::vector<std::unique_ptr<ViewRuntime>> views;
  std::vector<size_t> views_by_id;  // view indexes by ascending view id
  std::map<std::string, size_t> view_index;
  std::vector<SourceRuntime> sources;
  std::map<std::string, size_t> source_index;
  std::vector<std::unique_ptr<Shard>> shards;

  mutable std::mutex meta_mu;  // progress and pending late events, for concurrent readers
  Status broken;               // sticky write error; writer only
  std::atomic<uint64_t> events_applied{0};
  std::atomic<uint64_t> checkpoints{0};
  std::atomic<int64_t> checkpoint_ns{0};  // wall time spent in successful checkpoints
  std::atomic<uint64_t> entity_loads{0};
  std::atomic<int64_t> resident_entities{0};
  std::atomic<int64_t> resident_bytes{0};
  uint64_t records_since_checkpoint = 0;
  size_t dirty_entries = 0;  // entries marked dirty since the last checkpoint (writer only)
  int64_t last_checkpoint_ms = 0;
  size_t sweep_cursor = 0;
  size_t drop_cursor = 0;

  // Writer scratch, reused across batches so Apply does not allocate per event.
  std::vector<uint32_t> accepted;
  std::vector<std::string> keys;
  std::vector<uint64_t> hashes;
  std::vector<int64_t> events;  // ViewState::PrepareEvent's words, event_words per record
  std::vector<uint32_t> order;
  std::vector<uint32_t> shard_starts;
  std::vector<uint32_t> shard_fill;
  std::string serialized;
  std::vector<Pending> pending;
  std::vector<Record> enriched;  // Enrich's output

  // The hash's high half scaled to [0, shards): a multiplication instead of a division, and
  // independent of the low bits that pick the slot in the shard's map.
  size_t ShardOf(uint64_t hash) const { return ((hash >> 32) * shards.size()) >> 32; }

  Status Init(const ProjectSpec& spec);
  Status ApplyToView(size_t v, const std::vector<Record>& records);
  // The accepted records with a view's looked-up fields, into `enriched` (same indexes).
  Status Enrich(const ViewLookups& lookups, const std::vector<Record>& records);
  void GroupByShard(size_t n);
  Result<EntityEntry*> Lookup(Shard& shard, size_t v, uint64_t hash, std::string_view key,
                              bool create);
  Status Commit(std::vector<Doomed>* doomed);
  // After a failed commit: every resident entry is dirty again, so the next checkpoint writes
  // all that the failed one may have left unwritten.
  void MarkAllDirty();
  Status FlushShard(size_t s, size_t v, bool sweep, StateCommitWriter* writer,
                    std::vector<Doomed>* doomed);
  bool Trim(size_t v, EntityEntry* e);
  Status Emit(size_t s, size_t v, EntityEntry* e, bool erase, StateCommitWriter* writer,
              std::vector<Doomed>* doomed);
  void DropClean();
  int64_t Horizon(size_t v) const;
  int64_t Watermark(size_t source) const;
};

Status StreamEngine::Impl::Init(const ProjectSpec& spec) {
  for (const auto& [name, source] : spec.sources) {
    source_index[name] = sources.size();
    SourceRuntime rt;
    rt.name = name;
    rt.lateness_ms = source.allowed_lateness_ms;
    sources.push_back(std::move(rt));
  }
  for (const auto& [name, view_spec] : spec.feature_views) {
    // A table view has no window state: its reads go to the table (stream/table_view.h).
    if (spec.sources.at(view_spec.source).kind == SourceKind::kTable) continue;
    auto rt = std::make_unique<ViewRuntime>();
    ASSIGN_OR_RETURN(rt->view, CompiledView::Compile(spec, view_spec));
    rt->plan = &rt->view->impl();
    if (!view_spec.lookups.empty()) {
      if (options.tables == nullptr) {
        return Status::InvalidArgument(
            fmt::format("view '{}' looks up table '{}', and the engine has no tables", name,
                        view_spec.lookups.front().table));
      }
      rt->lookups = std::make_unique<const ViewLookups>(spec, view_spec);
    }
    ASSIGN_OR_RETURN(rt->id, backend->ViewId(name));
    auto it = source_index.find(view_spec.source);
    if (it == source_index.end()) {
      return Status::InvalidArgument(
          fmt::format("view '{}': unknown source '{}'", name, view_spec.source));
    }
    rt->source = it->second;
    sources[it->second].views.push_back(views.size());
    view_index[name] = views.size();
    views.push_back(std::move(rt));
  }
  for (size_t v = 0; v < views.size(); ++v) views_by_id.push_back(v);
  std::sort(views_by_id.begin(), views_by_id.end(),
            [&](size_t a, size_t b) { return views[a]->id < views[b]->id; });
  ASSIGN_OR_RETURN(auto stored, backend->LoadProgress());
  for (auto& [name, progress] : stored) {
    auto it = source_index.find(name);
    if (it != source_index.end()) sources[it->second].progress = progress;
  }
  // States exist only if something was ever committed; a fresh start need not look them up.
  for (auto& view : views) view->may_be_stored = !stored.empty();
  size_t n = std::max<size_t>(options.shards, 1);
  for (size_t i = 0; i < n; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->maps.resize(views.size());
    shard->dirty.resize(views.size());
    shards.push_back(std::move(shard));
  }
  last_checkpoint_ms = clock->NowMs();
  return Status::Ok();
}

int64_t StreamEngine::Impl::Watermark(size_t source) const {
  return WatermarkMs(sources[source].progress.max_event_ms, sources[source].lateness_ms);
}

int64_t StreamEngine::Impl::Horizon(size_t v) const {
  int64_t wm = Watermark(views[v]->source);
  return wm == INT64_MIN ? INT64_MIN : SaturatingSub(wm, options.as_of_history_ms);
}

Result<std::unique_ptr<StreamEngine>> StreamEngine::Create(const ProjectSpec& spec,
                                                           StateBackend* backend,
                                                           const Clock* clock,
                                                           EngineOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->backend = backend;
  impl->clock = clock;
  impl->options = options;
  RETURN_IF_ERROR(impl->Init(spec));
  return std::unique_ptr<StreamEngine>(new StreamEngine(std::move(impl)));
}

StreamEngine::StreamEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StreamEngine::~StreamEngine() = default;

uint64_t StreamEngine::NextOffset(const std::string& source, int32_t partition) const {
  auto it = impl_->source_index.find(source);
  if (it == impl_->source_index.end()) return 0;
  std::lock_guard lock(impl_->meta_mu);
  return impl_->sources[it->second].progress.NextOffset(partition);
}

PartitionOffsets StreamEngine::Position(const std::string& source) const {
  auto it = impl_->source_index.find(source);
  if (it == impl_->source_index.end()) return {};
  std::lock_guard lock(impl_->meta_mu);
  return impl_->sources[it->second].progress.next_offsets;
}

Status StreamEngine::Advance(const std::string& source, int32_t partition, uint64_t next_offset) {
  Impl& m = *impl_;
  RETURN_IF_ERROR(m.broken);
  auto it = m.source_index.find(source);
  if (it == m.source_index.end())
    return Status::NotFound(fmt::format("unknown source '{}'", source));
  std::lock_guard lock(m.meta_mu);
  uint64_t& next = m.sources[it->second].progress.next_offsets[partition];
  next = std::max(next, next_offset);
  return Status::Ok();
}

Status StreamEngine::Apply(const std::string& source, int32_t partition, uint64_t first_offset,
                           const std::vector<Record>& records) {
  Impl& m = *impl_;
  RETURN_IF_ERROR(m.broken);
  auto it = m.source_index.find(source);
  if (it == m.source_index.end())
    return Status::NotFound(fmt::format("unknown source '{}'", source));
  Impl::SourceRuntime& src = m.sources[it->second];
  const uint64_t next = src.progress.NextOffset(partition);
  const size_t skip = next > first_offset ? static_cast<size_t>(next - first_offset) : 0;
  if (skip >= records.size()) return Status::Ok();

  // The watermark advances record by record, exactly as if they came one at a time.
  SourceProgress progress = src.progress;
  WatermarkTracker watermark(src.lateness_ms, progress.max_event_ms);
  std::vector<LateEvent> late;
  m.accepted.clear();
  for (size_t i = skip; i < records.size(); ++i) {
    if (!watermark.Accept(records[i].ts_ms)) {
      late.push_back(
          LateEvent{source, first_offset + i, watermark.watermark_ms(), records[i], partition});
      continue;
    }
    m.accepted.push_back(static_cast<uint32_t>(i));
  }
  progress.max_event_ms = watermark.max_event_ms();
  for (size_t v : src.views) {
    if (m.views[v]->dropped.load(std::memory_order_relaxed)) continue;
    const ViewLookups* lookups = m.views[v]->lookups.get();
    Status s = lookups ? m.Enrich(*lookups, records) : Status::Ok();
    if (s.ok()) s = m.ApplyToView(v, lookups ? m.enriched : records);
    if (!s.ok()) {
      m.broken = s;
      return s;
    }
  }
  progress.next_offsets[partition] = first_offset + records.size();
  progress.late_events += late.size();
  {
    std::lock_guard lock(m.meta_mu);
    src.progress = progress;
    for (LateEvent& e : late) src.pending_late.push_back(std::move(e));
  }
  m.events_applied += m.accepted.size();
  m.records_since_checkpoint += records.size() - skip;
  if (m.records_since_checkpoint >= m.options.checkpoint_records ||
      m.clock->NowMs() - m.last_checkpoint_ms >= m.options.checkpoint_interval_ms) {
    return Checkpoint();
  }
  return Status::Ok();
}

Status StreamEngine::Impl::Enrich(const ViewLookups& lookups, const std::vector<Record>& records) {
  if (enriched.size() < records.size()) enriched.resize(records.size());
  for (uint32_t i : accepted) {
    RETURN_IF_ERROR(lookups.Enrich(*options.tables, records[i], &enriched[i]));
  }
  return Status::Ok();
}

// Computes every accepted record's entity key, shard and prepared event (ViewState::
// PrepareEvent) in arrival order, then visits shards in turn, taking each shard lock once per
// batch. Records of one entity keep their order.
Status StreamEngine::Impl::ApplyToView(size_t v, const std::vector<Record>& records) {
  const ViewRuntime& view = *views[v];
  const CompiledView::Impl& plan = *view.plan;
  const std::vector<int>& key_fields = plan.key_fields;
  const size_t n = accepted.size();
  const size_t words = plan.event_words;
  if (keys.size() < n) keys.resize(n);
  hashes.resize(n);
  events.resize(n * words);
  for (size_t j = 0; j < n; ++j) {
    const Record& r = records[accepted[j]];
    ViewState::PrepareEvent(plan, r, &events[j * words]);
    EncodeRecordKey(r, key_fields, &keys[j]);
    hashes[j] = HashBytes(keys[j]);
  }
  GroupByShard(n);
  for (size_t s = 0; s < shards.size(); ++s) {
    const uint32_t begin = shard_starts[s], end = shard_starts[s + 1];
    if (begin == end) continue;
    Shard& shard = *shards[s];
    EntityMap& map = shard.maps[v];
    std::lock_guard lock(shard.mu);
    // Every lookup among a million entities misses the cache twice (slot, entry): prefetch
    // the slot of the record 2 * kPrefetchDistance ahead and the entry of the one
    // kPrefetchDistance ahead, so the misses of consecutive records overlap.
    for (uint32_t pos = begin; pos < std::min(end, begin + 2 * kPrefetchDistance); ++pos) {
      map.PrefetchSlot(hashes[order[pos]]);
    }
    for (uint32_t pos = begin; pos < end; ++pos) {
      if (pos + 2 * kPrefetchDistance < end)
        map.PrefetchSlot(hashes[order[pos + 2 * kPrefetchDistance]]);
      if (pos + kPrefetchDistance < end) {
        const uint32_t ahead = order[pos + kPrefetchDistance];
        map.PrefetchEntry(hashes[ahead]);
        __builtin_prefetch(&keys[ahead]);
        __builtin_prefetch(&events[ahead * words]);
        if (plan.insert_reads_record) {
          // The batch is visited in shard order: its records' values are scattered too.
          const char* values =
              reinterpret_cast<const char*>(records[accepted[ahead]].values.data());
          for (int line = 0; line < 3; ++line) __builtin_prefetch(values + 64 * line);
        }
      }
      uint32_t j = order[pos];
      ASSIGN_OR_RETURN(EntityEntry * e, Lookup(shard, v, hashes[j], keys[j], /*create=*/true));
      e->state.Insert(&events[j * words], records[accepted[j]]);
      e->referenced = true;
      if (!e->dirty) {
        e->dirty = true;
        shard.dirty[v].push_back({hashes[j], e});
        ++dirty_entries;
      }
    }
  }
  return Status::Ok();
}

// Counting sort of the batch positions by shard, stable so per-entity order is kept.
void StreamEngine::Impl::GroupByShard(size_t n) {
  shard_starts.assign(shards.size() + 1, 0);
  for (size_t j = 0; j < n; ++j) ++shard_starts[ShardOf(hashes[j]) + 1];
  for (size_t s = 0; s < shards.size(); ++s) shard_starts[s + 1] += shard_starts[s];
  order.resize(n);
  shard_fill.assign(shard_starts.begin(), shard_starts.end() - 1);
  for (size_t j = 0; j < n; ++j) order[shard_fill[ShardOf(hashes[j])]++] = static_cast<uint32_t>(j);
}

// The resident entry of `key`, or one loaded from the backend; with `create`, a new empty one
// when neither has it, else null. A stored state of an older view definition counts as none.
// REQUIRES: shard.mu held.
Result<EntityEntry*> StreamEngine::Impl::Lookup(Shard& shard, size_t v, uint64_t hash,
                                                std::string_view key, bool create) {
  ViewRuntime& view = *views[v];
  if (EntityEntry* e = shard.maps[v].Find(hash, key)) return e;
  if (view.dropped.load(std::memory_order_relaxed)) return nullptr;  // raced with DropView
  std::optional<std::string> stored;
  if (view.may_be_stored.load(std::memory_order_relaxed)) {
    ASSIGN_OR_RETURN(stored, backend->LoadEntity(view.id, std::string(key)));
  }
  if (!stored && !create) return nullptr;
  auto entry = std::make_unique<EntityEntry>(std::string(key), hash, *view.plan);
  if (stored) {
    Status s = entry->state.Deserialize(*stored);
    if (s.ok()) {
      ++entity_loads;
    } else if (s.code() != StatusCode::kInvalidArgument) {
      return s;  // corrupt: stop rather than silently lose the entity's history
    } else if (!create) {
      return nullptr;
    } else {
      entry = std::make_unique<EntityEntry>(std::string(key), hash, *view.plan);
    }
  }
  entry->bytes = entry->state.MemoryBytes();
  resident_bytes += static_cast<int64_t>(entry->bytes);
  ++resident_entities;
  return shard.maps[v].Insert(std::move(entry));
}

Status StreamEngine::Checkpoint() {
  Impl& m = *impl_;
  RETURN_IF_ERROR(m.broken);
  if (m.options.before_checkpoint) m.options.before_checkpoint();
  const auto started = std::chrono::steady_clock::now();
  std::vector<Impl::Doomed> doomed;
  Status s = m.Commit(&doomed);
  if (!s.ok()) {
    // Nothing of the commit landed (the backend's contract) and memory is intact, only ahead
    // of the backend as between any two checkpoints: a later checkpoint can still commit it.
    m.MarkAllDirty();
    return s;
  }
  for (const Impl::Doomed& d : doomed) {
    Impl::Shard& shard = *m.shards[d.shard];
    std::lock_guard lock(shard.mu);
    m.resident_bytes -= static_cast<int64_t>(d.entry->bytes);
    --m.resident_entities;
    shard.maps[d.view].Erase(d.entry);
  }
  ++m.checkpoints;
  m.checkpoint_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now() - started)
                         .count();
  m.records_since_checkpoint = 0;
  m.last_checkpoint_ms = m.clock->NowMs();
  if (m.options.max_resident_bytes > 0 &&
      m.resident_bytes.load() > static_cast<int64_t>(m.options.max_resident_bytes)) {
    m.DropClean();
  }
  return Status::Ok();
}

// Writes one commit: every dirty entry's state and every swept entity's deletion, in state key
// order (views by id; shards in turn, as a shard holds a range of key hashes; each shard's
// entries by hash and key), then the late events and progress. Entries to delete go to
// `doomed`, erased from memory once committed.
Status StreamEngine::Impl::Commit(std::vector<Doomed>* doomed) {
  ASSIGN_OR_RETURN(std::unique_ptr<StateCommitWriter> writer, backend->BeginCommit(dirty_entries));
  dirty_entries = 0;
  const size_t sweep_count =
      std::max<size_t>(1, static_cast<size_t>(shards.size() * options.sweep_fraction));
  for (size_t v : views_by_id) {
    for (size_t s = 0; s < shards.size(); ++s) {
      size_t distance = (s + shards.size() - sweep_cursor) % shards.size();
      RETURN_IF_ERROR(FlushShard(s, v, distance < sweep_count, writer.get(), doomed));
    }
  }
  sweep_cursor = (sweep_cursor + sweep_count) % shards.size();
  std::vector<LateEvent> late;
  std::map<std::string, SourceProgress> progress;
  {
    std::lock_guard lock(meta_mu);
    for (auto& src : sources) {
      progress[src.name] = src.progress;
      for (LateEvent& e : src.pending_late) late.push_back(std::move(e));
      src.pending_late.clear();
    }
  }
  Status finished = writer->Finish(late, progress);
  if (!finished.ok()) {
    // Back to the front of their sources' queues, in their order, for the next checkpoint.
    std::lock_guard lock(meta_mu);
    for (auto it = late.rbegin(); it != late.rend(); ++it) {
      auto& queue = sources[source_index.at(it->source)].pending_late;
      queue.insert(queue.begin(), std::move(*it));
    }
  }
  return finished;
}

void StreamEngine::Impl::MarkAllDirty() {
  dirty_entries = 0;
  for (auto& shard : shards) {
    std::lock_guard lock(shard->mu);
    for (size_t v = 0; v < views.size(); ++v) {
      shard->dirty[v].clear();
      shard->maps[v].ForEach([&](EntityEntry* e) {
        e->dirty = true;
        shard->dirty[v].push_back({e->hash, e});
      });
      dirty_entries += shard->dirty[v].size();
    }
  }
}

// Writes view v's dirty entries of shard s, in key order; with `sweep`, first evicts and
// expires the clean ones.
Status StreamEngine::Impl::FlushShard(size_t s, size_t v, bool sweep, StateCommitWriter* writer,
                                      std::vector<Doomed>* doomed) {
  Shard& shard = *shards[s];
  std::lock_guard lock(shard.mu);
  pending.clear();
  if (sweep) {
    shard.maps[v].ForEach([&](EntityEntry* e) {
      if (!e->dirty && Trim(v, e)) pending.push_back({e->hash, e, /*erase=*/true});
    });
  }
  for (const Dirty& d : shard.dirty[v]) pending.push_back({d.hash, d.entry, /*erase=*/false});
  shard.dirty[v].clear();
  std::sort(pending.begin(), pending.end(), [](const Pending& a, const Pending& b) {
    return a.hash != b.hash ? a.hash < b.hash : a.entry->key < b.entry->key;
  });
  for (size_t i = 0; i < pending.size(); ++i) {
    // Two stages: the entry, then (once it landed) the buffers its state points to.
    if (i + 2 * kPrefetchDistance < pending.size())
      EntityMap::PrefetchLines(pending[i + 2 * kPrefetchDistance].entry);
    if (i + kPrefetchDistance < pending.size())
      pending[i + kPrefetchDistance].entry->state.Prefetch();
    const Pending& p = pending[i];
    RETURN_IF_ERROR(Emit(s, v, p.entry, p.erase || Trim(v, p.entry), writer, doomed));
  }
  return Status::Ok();
}

// Evicts what reads at or after the horizon cannot need. True when the entity is to be deleted:
// expired, or nothing left.
bool StreamEngine::Impl::Trim(size_t v, EntityEntry* e) {
  const ViewRuntime& view = *views[v];
  const int64_t ttl = view.plan->spec.ttl_ms;
  const int64_t wm = Watermark(view.source);
  bool expired = options.expire_idle_entities && ttl > 0 && wm != INT64_MIN &&
                 e->state.last_event_ms() < SaturatingSub(wm, ttl);
  int64_t horizon = Horizon(v);
  bool empty = horizon != INT64_MIN && e->state.Evict(horizon);
  size_t bytes = e->state.MemoryBytes();
  resident_bytes += static_cast<int64_t>(bytes) - static_cast<int64_t>(e->bytes);
  e->bytes = bytes;
  return expired || empty;
}

// Writes the entry's state, or with `erase` its deletion (the entry then goes to `doomed`).
Status StreamEngine::Impl::Emit(size_t s, size_t v, EntityEntry* e, bool erase,
                                StateCommitWriter* writer, std::vector<Doomed>* doomed) {
  e->dirty = false;
  if (erase) {
    doomed->push_back(Doomed{s, v, e});
    return writer->Put(views[v]->id, e->key, nullptr);
  }
  serialized.clear();
  e->state.Serialize(&serialized);
  return writer->Put(views[v]->id, e->key, &serialized);
}

// Drops clean entries, skipping (and un-marking) those touched since the last pass, until the
// resident bytes are at 90% of the bound or two passes found nothing more.
void StreamEngine::Impl::DropClean() {
  const int64_t target = static_cast<int64_t>(options.max_resident_bytes * 0.9);
  std::vector<EntityEntry*> victims;
  for (size_t step = 0; step < 2 * shards.size() && resident_bytes.load() > target; ++step) {
    Shard& shard = *shards[drop_cursor];
    drop_cursor = (drop_cursor + 1) % shards.size();
    std::lock_guard lock(shard.mu);
    for (size_t v = 0; v < views.size(); ++v) {
      victims.clear();
      shard.maps[v].ForEach([&](EntityEntry* e) {
        if (e->dirty) return;
        if (e->referenced) {
          e->referenced = false;
        } else {
          victims.push_back(e);
        }
      });
      if (!victims.empty()) views[v]->may_be_stored = true;
      for (EntityEntry* e : victims) {
        resident_bytes -= static_cast<int64_t>(e->bytes);
        --resident_entities;
        shard.maps[v].Erase(e);
      }
    }
  }
}

Result<ViewRead> StreamEngine::Read(const std::string& view_name, const std::vector<Value>& key,
                                    const std::vector<std::string>& features, int64_t as_of_ms) {
  std::vector<ViewRead> out;
  RETURN_IF_ERROR(ReadBatch(view_name, {key}, features, as_of_ms, &out));
  return std::move(out.front());
}

Status StreamEngine::ReadBatch(const std::string& view_name,
                               const std::vector<std::vector<Value>>& keys,
                               const std::vector<std::string>& features, int64_t as_of_ms,
                               std::vector<ViewRead>* out) {
  Impl& m = *impl_;
  auto it = m.view_index.find(view_name);
  if (it == m.view_index.end() || m.views[it->second]->dropped.load()) {
    return Status::NotFound(fmt::format("unknown feature view '{}'", view_name));
  }
  const size_t v = it->second;
  const CompiledView& view = *m.views[v]->view;
  ASSIGN_OR_RETURN(std::vector<int> indexes, view.FeatureIndexes(features));
  const size_t arity = view.key_field_indexes().size();
  for (const std::vector<Value>& key : keys) {
    if (key.size() != arity) {
      return Status::InvalidArgument(fmt::format("feature view '{}' needs {} key value(s), got {}",
                                                 view_name, arity, key.size()));
    }
  }
  out->resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string encoded = EncodeEntityKey(keys[i]);
    const uint64_t hash = HashBytes(encoded);
    Impl::Shard& shard = *m.shards[m.ShardOf(hash)];
    ViewRead& read = (*out)[i];
    std::lock_guard lock(shard.mu);
    ASSIGN_OR_RETURN(EntityEntry * e, m.Lookup(shard, v, hash, encoded, /*create=*/false));
    read.status = view.ReadEntity(e ? &e->state : nullptr, as_of_ms, indexes, &read.values);
    read.event_ms = 0;
    if (e) {
      e->referenced = true;
      read.event_ms = e->state.last_event_ms();
    }
  }
  return Status::Ok();
}

Status StreamEngine::DropView(const std::string& name) {
  Impl& m = *impl_;
  auto it = m.view_index.find(name);
  if (it == m.view_index.end() || m.views[it->second]->dropped.load()) {
    return Status::NotFound(fmt::format("unknown feature view '{}'", name));
  }
  const size_t v = it->second;
  m.views[v]->dropped = true;
  for (auto& shard : m.shards) {
    std::lock_guard lock(shard->mu);
    shard->maps[v].ForEach([&](EntityEntry* e) {
      m.resident_bytes -= static_cast<int64_t>(e->bytes);
      --m.resident_entities;
    });
    m.dirty_entries -= std::min(m.dirty_entries, shard->dirty[v].size());
    shard->dirty[v].clear();
    shard->maps[v] = EntityMap();
  }
  return Status::Ok();
}

Result<uint32_t> StreamEngine::ViewIdOf(const std::string& name) const {
  auto it = impl_->view_index.find(name);
  if (it == impl_->view_index.end() || impl_->views[it->second]->dropped.load()) {
    return Status::NotFound(fmt::format("unknown feature view '{}'", name));
  }
  return impl_->views[it->second]->id;
}

const CompiledView* StreamEngine::view(const std::string& name) const {
  auto it = impl_->view_index.find(name);
  return it == impl_->view_index.end() ? nullptr : impl_->views[it->second]->view.get();
}

Result<std::vector<LateEvent>> StreamEngine::ListLate(const std::string& source, size_t limit) {
  auto it = impl_->source_index.find(source);
  if (it == impl_->source_index.end())
    return Status::NotFound(fmt::format("unknown source '{}'", source));
  std::vector<LateEvent> out;
  {
    std::lock_guard lock(impl_->meta_mu);
    const auto& pending = impl_->sources[it->second].pending_late;
    for (auto e = pending.rbegin(); e != pending.rend() && out.size() < limit; ++e)
      out.push_back(*e);
  }
  if (out.size() < limit) {
    ASSIGN_OR_RETURN(auto stored, impl_->backend->ListLate(source, limit - out.size()));
    for (LateEvent& e : stored) out.push_back(std::move(e));
  }
  return out;
}

EngineStats StreamEngine::stats() const {
  const Impl& m = *impl_;
  EngineStats s;
  s.events_applied = m.events_applied.load();
  s.checkpoints = m.checkpoints.load();
  s.checkpoint_seconds = static_cast<double>(m.checkpoint_ns.load()) * 1e-9;
  s.entity_loads = m.entity_loads.load();
  s.entities = static_cast<uint64_t>(std::max<int64_t>(0, m.resident_entities.load()));
  s.resident_bytes = static_cast<uint64_t>(std::max<int64_t>(0, m.resident_bytes.load()));
  std::lock_guard lock(m.meta_mu);
  for (size_t i = 0; i < m.sources.size(); ++i) {
    s.watermark_ms[m.sources[i].name] = m.Watermark(i);
    s.late_events += m.sources[i].progress.late_events;
  }
  return s;
}

}  // namespace freshet
