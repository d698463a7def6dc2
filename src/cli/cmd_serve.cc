#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/cli_context.h"
#include "cli/commands.h"
#include "cli/serve_runner.h"
#include "core/logging.h"
#include "serving/model_signature.h"

namespace freshet::cli {
namespace {

struct ServeFlags {
  ProjectFlags project;
  std::string listen = "127.0.0.1:8080";
  int threads = 0;
  int64_t checkpoint_ms = kDefaultCheckpointIntervalMs;
  size_t max_state_mb = 0;
  std::string state_backend = InstanceOptions().state_backend;
  std::string log_level = "info";
  int trigger_workers = TriggerWorkersOptions().workers;
  QueueOptions queue;
};

Status Serve(const ServeFlags& f) {
  RETURN_IF_ERROR(SetUpLogging(f.log_level));
  ApiServer::BlockStopSignals();
  InstanceOptions options;
  options.project_dir = f.project.project_dir;
  options.data_dir = f.project.DataDir();
  options.checkpoint_interval_ms = f.checkpoint_ms;
  options.engine.max_resident_bytes = f.max_state_mb << 20;
  options.state_backend = f.state_backend;
  options.triggers.workers = f.trigger_workers;
  options.queue = f.queue;
  ASSIGN_OR_RETURN(auto instance, Instance::Open(options));
  // A deployment whose model reads other features than its service must not start serving.
  RETURN_IF_ERROR(CheckDeployments(instance->spec(), *instance->registry()));
  ASSIGN_OR_RETURN(auto server, ApiServer::Start(instance.get(), f.listen, f.threads));
  std::string host = f.listen.substr(0, f.listen.rfind(':'));
  spdlog::info("serving project '{}' from {} on http://{}:{}", instance->spec().project,
               options.data_dir, host, server->port());
  int sig = ApiServer::WaitForSignal();
  spdlog::info("signal {} received, shutting down", sig);
  server->Stop();
  server.reset();
  instance.reset();  // final checkpoint
  spdlog::info("stopped");
  return Status::Ok();
}

}  // namespace

void RegisterServe(CLI::App* app) {
  auto f = std::make_shared<ServeFlags>();
  CLI::App* cmd = app->add_subcommand("serve", "Serve the HTTP API (ingest, features, predict)");
  f->project.AddTo(cmd);
  cmd->add_option("--listen,-l", f->listen, "HOST:PORT (port 0 picks a free one)")
      ->capture_default_str();
  cmd->add_option("--threads", f->threads, "HTTP threads (Default: one per core)");
  cmd->add_option("--checkpoint-ms", f->checkpoint_ms, "Checkpoint period")->capture_default_str();
  cmd->add_option("--max-state-mb", f->max_state_mb,
                  "Window state kept in memory before idle entities are dropped to RocksDB "
                  "(0: no bound)")
      ->capture_default_str();
  cmd->add_option("--state-backend", f->state_backend,
                  "Where window state is checkpointed: rocksdb (the data directory) or memory "
                  "(nothing kept; each start replays the sources)")
      ->capture_default_str();
  cmd->add_option("--trigger-workers", f->trigger_workers,
                  "Prediction threads per deployment with an `on:` trigger")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--queue-max-jobs", f->queue.max_jobs,
                  "Prediction jobs held at most (all queues); beyond it ingest of triggering "
                  "events answers 429")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--queue-visibility-ms", f->queue.visibility_timeout_ms,
                  "A received prediction job not done by then is received again")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--queue-max-attempts", f->queue.max_attempts,
                  "Attempts of a predict job before its dead letter (deliveries retry longer)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--queue-retention-ms", f->queue.done_retention_ms,
                  "How long a done job's id is remembered, so that enqueueing it again is a no-op")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--log-level", f->log_level,
                  fmt::format("Log lines to stderr at this level and above: {}", kLogLevels))
      ->capture_default_str();
  cmd->callback([f] {
    Status st = Serve(*f);
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
  });
}

}  // namespace freshet::cli
