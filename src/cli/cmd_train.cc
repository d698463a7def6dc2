#include <fmt/format.h>

#include <filesystem>

#include "api/api_json.h"
#include "cli/cli_context.h"
#include "cli/commands.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/time_util.h"
#include "instance/instance.h"
#include "serving/model_signature.h"
#include "sources/source_event_reader.h"
#include "training/training_run.h"

namespace freshet::cli {
namespace {

struct TrainFlags {
  ProjectFlags project;
  std::string model;
  TrainOptions options;
  std::string by;
};

std::string FormatMap(const std::map<std::string, double>& metrics) {
  std::string out;
  for (const auto& [name, value] : metrics) {
    out += fmt::format("{}{}={:.6g}", out.empty() ? "" : " ", name, value);
  }
  return out;
}

std::string FormatMap(const std::map<std::string, std::string>& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", name, value);
  }
  return out;
}

// --json: the registered version (GET /v1/models/{m}/versions/{v}'s document) and the run.
void PrintJson(const ModelVersion& v, const ModelInfo& model, const TrainResult& r) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  const std::string version = ModelVersionToJson(v, model.aliases);
  w.Key("version");
  w.RawValue(version.data(), version.size(), rapidjson::kObjectType);
  w.Key("train_rows");
  w.Uint64(r.train_rows);
  w.Key("holdout_rows");
  w.Uint64(r.holdout_rows);
  w.Key("holdout_from_ms");
  w.Int64(r.holdout_from_ms);
  w.Key("late_events");
  w.Uint64(r.backfill.late_events);
  if (!r.trials_path.empty()) {
    w.Key("best_trial");
    w.Int(r.best_trial);
    w.Key("trials");
    WriteTrials(&w, r.trials);
  }
  w.EndObject();
  fmt::print("{}\n", buffer.GetString());
}

void PrintText(const ModelVersion& v, const TrainResult& r) {
  fmt::print("registered {} v{}: trained on {} rows, evaluated on {} holdout rows from {}\n",
             v.name, v.version, r.train_rows, r.holdout_rows, FormatRfc3339Ms(r.holdout_from_ms));
  fmt::print("  holdout: {}\n", FormatMap(r.metrics));
  fmt::print("  params: {}\n", FormatMap(r.params));
  fmt::print("  training set: {}\n", r.training_set_path);
  if (r.trials_path.empty()) return;
  fmt::print("  {} trials ({}):\n", r.trials.size(), r.trials_path);
  for (const Trial& t : r.trials) {
    fmt::print("  {} {:>3}  {}  ->  {}\n", t.number == r.best_trial ? '*' : ' ', t.number,
               FormatMap(t.params), FormatMap(t.metrics));
  }
}

Status Run(TrainFlags f) {
  InstanceOptions instance_options;
  instance_options.project_dir = f.project.project_dir;
  instance_options.data_dir = f.project.DataDir();
  ASSIGN_OR_RETURN(std::unique_ptr<Instance> instance, Instance::Open(instance_options));
  const ProjectSpec& spec = instance->spec();
  // Without --events, each source is read where the online path reads it (as `backfill`).
  std::unique_ptr<EventReader> reader;
  if (f.options.event_files.empty()) {
    reader = std::make_unique<SourceEventReader>(SourceContext{&spec, instance->log()});
    f.options.reader = reader.get();
  }
  f.options.tables = instance->tables();
  if (f.options.out_dir.empty()) {
    f.options.out_dir = (std::filesystem::path(instance_options.data_dir) / "training" / f.model /
                         std::to_string(SystemClock::Default()->NowMs()))
                            .string();
  }
  ASSIGN_OR_RETURN(TrainResult result, RunTraining(spec, f.model, f.options));
  RegisterOptions base;
  RETURN_IF_ERROR(BindFeatureService(spec, result.feature_service, &base));
  base.lineage.created_by = f.by;
  ASSIGN_OR_RETURN(ModelVersion v,
                   RegisterTrained(instance->registry(), f.model, result, std::move(base)));
  if (f.project.json) {
    ASSIGN_OR_RETURN(ModelInfo model, instance->registry()->Get(f.model));
    PrintJson(v, model, result);
  } else {
    PrintText(v, result);
  }
  return Status::Ok();
}

}  // namespace

void RegisterTrain(CLI::App* app) {
  auto f = std::make_shared<TrainFlags>();
  CLI::App* cmd = app->add_subcommand(
      "train",
      "Train a model's XGBoost version from labels (freshet.yaml models.<m>.train), evaluate it "
      "on the latest rows and register it");
  f->project.AddTo(cmd);
  cmd->add_option("model", f->model, "Model name in freshet.yaml")->required();
  cmd->add_option("--labels", f->options.labels_path,
                  "Labels CSV: entity key(s), timestamp, the label column")
      ->required();
  cmd->add_flag("--tune", f->options.tune, "Search the tune: space first and train the best");
  cmd->add_option("--seed", f->options.seed, "XGBoost's and the tuner's seed")
      ->capture_default_str();
  cmd->add_option("--out,-o", f->options.out_dir,
                  "Directory for the training set, holdout, model and trials "
                  "(Default: DATA/training/MODEL/<epoch ms>)");
  cmd->add_option("--feature-service", f->options.feature_service,
                  "Features of this service (Default: train.features, the model's deployment's)");
  cmd->add_option(
      "--events", f->options.event_files,
      "NDJSON/CSV event files (Default: each source: the embedded event log or its files)");
  cmd->add_option("--source", f->options.source, "Source the event files belong to");
  cmd->add_option("--timestamp", f->options.timestamp_column,
                  "Labels timestamp column (Default: the source's timestamp field)");
  cmd->add_option("--threads", f->options.threads, "Backfill and XGBoost threads")
      ->capture_default_str();
  cmd->add_option("--by", f->by, "Recorded as the version's creator (Default: the OS user)");
  cmd->callback([f] {
    Status st = Run(*f);
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
  });
}

}  // namespace freshet::cli
