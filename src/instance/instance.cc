#include "instance/instance.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "format/record_parser.h"
#include "instance/built_kinds.h"
#include "spec/spec_loader.h"

namespace freshet {
namespace {

// Records read from the log per replay step at startup.
constexpr size_t kReplayChunk = 50'000;

}  // namespace

Result<std::unique_ptr<Instance>> Instance::Open(const InstanceOptions& options) {
  std::unique_ptr<Instance> instance(new Instance());
  RETURN_IF_ERROR(instance->Init(options));
  return instance;
}

Status Instance::Init(const InstanceOptions& options) {
  options_ = options;
  clock_ = options.clock ? options.clock : SystemClock::Default();
  ASSIGN_OR_RETURN(spec_, LoadProject(options.project_dir));
  RETURN_IF_ERROR(CheckBuiltKinds(spec_, BuiltInThisVersion()));
  ASSIGN_OR_RETURN(db_, Db::Open(options.data_dir));
  tables_ = std::make_unique<TableStore>(&spec_, db_.get());
  ASSIGN_OR_RETURN(backend_, CreateStateBackend(options.state_backend, db_.get()));
  EngineOptions engine_options = options.engine;
  engine_options.tables = tables_.get();  // views' lookups read the table sources
  ASSIGN_OR_RETURN(engine_, StreamEngine::Create(spec_, backend_.get(), clock_, engine_options));
  for (const auto& [name, source] : spec_.sources) source_names_.push_back(name);
  ASSIGN_OR_RETURN(log_, EventLog::Open(db_.get(), source_names_, clock_, options.log));
  for (const auto& [name, source] : spec_.sources) {
    if (source.kind == SourceKind::kTable) continue;  // rows go to tables_, not the engine
    ASSIGN_OR_RETURN(sources_[name], CreateSource(source, {&spec_, log_.get()}));
  }
  RETURN_IF_ERROR(ReplaySources());
  log_->SetCommitHook([this](const std::vector<CommittedBatch>& b) { OnCommit(b); });

  ASSIGN_OR_RETURN(online_, CreateOnlineStore(options.online_store, {engine_.get()}));
  features_ = std::make_unique<FeatureStore>(&spec_, online_.get(), clock_, tables_.get());
  ASSIGN_OR_RETURN(registry_, ModelRegistry::Open(db_.get(), options.data_dir, clock_));
  models_ = std::make_unique<ModelCache>();
  predictor_ = std::make_unique<Predictor>(&spec_, features_.get(), registry_.get(), models_.get(),
                                           &metrics_);
  checkpointer_ = std::thread([this] { CheckpointLoop(); });
  return Status::Ok();
}

Instance::~Instance() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  log_.reset();  // drains pending appends through the commit hook
  if (engine_) {
    Status st = Checkpoint();
    if (!st.ok()) spdlog::error("final checkpoint failed: {}", st.ToString());
  }
}

Status Instance::ReplaySources() {
  for (const auto& [name, source] : sources_) {
    RETURN_IF_ERROR(ReplaySource(name, source.get()).WithContext(fmt::format("source '{}'", name)));
  }
  RETURN_IF_ERROR(engine_->Checkpoint());
  return CommitSourcePositions();
}

Status Instance::ReplaySource(const std::string& name, Source* source) {
  ASSIGN_OR_RETURN(std::vector<int32_t> partitions, source->Partitions());
  // The engine keeps one offset per source; a partitioned source needs one per partition.
  if (partitions != std::vector<int32_t>{0}) {
    return Status::FailedPrecondition(
        fmt::format("reads {} partitions; this version applies one (partition 0) per source",
                    partitions.size()));
  }
  RETURN_IF_ERROR(source->Seek({{0, engine_->NextOffset(name)}}));
  SourceBatch batch;
  while (true) {
    ASSIGN_OR_RETURN(bool more, source->Read(kReplayChunk, &batch));
    if (!more) return Status::Ok();
    RETURN_IF_ERROR(engine_->Apply(name, batch.first_offset, batch.records));
  }
}

Status Instance::CommitSourcePositions() {
  for (const auto& [name, source] : sources_) {
    RETURN_IF_ERROR(source->Commit({{0, engine_->NextOffset(name)}}));
  }
  return Status::Ok();
}

Source* Instance::source(const std::string& name) {
  auto it = sources_.find(name);
  return it == sources_.end() ? nullptr : it->second.get();
}

void Instance::OnCommit(const std::vector<CommittedBatch>& batches) {
  std::lock_guard<std::mutex> lock(writer_mu_);
  for (const CommittedBatch& b : batches) {
    const std::string& source = source_names_[b.source_id];
    Status st = engine_->Apply(source, b.first_offset, *b.records);
    if (st.ok()) continue;
    // The batch is durable in the log either way (so it is acknowledged); only whether it
    // reached the engine differs. Applied: the checkpoint Apply triggered failed, and a later
    // one retries it. Not applied: the replay at the next start applies it.
    bool applied = engine_->NextOffset(source) >= b.first_offset + b.records->size();
    (void)Degrade(applied ? FailureKind::kCheckpoint : FailureKind::kCommit, st);
  }
}

Status Instance::Checkpoint() {
  Status st;
  {
    std::lock_guard<std::mutex> lock(writer_mu_);
    st = engine_->Checkpoint();
    if (st.ok()) st = CommitSourcePositions();
  }
  if (!st.ok()) {
    (void)Degrade(FailureKind::kCheckpoint, st);
  } else if (degraded()) {
    Recovered();
  }
  return st;
}

void Instance::CheckpointLoop() {
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stopping_) {
    int64_t wait_ms =
        degraded() ? std::min(options_.health_retry_interval_ms, options_.checkpoint_interval_ms)
                   : options_.checkpoint_interval_ms;
    stop_cv_.wait_for(lock, std::chrono::milliseconds(wait_ms));
    if (stopping_) break;
    lock.unlock();
    if (degraded()) {
      // After a failed write RocksDB refuses every write until it is resumed; Resume fails
      // (and the checkpoint with it) while the cause, e.g. a full disk, lasts.
      Status resumed = db_->Resume();
      if (resumed.ok()) {
        (void)Checkpoint();
      } else {
        spdlog::debug("still degraded: {}", resumed.ToString());
      }
    } else {
      (void)Checkpoint();  // a failure degrades the instance
    }
    lock.lock();
  }
}

Status Instance::CheckIngestible(const std::string& source) {
  Source* s = this->source(source);
  auto spec = spec_.sources.find(source);
  if (s == nullptr && spec != spec_.sources.end() && spec->second.kind == SourceKind::kTable) {
    return Status::InvalidArgument(
        fmt::format("source '{}' is kind table: load its rows (POST /v1/tables/{}, freshet load)",
                    source, source));
  }
  if (s == nullptr) return Status::NotFound(fmt::format("unknown source '{}'", source));
  if (s->pushed()) return Status::Ok();
  // Ingested records would collide with the offsets of what it reads.
  return Status::InvalidArgument(fmt::format(
      "source '{}' is kind {}: it reads its own records; only http sources take ingested ones",
      source, s->kind()));
}

Status Instance::Degrade(FailureKind kind, const Status& cause) {
  std::string_view name = kind == FailureKind::kCommit ? "commit" : "checkpoint";
  probe_.Failed(name);
  Status stopped =
      Status::Unavailable(fmt::format("ingest stopped: {} failed: {}", name, cause.message()));
  std::lock_guard<std::mutex> lock(health_mu_);
  if (!health_.ok()) {
    spdlog::debug("{} failed again while degraded: {}", name, cause.message());
    return stopped;
  }
  health_ = stopped;
  probe_.SetDegraded(true);
  spdlog::error("degraded: {}", health_.message());
  return stopped;
}

void Instance::Recovered() {
  std::lock_guard<std::mutex> lock(health_mu_);
  if (health_.ok()) return;
  spdlog::info("recovered: a checkpoint succeeded after '{}'; ingest resumes", health_.message());
  health_ = Status::Ok();
  probe_.SetDegraded(false);
}

bool Instance::degraded() const {
  std::lock_guard<std::mutex> lock(health_mu_);
  return !health_.ok();
}

Status Instance::health() const {
  std::lock_guard<std::mutex> lock(health_mu_);
  return health_;
}

Result<AppendAck> Instance::Ingest(const std::string& source, std::string_view body,
                                   const std::string& idempotency_key, ParseError* parse_error) {
  auto it = spec_.sources.find(source);
  if (it == spec_.sources.end()) {
    return Status::NotFound(fmt::format("unknown source '{}'", source));
  }
  RETURN_IF_ERROR(CheckIngestible(source));
  RecordParser parser(it->second, RequiredFields(spec_, source));
  std::vector<Record> records;
  Status parsed = parser.Parse(body, &records, parse_error);
  if (parsed.ok() && records.size() > options_.max_batch_records) {
    parsed = Status::InvalidArgument(fmt::format("batch of {} records exceeds the limit of {}",
                                                 records.size(), options_.max_batch_records));
  }
  if (!parsed.ok()) {
    probe_.Rejected(source);
    return parsed;
  }
  if (Status health = this->health(); !health.ok()) {
    probe_.Rejected(source);
    return health;
  }
  auto ack = log_->Append(source, std::move(records), idempotency_key);
  if (ack.ok()) {
    probe_.Accepted(source, ack->duplicate ? 0 : ack->count);
    return ack;
  }
  probe_.Rejected(source);
  if (ack.status().code() != StatusCode::kIoError) return ack;
  // The log could not write the batch (nothing of it is stored): stop ingest until a write
  // succeeds again.
  return Degrade(FailureKind::kCommit, ack.status());
}

void Instance::RefreshMetrics() { probe_.Refresh(engine_->stats()); }

}  // namespace freshet
