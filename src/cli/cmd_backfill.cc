#include <fmt/format.h>

#include "cli/cli_context.h"
#include "cli/commands.h"
#include "core/json.h"
#include "instance/instance.h"
#include "instance/service_backfill.h"
#include "offline/backfill.h"
#include "sources/source_event_reader.h"
#include "spec/spec_loader.h"

namespace freshet::cli {
namespace {

struct BackfillFlags {
  ProjectFlags project;
  BackfillOptions options;
  std::string service;
  std::vector<std::string> features;
  size_t memory_mb = 512;
};

Result<std::vector<FeatureRef>> SelectFeatures(const ProjectSpec& spec, const BackfillFlags& f) {
  std::vector<FeatureRef> refs;
  if (!f.features.empty()) {
    for (const std::string& text : f.features) {
      ASSIGN_OR_RETURN(FeatureRef ref, ParseFeatureRef(text));
      refs.push_back(std::move(ref));
    }
    return refs;
  }
  if (!f.service.empty()) {
    auto it = spec.feature_services.find(f.service);
    if (it == spec.feature_services.end()) {
      return Status::NotFound(fmt::format("unknown feature service '{}'", f.service));
    }
    return it->second.features;
  }
  if (spec.feature_services.size() == 1) return spec.feature_services.begin()->second.features;
  return Status::InvalidArgument("give --feature-service NAME or --features view:f,...");
}

// The service to backfill: --feature-service, else the project's only one; empty with
// --features.
std::string ServiceName(const ProjectSpec& spec, const BackfillFlags& f) {
  if (!f.features.empty() || !f.service.empty()) return f.service;
  return spec.feature_services.size() == 1 ? spec.feature_services.begin()->first : "";
}

Status Run(BackfillFlags f) {
  std::unique_ptr<Instance> instance;
  std::unique_ptr<EventReader> reader;
  ASSIGN_OR_RETURN(ProjectSpec spec, LoadProject(f.project.project_dir));
  const std::string service = ServiceName(spec, f);
  auto bound = spec.feature_services.find(service);
  // Request features need the registered models: the data directory, as the server reads it.
  const bool request_features =
      bound != spec.feature_services.end() && !bound->second.request_features.empty();
  if (f.options.event_files.empty() || request_features) {
    InstanceOptions options;
    options.project_dir = f.project.project_dir;
    options.data_dir = f.project.DataDir();
    ASSIGN_OR_RETURN(instance, Instance::Open(options));
    spec = instance->spec();
    f.options.tables = instance->tables();
  }
  if (f.options.event_files.empty()) {
    // Each source where the online path reads it: the event log, or a file source's files.
    reader = std::make_unique<SourceEventReader>(SourceContext{&instance->spec(), instance->log()});
  }
  if (request_features) {
    RETURN_IF_ERROR(BindServiceBackfill(spec, service, instance->predictor(), &f.options));
  } else {
    ASSIGN_OR_RETURN(f.options.features, SelectFeatures(spec, f));
  }
  f.options.memory_budget_bytes = f.memory_mb << 20;
  ASSIGN_OR_RETURN(BackfillStats stats, RunBackfill(spec, f.options, reader.get()));
  if (f.project.json) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    w.Key("labels");
    w.Uint64(stats.labels);
    w.Key("events");
    w.Uint64(stats.events);
    w.Key("late_events");
    w.Uint64(stats.late_events);
    w.Key("partitions");
    w.Uint64(stats.partitions);
    w.Key("spilled");
    w.Bool(stats.spilled);
    if (!stats.quality_path.empty()) {
      w.Key("quarantined");
      w.Uint64(stats.quarantined);
      w.Key("violations");
      w.Uint64(stats.quality.total());
      w.Key("quality_report");
      w.String(stats.quality_path.data(),
               static_cast<rapidjson::SizeType>(stats.quality_path.size()));
    }
    w.EndObject();
    fmt::print("{}\n", buffer.GetString());
  } else {
    fmt::print(
        "wrote {} rows x {} features to {} ({} events read, {} late and dropped as online)\n",
        stats.labels, stats.columns.size(), f.options.out_path, stats.events, stats.late_events);
    if (!stats.quality_path.empty()) {
      fmt::print("{} expectation violations, {} events quarantined: {}\n", stats.quality.total(),
                 stats.quarantined, stats.quality_path);
    }
  }
  return Status::Ok();
}

}  // namespace

void RegisterBackfill(CLI::App* app) {
  auto f = std::make_shared<BackfillFlags>();
  CLI::App* cmd = app->add_subcommand(
      "backfill", "Build a point-in-time-correct training set from labels and past events");
  f->project.AddTo(cmd);
  cmd->add_option("--labels", f->options.labels_path, "Labels CSV: entity key(s), timestamp, ...")
      ->required();
  cmd->add_option("--out,-o", f->options.out_path, "Output CSV")->required();
  cmd->add_option(
      "--events", f->options.event_files,
      "NDJSON/CSV event files (Default: each source: the embedded event log or its files)");
  cmd->add_option("--feature-service", f->service, "Features of this service, in its order");
  cmd->add_option("--features", f->features, "view:feature list instead of a service")
      ->delimiter(',');
  cmd->add_option("--timestamp", f->options.timestamp_column,
                  "Labels timestamp column (Default: the source's timestamp field)");
  cmd->add_option("--source", f->options.source, "Source the event files belong to");
  cmd->add_option("--memory-mb", f->memory_mb, "Memory budget before spilling")
      ->capture_default_str();
  cmd->add_option("--threads", f->options.threads, "Worker threads")->capture_default_str();
  cmd->callback([f] {
    Status st = Run(*f);
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
  });
}

}  // namespace freshet::cli
