#include "instance/generations.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>

#include "core/byte_codec.h"
#include "spec/spec_loader.h"
#include "stream/compiled_view_impl.h"
#include "stream/scoped_state_backend.h"
#include "stream/value_ops.h"

namespace freshet {
namespace {

// Keys and record version: part of the on-disk format (docs/formats.md).
constexpr std::string_view kGenerationPrefix = "generation/";
constexpr std::string_view kGenerationNextKey = "generation_next";
constexpr uint8_t kGenerationRecordV1 = 1;
// Records read per replay step.
constexpr size_t kReplayChunk = 50'000;

std::string GenerationKey(std::string_view view, uint32_t generation) {
  std::string key(kGenerationPrefix);
  key.append(view);
  key.push_back('/');
  AppendBigEndian32(&key, generation);
  return key;
}

// The fingerprint of a view's definition: what shapes its state, and its lookups (which
// shape its input).
Result<uint64_t> DefinitionFingerprint(const ProjectSpec& spec, const FeatureViewSpec& view) {
  ASSIGN_OR_RETURN(auto compiled, CompiledView::Compile(spec, view));
  std::string shape =
      fmt::format("{}|{}|{}", compiled->impl().fingerprint, view.entity, view.source);
  for (const LookupSpec& l : view.lookups) {
    shape += fmt::format("|{}:{}:{}", l.table, fmt::join(l.by, ","), fmt::join(l.fields, ","));
  }
  return HashBytes(shape);
}

// The definition `view` had in the spec text stored with its generation.
Result<FeatureViewSpec> StoredDefinition(const FeatureGenerations::Generation& record,
                                         const std::string& spec_path) {
  auto old = ParseProject(record.spec_text, spec_path);
  std::string why = old.ok() ? "it is not in the stored spec" : old.status().message();
  if (old.ok()) {
    auto found = old->feature_views.find(record.info.view);
    if (found != old->feature_views.end()) return found->second;
  }
  return Status::InvalidArgument(
      fmt::format("feature view '{}' generation {}: its stored definition does not load: {}",
                  record.info.view, record.info.generation, why));
}

bool IsStreamView(const ProjectSpec& spec, const FeatureViewSpec& view) {
  auto source = spec.sources.find(view.source);
  return source != spec.sources.end() && source->second.kind != SourceKind::kTable;
}

// Applies the runs of `batch` whose records are at or after `since_ms`.
Status ApplySince(StreamEngine* engine, const std::string& name, int64_t since_ms,
                  SourceBatch* batch, const FeatureGenerationsApply& apply) {
  if (since_ms == INT64_MIN) return apply(engine, name, batch);
  SourceBatch run;
  run.partition = batch->partition;
  size_t i = 0;
  const size_t n = batch->records.size();
  while (i < n) {
    while (i < n && batch->records[i].ts_ms < since_ms) ++i;
    size_t start = i;
    while (i < n && batch->records[i].ts_ms >= since_ms) ++i;
    if (start == i) continue;
    run.first_offset = batch->first_offset + start;
    run.records.assign(std::make_move_iterator(batch->records.begin() + start),
                       std::make_move_iterator(batch->records.begin() + i));
    run.next_offset = run.first_offset + run.records.size();
    RETURN_IF_ERROR(apply(engine, name, &run));
  }
  return Status::Ok();
}

}  // namespace

std::string_view GenerationStateName(GenerationState state) {
  switch (state) {
    case GenerationState::kBuilding:
      return "building";
    case GenerationState::kLive:
      return "caught-up";
    case GenerationState::kRetired:
      return "retired";
  }
  return "unknown";
}

Status ReplaySource(StreamEngine* engine, Source* source, EventLog* log, const std::string& name,
                    int64_t since_ms, const FeatureGenerationsApply& apply,
                    const std::atomic<bool>* stop) {
  ASSIGN_OR_RETURN(std::vector<int32_t> partitions, source->Partitions());
  // The engine keeps one offset per source; a partitioned source needs one per partition.
  if (partitions != std::vector<int32_t>{0}) {
    return Status::FailedPrecondition(
        fmt::format("reads {} partitions; this version applies one (partition 0) per source",
                    partitions.size()));
  }
  uint64_t start = engine->NextOffset(name);
  if (source->pushed()) {
    ASSIGN_OR_RETURN(auto oldest, log->Oldest(name));
    if (oldest) start = std::max(start, oldest->first);
  }
  RETURN_IF_ERROR(source->Seek({{0, start}}));
  SourceBatch batch;
  while (stop == nullptr || !stop->load()) {
    ASSIGN_OR_RETURN(bool more, source->Read(kReplayChunk, &batch));
    if (!more) return Status::Ok();
    RETURN_IF_ERROR(ApplySince(engine, name, since_ms, &batch, apply));
  }
  return Status::Ok();
}

struct FeatureGenerations::Routes {
  // By view, by generation.
  std::map<std::string, std::map<uint32_t, std::shared_ptr<StreamEngine>>> engines;
  std::map<std::string, uint32_t> defaults;
};

Result<std::unique_ptr<FeatureGenerations>> FeatureGenerations::Open(Context context) {
  std::unique_ptr<FeatureGenerations> g(new FeatureGenerations(std::move(context)));
  RETURN_IF_ERROR(g->Load());
  RETURN_IF_ERROR(g->Reconcile());
  std::set<uint32_t> numbers{1};  // the primary exists even with no view of its own
  for (const auto& [key, record] : g->records_) {
    if (record->info.state != GenerationState::kRetired) numbers.insert(key.first);
  }
  for (uint32_t number : numbers) RETURN_IF_ERROR(g->CreateEngine(number));
  g->primary_ = g->engines_.at(1).engine;
  g->PublishRoutes();
  return g;
}

FeatureGenerations::~FeatureGenerations() { Stop(); }

Status FeatureGenerations::Load() {
  auto it = ctx_.db->NewIterator(Cf::kCheckpoints);
  const rocksdb::Slice prefix(kGenerationPrefix.data(), kGenerationPrefix.size());
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view key = it->key().ToStringView();
    auto g = std::make_unique<Generation>();
    byte_codec::ByteReader in(it->value().ToStringView());
    uint8_t version = 0, state = 0;
    std::string_view text;
    bool ok = key.size() > kGenerationPrefix.size() + 5 && in.GetByte(&version) &&
              version == kGenerationRecordV1 && in.GetByte(&state) &&
              state >= static_cast<uint8_t>(GenerationState::kBuilding) &&
              state <= static_cast<uint8_t>(GenerationState::kRetired) &&
              in.GetSigned(&g->info.created_ms) && in.GetSigned(&g->info.since_ms) &&
              in.GetFixed64(&g->info.fingerprint) && in.GetBytes(&text);
    if (!ok) return Status::IoError(fmt::format("corrupt generation record '{}'", key));
    g->info.view = std::string(
        key.substr(kGenerationPrefix.size(), key.size() - kGenerationPrefix.size() - 5));
    g->info.generation = ReadBigEndian32(key.data() + key.size() - 4);
    g->info.state = static_cast<GenerationState>(state);
    g->spec_text = std::string(text);
    next_ = std::max(next_, g->info.generation + 1);
    records_[{g->info.generation, g->info.view}] = std::move(g);
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading feature generations"));
  ASSIGN_OR_RETURN(auto next, ctx_.db->Get(Cf::kCheckpoints, kGenerationNextKey));
  if (next && next->size() == 4) next_ = std::max(next_, ReadBigEndian32(next->data()));
  return Status::Ok();
}

Status FeatureGenerations::Persist(const Generation& g) {
  std::string value(1, static_cast<char>(kGenerationRecordV1));
  value.push_back(static_cast<char>(g.info.state));
  byte_codec::PutSigned(&value, g.info.created_ms);
  byte_codec::PutSigned(&value, g.info.since_ms);
  byte_codec::PutFixed64(&value, g.info.fingerprint);
  byte_codec::PutBytes(&value, g.spec_text);
  std::string next;
  AppendBigEndian32(&next, next_);
  rocksdb::WriteBatch batch;
  rocksdb::ColumnFamilyHandle* cf = ctx_.db->cf(Cf::kCheckpoints);
  RETURN_IF_ERROR(FromRocks(batch.Put(cf, GenerationKey(g.info.view, g.info.generation), value),
                            "writing a feature generation"));
  RETURN_IF_ERROR(FromRocks(batch.Put(cf, kGenerationNextKey, next), "writing a generation"));
  return ctx_.db->Write(&batch, /*sync=*/true);
}

int64_t FeatureGenerations::RetentionStart(const std::string& source) const {
  const SourceSpec& spec = ctx_.spec->sources.at(source);
  if (spec.retention_ms <= 0) return INT64_MIN;
  return ctx_.clock->NowMs() - spec.retention_ms;
}

// Gives every stream view a generation for its current definition: an existing one with the
// same fingerprint (which then reads the current definition), else a new BUILDING one. On a
// directory without generations, generation 1 (the state already there) is every view's.
Status FeatureGenerations::Reconcile() {
  std::ifstream in(ctx_.spec->spec_path, std::ios::binary);
  if (!in) return Status::IoError(fmt::format("cannot read {}", ctx_.spec->spec_path));
  std::stringstream text;
  text << in.rdbuf();
  spec_text_ = text.str();
  const bool fresh = records_.empty();
  const int64_t now = ctx_.clock->NowMs();
  for (const auto& [name, view] : ctx_.spec->feature_views) {
    if (!IsStreamView(*ctx_.spec, view)) continue;
    ASSIGN_OR_RETURN(uint64_t fingerprint, DefinitionFingerprint(*ctx_.spec, view));
    Generation* same = nullptr;
    for (auto& [key, record] : records_) {
      if (record->info.view == name && record->info.state != GenerationState::kRetired &&
          record->info.fingerprint == fingerprint) {
        same = record.get();
      }
    }
    if (same != nullptr) {
      if (same->spec_text != spec_text_) {
        same->spec_text = spec_text_;
        RETURN_IF_ERROR(Persist(*same));
      }
      continue;
    }
    auto g = std::make_unique<Generation>();
    g->info.view = name;
    g->info.generation = fresh ? 1 : next_;
    g->info.state = fresh ? GenerationState::kLive : GenerationState::kBuilding;
    const bool from_topic = FromTopic(g->info);
    g->info.created_ms = now;
    g->info.since_ms = fresh ? INT64_MIN : RetentionStart(view.source);
    g->info.fingerprint = fingerprint;
    g->spec_text = spec_text_;
    next_ = std::max(next_, g->info.generation + 1);
    if (!fresh && from_topic) {
      spdlog::warn(
          "feature view '{}': definition changed; generation {} reads kafka source '{}' again "
          "from the oldest offset the topic keeps",
          name, g->info.generation, view.source);
    } else if (!fresh) {
      spdlog::info("feature view '{}': definition changed; building generation {} from the log",
                   name, g->info.generation);
    }
    RETURN_IF_ERROR(Persist(*g));
    records_[{g->info.generation, g->info.view}] = std::move(g);
  }
  return Status::Ok();
}

// The engine of generation `number` over the current spec's sources and the definitions its
// records were built with. REQUIRES: its records are loaded; not yet in engines_.
Status FeatureGenerations::CreateEngine(uint32_t number) {
  auto spec = std::make_shared<ProjectSpec>(*ctx_.spec);
  spec->feature_views.clear();
  std::set<std::string> sources;
  for (const auto& [key, record] : records_) {
    const uint32_t n = key.first;
    if (n != number || record->info.state == GenerationState::kRetired) continue;
    const std::string& view = record->info.view;
    auto current = ctx_.spec->feature_views.find(view);
    FeatureViewSpec definition;
    if (record->spec_text == spec_text_ && current != ctx_.spec->feature_views.end()) {
      definition = current->second;
    } else {
      ASSIGN_OR_RETURN(definition, StoredDefinition(*record, ctx_.spec->spec_path));
    }
    sources.insert(definition.source);
    spec->feature_views[view] = std::move(definition);
  }
  if (number == 1) {
    sources.clear();
    for (const auto& [name, source] : spec->sources) sources.insert(name);
  }
  // The backend and spec live as long as the engine: a reader may still hold it after retire.
  struct Holder {
    std::shared_ptr<const ProjectSpec> spec;
    std::unique_ptr<ScopedStateBackend> scoped;
    std::unique_ptr<StreamEngine> engine;
  };
  auto holder = std::make_shared<Holder>();
  holder->spec = spec;
  StateBackend* backend = ctx_.backend;
  if (number != 1) {
    holder->scoped = std::make_unique<ScopedStateBackend>(ctx_.backend, number);
    backend = holder->scoped.get();
  }
  auto engine = StreamEngine::Create(*spec, backend, ctx_.clock, ctx_.engine);
  if (!engine.ok()) {
    return engine.status().WithContext(fmt::format("feature generation {}", number));
  }
  holder->engine = std::move(*engine);
  EngineSlot slot;
  slot.engine = std::shared_ptr<StreamEngine>(holder, holder->engine.get());
  slot.backend = backend;
  slot.sources.assign(sources.begin(), sources.end());
  engines_[number] = std::move(slot);
  return Status::Ok();
}

// REQUIRES: records_mu_ held, or no concurrent reader yet.
void FeatureGenerations::PublishRoutes() {
  auto routes = std::make_shared<Routes>();
  std::map<std::string, uint32_t> newest_building;
  for (const auto& [key, record] : records_) {
    const GenerationInfo& info = record->info;
    const uint32_t number = info.generation;
    auto slot = engines_.find(number);
    if (info.state == GenerationState::kRetired || slot == engines_.end()) continue;
    routes->engines[info.view][number] = slot->second.engine;
    if (info.state == GenerationState::kLive) {
      routes->defaults[info.view] = number;
    } else {
      newest_building[info.view] = number;
    }
  }
  for (const auto& [view, number] : newest_building) routes->defaults.emplace(view, number);
  live_.clear();
  for (const auto& [number, slot] : engines_) {
    if (Fed(number)) live_.push_back({slot.engine.get(), slot.sources});
  }
  std::atomic_store(&routes_, std::shared_ptr<const Routes>(std::move(routes)));
}

Result<RoutedEngine> FeatureGenerations::Route(const std::string& view, uint32_t generation) const {
  std::shared_ptr<const Routes> routes = std::atomic_load(&routes_);
  if (generation == 0) {
    auto d = routes->defaults.find(view);
    if (d == routes->defaults.end()) {
      return Status::NotFound(fmt::format("unknown feature view '{}'", view));
    }
    generation = d->second;
  }
  auto v = routes->engines.find(view);
  if (v != routes->engines.end()) {
    auto g = v->second.find(generation);
    if (g != v->second.end()) return RoutedEngine{g->second, generation};
  }
  return Status::NotFound(fmt::format("feature view '{}' has no generation {}", view, generation));
}

void FeatureGenerations::Start() {
  if (!ctx_.build_in_background || builder_.joinable()) return;
  {
    std::lock_guard lock(wake_mu_);
    wake_ = true;
  }
  builder_ = std::thread([this] { BuilderLoop(); });
}

void FeatureGenerations::Stop() {
  {
    std::lock_guard lock(wake_mu_);
    stopping_ = true;
  }
  wake_cv_.notify_all();
  if (builder_.joinable()) builder_.join();
}

void FeatureGenerations::BuilderLoop() {
  while (true) {
    {
      std::unique_lock lock(wake_mu_);
      wake_cv_.wait(lock, [&] { return stopping_ || wake_; });
      if (stopping_) return;
      wake_ = false;
    }
    while (!stopping_) {
      Result<bool> built = BuildOne();
      if (!built.ok()) {
        spdlog::error("building a feature generation: {}", built.status().ToString());
        break;  // retried on the next wake (a rebuild, or the next start)
      }
      if (!*built) break;
    }
  }
}

Status FeatureGenerations::BuildPending() {
  while (true) {
    ASSIGN_OR_RETURN(bool built, BuildOne());
    if (!built) return Status::Ok();
  }
}

Result<bool> FeatureGenerations::BuildOne() {
  Generation* g = nullptr;
  std::shared_ptr<StreamEngine> engine;
  {
    std::lock_guard lock(records_mu_);
    for (const auto& [key, record] : records_) {
      if (record->info.state == GenerationState::kBuilding && engines_.count(key.first) &&
          !FromTopic(record->info)) {
        g = record.get();
        engine = engines_.at(key.first).engine;
        break;
      }
    }
  }
  if (g == nullptr) return false;
  const uint32_t number = g->info.generation;
  const std::string& name = engine->view(g->info.view)->spec().source;
  ASSIGN_OR_RETURN(std::unique_ptr<Source> source, ctx_.open_source(name));
  // Each batch under build_mu_, so Retire waits for it and the builder sees a retirement.
  const Status retired = Status::FailedPrecondition("retired while building");
  auto apply = [&](StreamEngine* e, const std::string& n, SourceBatch* batch) -> Status {
    std::lock_guard lock(build_mu_);
    if (g->info.state == GenerationState::kRetired) return retired;
    return ctx_.apply(e, n, batch);
  };
  Status st =
      ReplaySource(engine.get(), source.get(), ctx_.log, name, g->info.since_ms, apply, &stopping_);
  if (st.code() == StatusCode::kFailedPrecondition && st.message() == retired.message()) {
    return true;
  }
  RETURN_IF_ERROR(st.WithContext(fmt::format("generation {} of view '{}'", number, g->info.view)));
  std::lock_guard build(build_mu_);
  if (g->info.state == GenerationState::kRetired) return true;
  if (stopping_) {
    RETURN_IF_ERROR(engine->Checkpoint());  // the next Open resumes from here
    return false;
  }
  // The last stretch under the writer lock: no batch is applied meanwhile, and from the moment
  // the generation is live the commit hook applies every batch to it too (what it already has
  // is skipped by offset).
  std::lock_guard writer(*ctx_.writer_mu);
  RETURN_IF_ERROR(
      ReplaySource(engine.get(), source.get(), ctx_.log, name, g->info.since_ms, ctx_.apply));
  RETURN_IF_ERROR(engine->Checkpoint());
  {
    std::lock_guard lock(records_mu_);
    g->info.state = GenerationState::kLive;
    PublishRoutes();
  }
  RETURN_IF_ERROR(Persist(*g));
  spdlog::info("feature view '{}': generation {} caught up", g->info.view, number);
  caught_cv_.notify_all();
  return true;
}

Status FeatureGenerations::WaitCaughtUp(uint32_t generation, int64_t timeout_ms) {
  std::unique_lock lock(records_mu_);
  bool done = caught_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    auto it = records_.lower_bound({generation, std::string()});
    return it == records_.end() || it->first.first != generation ||
           it->second->info.state != GenerationState::kBuilding;
  });
  if (done) return Status::Ok();
  return Status::DeadlineExceeded(
      fmt::format("generation {} did not catch up within {} ms", generation, timeout_ms));
}

std::vector<FeatureGenerations::LiveEngine> FeatureGenerations::LiveEngines() const {
  std::lock_guard lock(records_mu_);
  return live_;
}

Status FeatureGenerations::ApplyLive(const std::string& source, int32_t partition,
                                     uint64_t first_offset, const std::vector<Record>& records) {
  Status first;
  for (const LiveEngine& live : live_) {
    if (!std::binary_search(live.sources.begin(), live.sources.end(), source)) continue;
    Status st = live.engine->Apply(source, partition, first_offset, records);
    if (first.ok() && !st.ok()) first = st;
  }
  return first;
}

Status FeatureGenerations::AdvanceLive(const std::string& source, int32_t partition,
                                       uint64_t next_offset) {
  Status first;
  for (const LiveEngine& live : live_) {
    if (!std::binary_search(live.sources.begin(), live.sources.end(), source)) continue;
    Status st = live.engine->Advance(source, partition, next_offset);
    if (first.ok() && !st.ok()) first = st;
  }
  return first;
}

Status FeatureGenerations::CheckpointLive() {
  Status first;
  for (const LiveEngine& live : live_) {
    Status st = live.engine->Checkpoint();
    if (first.ok() && !st.ok()) first = st;
  }
  if (first.ok()) first = PromoteCaughtUp();
  return first;
}

Status FeatureGenerations::PromoteCaughtUp() {
  std::vector<Generation*> caught;
  {
    std::lock_guard lock(records_mu_);
    for (const auto& [key, record] : records_) {
      if (record->info.state != GenerationState::kBuilding || !FromTopic(record->info)) continue;
      const std::string& source = ctx_.spec->feature_views.at(record->info.view).source;
      const PartitionOffsets at = engines_.at(key.first).engine->Position(source);
      bool behind = false;
      for (const auto& [partition, offset] :
           MinPositionOf(source, [&](uint32_t n) { return IsLive(n); })) {
        auto it = at.find(partition);
        behind = behind || (it == at.end() ? 0 : it->second) < offset;
      }
      if (!behind) caught.push_back(record.get());
    }
    for (Generation* g : caught) g->info.state = GenerationState::kLive;
    if (!caught.empty()) PublishRoutes();
  }
  for (Generation* g : caught) {
    RETURN_IF_ERROR(Persist(*g));
    spdlog::info("feature view '{}': generation {} caught up with its kafka topic", g->info.view,
                 g->info.generation);
  }
  if (!caught.empty()) caught_cv_.notify_all();
  return Status::Ok();
}

SourcePosition FeatureGenerations::MinPosition(const std::string& source, bool all) const {
  std::lock_guard lock(records_mu_);
  return MinPositionOf(source, [&](uint32_t n) { return all || Fed(n); });
}

SourcePosition FeatureGenerations::MinPositionOf(const std::string& source,
                                                 const std::function<bool(uint32_t)>& take) const {
  std::vector<PartitionOffsets> positions;
  std::set<int32_t> partitions{0};
  for (const auto& [number, slot] : engines_) {
    if (!std::binary_search(slot.sources.begin(), slot.sources.end(), source)) continue;
    if (!take(number)) continue;
    positions.push_back(slot.engine->Position(source));
    for (const auto& [partition, offset] : positions.back()) partitions.insert(partition);
  }
  SourcePosition out;
  for (int32_t partition : partitions) {
    uint64_t min = UINT64_MAX;
    for (const PartitionOffsets& position : positions) {
      auto it = position.find(partition);
      min = std::min(min, it == position.end() ? 0 : it->second);
    }
    out[partition] = min == UINT64_MAX ? 0 : min;
  }
  return out;
}

bool FeatureGenerations::FromTopic(const GenerationInfo& info) const {
  auto view = ctx_.spec->feature_views.find(info.view);
  if (view == ctx_.spec->feature_views.end()) return false;
  auto source = ctx_.spec->sources.find(view->second.source);
  return source != ctx_.spec->sources.end() && source->second.kind == SourceKind::kKafka;
}

bool FeatureGenerations::Fed(uint32_t number) const {
  if (IsLive(number)) return true;
  auto it = records_.lower_bound({number, std::string()});
  return it != records_.end() && it->first.first == number &&
         it->second->info.state == GenerationState::kBuilding && FromTopic(it->second->info);
}

bool FeatureGenerations::IsLive(uint32_t number) const {
  if (number == 1) return true;
  auto it = records_.lower_bound({number, std::string()});
  return it != records_.end() && it->first.first == number &&
         it->second->info.state == GenerationState::kLive;
}

FeatureGenerations::Generation* FeatureGenerations::Find(const std::string& view,
                                                         uint32_t generation) const {
  auto it = records_.find({generation, view});
  if (it == records_.end() || it->second->info.state == GenerationState::kRetired) {
    return nullptr;
  }
  return it->second.get();
}

Result<std::vector<GenerationInfo>> FeatureGenerations::List(const std::string& view) const {
  if (!view.empty() && !ctx_.spec->feature_views.count(view)) {
    return Status::NotFound(fmt::format("unknown feature view '{}'", view));
  }
  std::shared_ptr<const Routes> routes = std::atomic_load(&routes_);
  std::vector<GenerationInfo> out;
  std::lock_guard lock(records_mu_);
  for (const auto& [key, record] : records_) {
    const uint32_t number = key.first;
    if (!view.empty() && record->info.view != view) continue;
    GenerationInfo info = record->info;
    auto d = routes->defaults.find(info.view);
    info.is_default = d != routes->defaults.end() && d->second == number;
    auto slot = engines_.find(number);
    auto current = ctx_.spec->feature_views.find(info.view);
    if (slot != engines_.end() && current != ctx_.spec->feature_views.end() &&
        info.state != GenerationState::kRetired) {
      const std::string& source = current->second.source;
      info.applied = slot->second.engine->NextOffset(source);
      auto end = ctx_.log->NextOffset(source);
      info.log_end = end.ok() ? *end : 0;
    }
    out.push_back(std::move(info));
  }
  std::stable_sort(out.begin(), out.end(), [](const GenerationInfo& a, const GenerationInfo& b) {
    return a.view < b.view;
  });
  return out;
}

Result<GenerationInfo> FeatureGenerations::Rebuild(const std::string& view,
                                                   std::optional<int64_t> since_ms) {
  auto it = ctx_.spec->feature_views.find(view);
  if (it == ctx_.spec->feature_views.end()) {
    return Status::NotFound(fmt::format("unknown feature view '{}'", view));
  }
  if (!IsStreamView(*ctx_.spec, it->second)) {
    return Status::InvalidArgument(
        fmt::format("feature view '{}' reads table source '{}': it has no state to rebuild", view,
                    it->second.source));
  }
  if (ctx_.spec->sources.at(it->second.source).kind == SourceKind::kKafka) {
    return Status::FailedPrecondition(fmt::format(
        "feature view '{}' reads kafka source '{}': a rebuild replays the event log, which does "
        "not keep a kafka source's records (a changed definition reads the topic again at the "
        "next start)",
        view, it->second.source));
  }
  ASSIGN_OR_RETURN(uint64_t fingerprint, DefinitionFingerprint(*ctx_.spec, it->second));
  auto g = std::make_unique<Generation>();
  g->info.view = view;
  g->info.state = GenerationState::kBuilding;
  g->info.created_ms = ctx_.clock->NowMs();
  g->info.since_ms = std::max(since_ms.value_or(INT64_MIN), RetentionStart(it->second.source));
  g->info.fingerprint = fingerprint;
  g->spec_text = spec_text_;
  GenerationInfo info;
  {
    std::lock_guard writer(*ctx_.writer_mu);
    std::lock_guard lock(records_mu_);
    g->info.generation = next_++;
    info = g->info;
    RETURN_IF_ERROR(Persist(*g));
    records_[{info.generation, info.view}] = std::move(g);
    RETURN_IF_ERROR(CreateEngine(info.generation));
    PublishRoutes();
  }
  {
    std::lock_guard lock(wake_mu_);
    wake_ = true;
  }
  wake_cv_.notify_all();
  return info;
}

Status FeatureGenerations::Retire(const std::string& view, uint32_t generation,
                                  const std::vector<std::string>& in_use) {
  std::lock_guard build(build_mu_);
  std::lock_guard writer(*ctx_.writer_mu);
  Generation* g = nullptr;
  size_t kept = 0;
  {
    std::lock_guard lock(records_mu_);
    g = Find(view, generation);
    for (const auto& [key, record] : records_) {
      if (record->info.view == view && record->info.state != GenerationState::kRetired) ++kept;
    }
  }
  if (g == nullptr) {
    return Status::NotFound(
        fmt::format("feature view '{}' has no generation {} to retire", view, generation));
  }
  if (!in_use.empty()) {
    return Status::FailedPrecondition(
        fmt::format("generation {} of feature view '{}' is in the release of deployment(s) {}; "
                    "deploy another generation first",
                    generation, view, fmt::join(in_use, ", ")));
  }
  if (kept == 1) {
    return Status::FailedPrecondition(
        fmt::format("generation {} is the last one of feature view '{}'; rebuild the view first",
                    generation, view));
  }
  EngineSlot& slot = engines_.at(generation);
  ASSIGN_OR_RETURN(uint32_t view_id, slot.backend->ViewId(view));
  std::vector<std::string> progress;
  if (generation == 1) {
    Status dropped = primary_->DropView(view);
    if (!dropped.ok() && dropped.code() != StatusCode::kNotFound) return dropped;
  } else {
    progress = slot.sources;
  }
  RETURN_IF_ERROR(slot.backend->Drop({view_id}, progress));
  {
    std::lock_guard lock(records_mu_);
    g->info.state = GenerationState::kRetired;
    if (generation != 1) engines_.erase(generation);
    PublishRoutes();
  }
  caught_cv_.notify_all();
  return Persist(*g);
}

}  // namespace freshet
