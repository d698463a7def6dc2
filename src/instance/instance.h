// Instance: one freshet project opened on one data directory — the embedded default wired
// together: spec, RocksDB, event log, stream engine (+ its state backend), feature store, model
// registry and deployments. The server and the CLI both work through an Instance.
//
// Pluggable parts, created by name: each source of the spec by its kind (sources/source.h), the
// engine's state backend and the feature store's online store by the options below. Open()
// first checks the spec's source kinds, output kinds and model runtimes against what this build
// implements (instance/built_kinds.h), so a `kind: kafka` fails at once, naming its line.
//
// Ingest path: Ingest() validates a body into records, appends them to the event log (group
// commit, durable), and the log's commit hook applies each committed batch to the engine on the
// log's applier thread before the append is acknowledged — so an acknowledged event is already
// visible to feature reads. Only `http` sources take ingested records; a `file` source's
// records come from its files, a `kafka` source's from its topic. A background thread
// checkpoints the engine periodically and then commits each source's position (per partition).
// Open() seeks every source to the engine's committed offsets and reads it to its end (the
// log's unapplied tail, a file's new records); a live source (kafka) is then read by a
// consumer thread of its own until shutdown, each batch applied under the writer lock. So
// recovery after kill -9 is exactly-once.
//
// Feature generations (instance/generations.h): each stream view's state is kept per
// generation; a changed definition (at Open) or RebuildView builds a new one in the background
// from the retained log while the current one serves. Every committed batch is applied to every
// caught-up generation; checkpoints commit each generation's engine. Sources with `retention`
// have older log records dropped after checkpoints (never one a generation has not applied).
// Deployments serve releases (serving/release.h): Deploy and RollbackRelease switch a model
// version and feature generations together.
//
// Health: the first failed write of the ingest path (the event log's group commit or applying
// it to the engine: kind "commit"; a checkpoint: kind "checkpoint") marks the instance
// degraded with its reason: Ingest then refuses with kUnavailable ("ingest stopped:
// checkpoint failed: ..."), health() says so (GET /readyz answers 503), failures are counted
// by kind and logged. The background thread retries every health_retry_interval_ms: it lets
// RocksDB resume after a background error (disk full, then space again) and checkpoints; the
// first retry that succeeds clears the state and ingest resumes. Acknowledged events are
// durable in the log throughout; a batch whose log write failed was not acknowledged. A
// failed engine apply cannot be retried in place: that state lasts until a restart.
//
// Thread-safety: all public methods are thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/metrics.h"
#include "core/status.h"
#include "format/parse_error.h"
#include "instance/generations.h"
#include "instance/instance_probe.h"
#include "instance/quarantine_store.h"
#include "log/event_log.h"
#include "models/model_cache.h"
#include "models/registry.h"
#include "quality/expectation.h"
#include "quality/quality_probe.h"
#include "queue/job_queue.h"
#include "queue/queue_probe.h"
#include "serving/predictor.h"
#include "serving/release.h"
#include "sources/source.h"
#include "spec/project_spec.h"
#include "storage/db.h"
#include "store/feature_store.h"
#include "store/online_store.h"
#include "stream/engine.h"
#include "stream/state_backends.h"
#include "tables/table_store.h"
#include "triggers/prediction_store.h"
#include "triggers/trigger_probe.h"
#include "triggers/trigger_handoff.h"
#include "triggers/trigger_router.h"
#include "triggers/trigger_workers.h"

namespace freshet {

struct InstanceOptions {
  std::string project_dir = ".";   // holds freshet.yaml
  std::string data_dir = ".data";  // the RocksDB directory and model artifacts
  // Engine tuning. Default: EngineOptions defaults.
  EngineOptions engine;
  // Event log tuning. Default: EventLogOptions defaults.
  EventLogOptions log;
  // Background checkpoint period. Default: kDefaultCheckpointIntervalMs (5 s).
  int64_t checkpoint_interval_ms = kDefaultCheckpointIntervalMs;
  // Time source. Default: the system clock. Not owned.
  const Clock* clock = nullptr;
  // Largest number of records one ingest request may carry. Default: 100,000.
  size_t max_batch_records = 100'000;
  // Where the engine's window state and offsets are checkpointed, by name (stream/
  // state_backends.h): "rocksdb" (the data directory) or "memory" (nothing kept: every Open
  // replays each source from its start). Default: "rocksdb".
  std::string state_backend = std::string(kDefaultStateBackend);
  // What the feature store reads, by name (store/online_store.h): "embedded" (the engine's
  // state in this process). Default: "embedded".
  std::string online_store = std::string(kDefaultOnlineStore);
  // While degraded, how often the background thread retries a checkpoint. Default: 1 s.
  int64_t health_retry_interval_ms = 1000;
  // The prediction queue's bounds, timeouts and retries. Default: QueueOptions defaults, with
  // kDeliveryMaxAttempts (triggers/prediction.h) for the delivery queues unless set here.
  QueueOptions queue;
  // The threads of triggered predictions (triggers/trigger_workers.h). Default: their defaults.
  TriggerWorkersOptions triggers;
  // Build new feature generations on a background thread. Off: only
  // generations()->BuildPending() builds them (tools and tests). Default: true.
  bool build_generations_in_background = true;
};

// What a source's expectations did to one ingested batch (all zero when it declares none).
struct IngestQuality {
  bool checked = false;    // the source declares expectations
  size_t quarantined = 0;  // records kept in the quarantine instead of the log
  size_t warned = 0;       // warn-policy violations (the records were accepted)
};

class Instance {
 public:
  static Result<std::unique_ptr<Instance>> Open(const InstanceOptions& options);
  ~Instance();  // final checkpoint, then closes everything

  const ProjectSpec& spec() const { return spec_; }
  const Clock* clock() const { return clock_; }
  MetricsRegistry* metrics() { return &metrics_; }
  // The primary engine: generation 1 of the views, the dead letter and watermarks.
  StreamEngine* engine() { return generations_->primary(); }
  // Every generation of every stream view.
  FeatureGenerations* generations() { return generations_.get(); }
  // Each deployment's current and previous release.
  ReleaseStore* releases() { return releases_.get(); }
  FeatureStore* features() { return features_.get(); }
  ModelRegistry* registry() { return registry_.get(); }
  Predictor* predictor() { return predictor_.get(); }
  EventLog* log() { return log_.get(); }
  // Records kept out of their source by quarantine expectations, and all violation counts.
  QuarantineStore* quarantine() { return quarantine_.get(); }
  // The rows of the table sources (`kind: table`): loads, deletes, as-of reads.
  TableStore* tables() { return tables_.get(); }
  // The durable prediction queue (the data directory's `queue` column family); shut down
  // (waking every Receive) when the instance closes.
  JobQueue* queue() { return queue_.get(); }
  // Triggered predictions per (deployment, entity): latest + history.
  PredictionStore* predictions() { return predictions_.get(); }
  // The source called `name`, or null.
  Source* source(const std::string& name);

  // Validates `body` (JSON object, array or NDJSON) for `source`, checks the source's
  // expectations, and appends the accepted records durably.
  // kNotFound for an unknown source; kInvalidArgument naming the line and field of the first
  // bad record, or of the first record failing a reject-policy expectation (with the
  // expectation) — then nothing is stored but the violation counts; `parse_error`, when not
  // null, gets the position, field and expectation as data; kResourceExhausted past
  // max_batch_records or when the log's queue is full, or when `source` triggers predictions
  // and the prediction queue is full ("prediction queue is full ...": nothing is appended). Records
  // failing a quarantine-policy expectation go to the quarantine (quarantine()) once the rest is
  // appended (a batch whose idempotency key was seen before keeps nothing new); `quality`, when not
  // null, says what the expectations did.
  Result<AppendAck> Ingest(const std::string& source, std::string_view body,
                           const std::string& idempotency_key = "",
                           ParseError* parse_error = nullptr, IngestQuality* quality = nullptr);

  // Commits the engine's state now. A failure marks the instance degraded; success after one
  // clears it.
  Status Checkpoint();

  // Makes (model version, feature generations) the release of `deployment`, atomically and
  // durably: `model_version` (default: the version the deployment's alias names) and, for
  // each stream view of its feature service, the newest caught-up generation, or `generation`
  // for the view it belongs to. kNotFound for an unknown deployment, model version or
  // generation; kFailedPrecondition when a generation is still building, a view has no
  // caught-up one, or the model version cannot serve (it is loaded before the switch, so the
  // first request after it finds it loaded); kInvalidArgument when `generation` belongs to no
  // view of the service. A release pins its version: `traffic:` splits apply to deployments
  // without one.
  Result<Release> Deploy(const std::string& deployment, std::optional<int64_t> model_version,
                         std::optional<uint32_t> generation);
  // Switches `deployment` back to its previous release (kFailedPrecondition when none), its
  // model version loaded first.
  Result<Release> RollbackRelease(const std::string& deployment);
  // Retires a generation (FeatureGenerations::Retire), refused while a current or previous
  // release of a deployment uses it.
  Status RetireGeneration(const std::string& view, uint32_t generation);

  // Ok, or kUnavailable "ingest stopped: <kind> failed: <reason>" while degraded.
  Status health() const;

  // Updates gauges from the engine's and the queue's stats; called before /metrics renders.
  void RefreshMetrics();

 private:
  Instance() = default;
  Status Init(const InstanceOptions& options);
  // Reads every source from each live generation's offsets to its end into it, then
  // checkpoints.
  Status ReplaySources();
  // Where ApplyBatch applies: kLive, every live feature generation, recording quarantined
  // records and triggering predictions (the commit path and live consumers); kPrimary, the
  // primary engine's replay at Open, recording and triggering likewise (a replay re-triggers
  // what a crash lost; TriggerRouter::OnReplayed skips predictions already made); kOnly, one
  // other generation's engine (its replay or build), neither recording nor triggering.
  enum class ApplyTarget { kLive, kPrimary, kOnly };
  // Applies one batch read from source `name` to `engine` (null for kLive): a rejected record
  // goes to the quarantine under its partition and offset and the engines move past it; records
  // of a source that reads its own (file, kafka) are checked against its expectations: a
  // reject-policy violation fails naming the record's offset, quarantined records are kept (by
  // offset, and partition for kafka) and skipped. REQUIRES: writer_mu_ held, or Open running.
  Status ApplyBatch(ApplyTarget target, StreamEngine* engine, const std::string& name,
                    SourceBatch* batch);
  // Applies a run of records of one partition to the target, then (kLive, kPrimary) enqueues the
  // predictions they trigger.
  Status ApplyRun(ApplyTarget target, StreamEngine* engine, const std::string& name,
                  int32_t partition, uint64_t first_offset, const std::vector<Record>& records);
  // kResourceExhausted when the prediction jobs `records` of `source` trigger do not fit in the
  // prediction queue. (Concurrent batches may pass together and overshoot: the commit hook's
  // enqueue then fails, logged and counted.)
  Status CheckPredictionQueueRoom(const std::string& source, const std::vector<Record>& records);
  // A live source's consumer thread: reads and applies batches until shutdown; a batch that
  // cannot be applied marks the instance degraded and stops the thread.
  void ConsumeLoop(const std::string& name, Source* source);
  // Drops log records older than their source's retention that every generation applied.
  Status DropExpiredEvents();
  // Loads `model_version` for `deployment` before a release pins it, so the first request after
  // the switch finds it loaded. kFailedPrecondition naming both when it cannot serve.
  Status WarmRelease(const std::string& deployment, int64_t model_version);
  // Checks ingested `records` against the source's expectations into `*checked`: a reject
  // fails with the record's position in `body` (and counts the violations); otherwise moves
  // the records to append into `*accepted` (all but the quarantined ones).
  Status CheckIngested(const std::string& source, std::string_view body,
                       std::vector<Record>* records, CheckResult* checked,
                       std::vector<Record>* accepted, ParseError* parse_error);
  // OK when `source` takes ingested records (kind http); kNotFound or kInvalidArgument.
  Status CheckIngestible(const std::string& source);
  // Records below the engine's offsets are checkpointed: tell the sources.
  Status CommitSourcePositions();
  void OnCommit(const std::vector<CommittedBatch>& batches);
  void CheckpointLoop();
  enum class FailureKind { kCommit, kCheckpoint };
  // Counts and logs the failure, and marks the instance degraded unless it already is.
  // Returns the kUnavailable status to answer the request it failed.
  Status Degrade(FailureKind kind, const Status& cause);
  void Recovered();
  bool degraded() const;

  InstanceOptions options_;
  ProjectSpec spec_;
  const Clock* clock_ = nullptr;
  MetricsRegistry metrics_;
  InstanceProbe probe_{&metrics_};
  QualityProbe quality_probe_{&metrics_};
  QueueProbe queue_probe_{&metrics_};
  std::unique_ptr<Db> db_;
  std::unique_ptr<JobQueue> queue_;
  std::unique_ptr<TableStore> tables_;
  std::unique_ptr<StateBackend> backend_;
  TriggerProbe trigger_probe_{&metrics_};
  std::unique_ptr<PredictionStore> predictions_;
  std::unique_ptr<TriggerRouter> triggers_;
  // The commit hook's jobs on their way to triggers_; outlives generations_, whose engines
  // flush it before each checkpoint.
  std::unique_ptr<TriggerHandOff> trigger_handoff_;
  std::unique_ptr<EventLog> log_;
  std::map<std::string, std::unique_ptr<Source>> sources_;
  std::map<std::string, SourceExpectations> expectations_;  // every source, empty ones too
  std::unique_ptr<FeatureGenerations> generations_;
  std::unique_ptr<QuarantineStore> quarantine_;
  std::unique_ptr<OnlineStore> online_;
  std::unique_ptr<FeatureStore> features_;
  std::unique_ptr<ModelRegistry> registry_;
  std::unique_ptr<ModelCache> models_;
  std::unique_ptr<ReleaseStore> releases_;
  std::unique_ptr<Predictor> predictor_;
  std::unique_ptr<TriggerWorkers> trigger_workers_;  // started after replay, stopped first
  std::vector<std::string> source_names_;

  // Serializes the engine's single writer: the commit hook and checkpoints.
  std::mutex writer_mu_;
  // Serializes release switches and retirements, so no release picks a generation being
  // retired.
  std::mutex release_mu_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  mutable std::mutex health_mu_;
  Status health_;  // guarded by health_mu_; the first failure while healthy
  std::thread checkpointer_;
  std::vector<std::thread> consumers_;  // one per live source (kafka)
};

}  // namespace freshet
