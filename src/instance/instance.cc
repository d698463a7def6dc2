#include "instance/instance.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "format/record_parser.h"
#include "instance/built_kinds.h"
#include "quality/record_locator.h"
#include "spec/spec_loader.h"

namespace freshet {
namespace {

// Most records a live source's consumer thread applies per batch (per writer lock).
constexpr size_t kConsumeChunk = 10'000;

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
  QueueOptions queue_options = options.queue;
  queue_options.max_attempts_by_prefix.emplace(kDeliverQueuePrefix, kDeliveryMaxAttempts);
  ASSIGN_OR_RETURN(queue_, JobQueue::Open(db_.get(), clock_, queue_options));
  tables_ = std::make_unique<TableStore>(&spec_, db_.get(), &metrics_);
  ASSIGN_OR_RETURN(backend_, CreateStateBackend(options.state_backend, db_.get()));
  for (const auto& [name, source] : spec_.sources) source_names_.push_back(name);
  ASSIGN_OR_RETURN(log_, EventLog::Open(db_.get(), source_names_, clock_, options.log));
  ASSIGN_OR_RETURN(quarantine_, QuarantineStore::Open(db_.get()));
  for (const auto& [name, source] : spec_.sources) {
    if (source.kind == SourceKind::kTable) continue;  // rows go to tables_, not the engine
    ASSIGN_OR_RETURN(sources_[name], CreateSource(source, {&spec_, log_.get()}));
    expectations_.emplace(name, SourceExpectations(source));
  }
  predictions_ = std::make_unique<PredictionStore>(db_.get());
  RETURN_IF_ERROR(predictions_->UpgradeFormat());
  ASSIGN_OR_RETURN(triggers_, TriggerRouter::Create(&spec_, queue(), predictions_.get(), clock_,
                                                    &trigger_probe_));
  trigger_handoff_ = std::make_unique<TriggerHandOff>(triggers_.get());
  FeatureGenerations::Context generations;
  generations.spec = &spec_;
  generations.db = db_.get();
  generations.backend = backend_.get();
  generations.log = log_.get();
  generations.clock = clock_;
  generations.engine = options.engine;
  generations.engine.tables = tables_.get();  // views' lookups read the table sources
  // No checkpoint passes records whose trigger jobs are not durable yet (trigger_handoff.h).
  generations.engine.before_checkpoint = [handoff = trigger_handoff_.get()] { handoff->Flush(); };
  generations.writer_mu = &writer_mu_;
  generations.open_source = [this](const std::string& name) {
    return CreateSource(spec_.sources.at(name), {&spec_, log_.get()});
  };
  generations.apply = [this](StreamEngine* engine, const std::string& name, SourceBatch* batch) {
    return ApplyBatch(ApplyTarget::kOnly, engine, name, batch);
  };
  generations.build_in_background = options.build_generations_in_background;
  ASSIGN_OR_RETURN(generations_, FeatureGenerations::Open(std::move(generations)));
  RETURN_IF_ERROR(ReplaySources());
  log_->SetCommitHook([this](const std::vector<CommittedBatch>& b) { OnCommit(b); });

  OnlineStoreContext online;
  online.engine = engine();
  online.generations = generations_.get();
  ASSIGN_OR_RETURN(online_, CreateOnlineStore(options.online_store, online));
  features_ = std::make_unique<FeatureStore>(&spec_, online_.get(), clock_, tables_.get());
  ASSIGN_OR_RETURN(registry_, ModelRegistry::Open(db_.get(), options.data_dir, clock_));
  models_ =
      std::make_unique<ModelCache>(ModelCacheOptions{spec_.serving.model_memory_bytes}, &metrics_);
  ASSIGN_OR_RETURN(releases_, ReleaseStore::Open(db_.get(), clock_, generations_.get()));
  predictor_ = std::make_unique<Predictor>(&spec_, features_.get(), registry_.get(), models_.get(),
                                           &metrics_, releases_.get());
  ASSIGN_OR_RETURN(trigger_workers_,
                   TriggerWorkers::Create(&spec_, queue(), predictor_.get(), predictions_.get(),
                                          clock_, &trigger_probe_, options.triggers));
  trigger_workers_->Start();
  generations_->Start();
  checkpointer_ = std::thread([this] { CheckpointLoop(); });
  for (const auto& [name, source] : sources_) {
    if (source->live()) {
      consumers_.emplace_back([this, &name, s = source.get()] { ConsumeLoop(name, s); });
    }
  }
  return Status::Ok();
}

Instance::~Instance() {
  if (trigger_workers_) trigger_workers_->Stop();
  if (queue_) queue_->Shutdown();
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  for (std::thread& consumer : consumers_) consumer.join();
  if (checkpointer_.joinable()) checkpointer_.join();
  if (generations_) generations_->Stop();  // a building generation keeps its progress
  log_.reset();                            // drains pending appends through the commit hook
  if (generations_) {
    Status st = Checkpoint();
    if (!st.ok()) spdlog::error("final checkpoint failed: {}", st.ToString());
  }
}

Status Instance::ReplaySources() {
  for (const FeatureGenerations::LiveEngine& live : generations_->LiveEngines()) {
    const ApplyTarget target = live.engine == engine() ? ApplyTarget::kPrimary : ApplyTarget::kOnly;
    for (const std::string& name : live.sources) {
      auto source = sources_.find(name);
      // A table has no records for the engine; a live source's consumer reads it (ConsumeLoop).
      if (source == sources_.end() || source->second->live()) continue;
      auto apply = [&](StreamEngine* e, const std::string& n, SourceBatch* batch) {
        return ApplyBatch(target, e, n, batch);
      };
      RETURN_IF_ERROR(
          ReplaySource(live.engine, source->second.get(), log_.get(), name, INT64_MIN, apply)
              .WithContext(fmt::format("source '{}'", name)));
    }
    RETURN_IF_ERROR(live.engine->Checkpoint());
  }
  // A live source resumes at the least advanced live generation's offsets; each engine skips
  // the records it already applied.
  for (const auto& [name, source] : sources_) {
    if (source->live()) RETURN_IF_ERROR(source->Seek(generations_->MinPosition(name, false)));
  }
  return CommitSourcePositions();
}

Status Instance::ApplyBatch(ApplyTarget target, StreamEngine* engine, const std::string& name,
                            SourceBatch* batch) {
  const bool record = target != ApplyTarget::kOnly;
  if (batch->rejected) {
    if (record) {
      spdlog::warn("source '{}': record at partition {} offset {} kept out: {}", name,
                   batch->partition, batch->first_offset, batch->rejected->error);
      RETURN_IF_ERROR(quarantine_->KeepRejected(name, batch->partition, batch->first_offset,
                                                batch->rejected->payload, batch->rejected->error,
                                                clock_->NowMs()));
    }
    if (target == ApplyTarget::kLive) {
      return generations_->AdvanceLive(name, batch->partition, batch->next_offset);
    }
    return engine->Advance(name, batch->partition, batch->next_offset);
  }
  // An http source's log holds records already checked at ingest.
  if (source(name)->pushed() || expectations_.at(name).empty()) {
    return ApplyRun(target, engine, name, batch->partition, batch->first_offset, batch->records);
  }
  CheckResult checked;
  expectations_.at(name).Check(batch->records, &checked);
  if (checked.violations.empty()) {
    return ApplyRun(target, engine, name, batch->partition, batch->first_offset, batch->records);
  }
  QualityReport counts;
  counts.Add(name, checked);
  const Violation* reject = checked.FirstReject();
  if (record) quality_probe_.Checked(counts, name, reject ? 0 : checked.quarantined.size());
  if (reject != nullptr) {
    if (record) RETURN_IF_ERROR(quarantine_->Count(counts));
    std::string at = reject->record == Violation::kBatch
                         ? fmt::format("records at offsets {}..{}", batch->first_offset,
                                       batch->first_offset + batch->records.size() - 1)
                         : fmt::format("record at offset {}", batch->first_offset + reject->record);
    return Status::InvalidArgument(fmt::format("{}: {}", at, reject->ToString()));
  }
  if (record) {
    std::vector<uint64_t> offsets(batch->records.size());
    for (size_t i = 0; i < offsets.size(); ++i) offsets[i] = batch->first_offset + i;
    // Partitioned sources key kept records by partition too.
    std::optional<int32_t> partition;
    if (source(name)->live()) partition = batch->partition;
    RETURN_IF_ERROR(
        quarantine_->Keep(name, batch->records, checked, clock_->NowMs(), &offsets, partition));
  }
  // Apply the runs between quarantined records; their offsets are consumed, never applied.
  size_t start = 0;
  std::vector<Record> run;
  auto apply_run = [&](size_t end) -> Status {
    if (end <= start) return Status::Ok();
    run.assign(std::make_move_iterator(batch->records.begin() + start),
               std::make_move_iterator(batch->records.begin() + end));
    return ApplyRun(target, engine, name, batch->partition, batch->first_offset + start, run);
  };
  for (size_t q : checked.quarantined) {
    RETURN_IF_ERROR(apply_run(q));
    start = q + 1;
  }
  return apply_run(batch->records.size());
}

void Instance::ConsumeLoop(const std::string& name, Source* source) {
  SourceBatch batch;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(stop_mu_);
      if (stopping_) return;
    }
    Result<bool> read = source->Read(kConsumeChunk, &batch);  // waits a moment when idle
    Status st = read.status();
    if (read.ok() && !*read) continue;
    if (st.ok()) {
      std::lock_guard<std::mutex> lock(writer_mu_);
      st = ApplyBatch(ApplyTarget::kLive, nullptr, name, &batch);
    }
    if (!st.ok()) {
      // The batch was read but not applied: stop consuming (a restart reads it again from the
      // checkpoint's offsets).
      (void)Degrade(FailureKind::kCommit,
                    st.WithContext(fmt::format("consuming source '{}'", name)));
      return;
    }
  }
}

Status Instance::ApplyRun(ApplyTarget target, StreamEngine* engine, const std::string& name,
                          int32_t partition, uint64_t first_offset,
                          const std::vector<Record>& records) {
  if (target == ApplyTarget::kLive) {
    RETURN_IF_ERROR(generations_->ApplyLive(name, partition, first_offset, records));
  } else {
    RETURN_IF_ERROR(engine->Apply(name, partition, first_offset, records));
  }
  if (target == ApplyTarget::kOnly) return Status::Ok();
  // The records are applied either way: a replay must not stop on a full prediction queue.
  Status triggered = triggers_->OnReplayed(name, partition, first_offset, records);
  if (!triggered.ok()) spdlog::error("{}", triggered.ToString());
  return Status::Ok();
}

Status Instance::CheckPredictionQueueRoom(const std::string& source,
                                          const std::vector<Record>& records) {
  if (!triggers_->Triggers(source)) return Status::Ok();
  const size_t jobs = triggers_->JobsFor(source, records);
  // Jobs still in the hand-off count as held. A job being enqueued counts twice for a moment:
  // before refusing, wait for the hand-off and count again.
  auto held = [this] { return queue()->held() + trigger_handoff_->Backlog(); };
  if (jobs == 0 || held() + jobs <= queue()->capacity()) return Status::Ok();
  trigger_handoff_->Flush();
  if (held() + jobs <= queue()->capacity()) return Status::Ok();
  return Status::ResourceExhausted(fmt::format(
      "prediction queue is full ({} of {} jobs held; this batch triggers {}): source '{}' "
      "triggers predictions; retry once the queue drains",
      held(), queue()->capacity(), jobs, source));
}

Status Instance::CommitSourcePositions() {
  for (const auto& [name, source] : sources_) {
    RETURN_IF_ERROR(source->Commit(generations_->MinPosition(name, /*all=*/false)));
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
    Status st = generations_->ApplyLive(source, 0, b.first_offset, *b.records);
    if (st.ok()) {
      // Enqueued off the acknowledgement path; every checkpoint flushes the hand-off first, so a
      // crash before the jobs are durable re-triggers them at replay.
      trigger_handoff_->Hand(triggers_->JobsOf(source, 0, b.first_offset, *b.records));
      continue;
    }
    // The batch is durable in the log either way (so it is acknowledged); only whether it
    // reached the engine differs. Applied: the checkpoint Apply triggered failed, and a later
    // one retries it. Not applied: the replay at the next start applies it.
    bool applied =
        generations_->MinPosition(source, /*all=*/false)[0] >= b.first_offset + b.records->size();
    (void)Degrade(applied ? FailureKind::kCheckpoint : FailureKind::kCommit, st);
  }
}

Status Instance::Checkpoint() {
  Status st;
  {
    std::lock_guard<std::mutex> lock(writer_mu_);
    st = generations_->CheckpointLive();
    if (st.ok()) st = CommitSourcePositions();
    if (st.ok()) st = DropExpiredEvents();
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

Status Instance::CheckIngested(const std::string& source, std::string_view body,
                               std::vector<Record>* records, CheckResult* checked,
                               std::vector<Record>* accepted, ParseError* parse_error) {
  expectations_.at(source).Check(*records, checked);
  if (checked->violations.empty()) {
    *accepted = std::move(*records);
    return Status::Ok();
  }
  QualityReport counts;
  counts.Add(source, *checked);
  const Violation* reject = checked->FirstReject();
  quality_probe_.Checked(counts, source, reject ? 0 : checked->quarantined.size());
  if (reject != nullptr) {
    ParseError at;
    if (reject->record != Violation::kBatch) {
      LocateRecord(body, records->size(), reject->record, &at);
    }
    at.field = reject->field;
    at.reason = "expectation " + reject->message;
    at.expectation = ExpectationKindName(reject->kind);
    if (Status counted = quarantine_->Count(counts); !counted.ok()) {
      spdlog::error("counting expectation violations of '{}': {}", source, counted.ToString());
    }
    if (parse_error != nullptr) *parse_error = at;
    return at.ToStatus();
  }
  accepted->reserve(records->size() - checked->quarantined.size());
  size_t next_quarantined = 0;
  for (size_t i = 0; i < records->size(); ++i) {
    if (next_quarantined < checked->quarantined.size() &&
        checked->quarantined[next_quarantined] == i) {
      ++next_quarantined;
      continue;
    }
    accepted->push_back(std::move((*records)[i]));
  }
  return Status::Ok();
}

Result<AppendAck> Instance::Ingest(const std::string& source, std::string_view body,
                                   const std::string& idempotency_key, ParseError* parse_error,
                                   IngestQuality* quality) {
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
  CheckResult checked;
  std::vector<Record> accepted;
  if (Status st = CheckIngested(source, body, &records, &checked, &accepted, parse_error);
      !st.ok()) {
    probe_.Rejected(source);
    return st;
  }
  if (Status room = CheckPredictionQueueRoom(source, accepted); !room.ok()) {
    probe_.Rejected(source);
    return room;
  }
  if (quality != nullptr) {
    *quality = {!expectations_.at(source).empty(), checked.quarantined.size(), checked.warned};
  }
  Result<AppendAck> ack = AppendAck{};
  if (accepted.empty() && !checked.quarantined.empty()) {
    ASSIGN_OR_RETURN(ack->first_offset, log_->NextOffset(source));
  } else {
    ack = log_->Append(source, std::move(accepted), idempotency_key);
  }
  if (ack.ok()) {
    probe_.Accepted(source, ack->duplicate ? 0 : ack->count);
    if (!checked.violations.empty() && !ack->duplicate) {
      // The accepted records are durable: a failure here loses only the quarantined copies.
      Status kept = quarantine_->Keep(source, records, checked, clock_->NowMs());
      if (!kept.ok()) {
        probe_.Failed("quarantine");
        spdlog::error("keeping quarantined records of '{}': {}", source, kept.ToString());
      }
    }
    return ack;
  }
  probe_.Rejected(source);
  if (ack.status().code() != StatusCode::kIoError) return ack;
  // The log could not write the batch (nothing of it is stored): stop ingest until a write
  // succeeds again.
  return Degrade(FailureKind::kCommit, ack.status());
}

void Instance::RefreshMetrics() {
  probe_.Refresh(engine()->stats());
  for (const auto& [name, source] : sources_) {
    if (!source->live()) continue;
    Result<SourcePosition> end = source->EndPosition();
    if (!end.ok()) continue;
    SourcePosition committed = source->committed();
    for (const auto& [partition, offset] : *end) {
      uint64_t done = committed.count(partition) ? committed[partition] : 0;
      probe_.SetLag(name, partition, offset > done ? offset - done : 0);
    }
  }
  queue_probe_.Refresh(queue_->Stats());
}

}  // namespace freshet
