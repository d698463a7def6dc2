// backfill_driver: runs RunBackfill with the flags of `freshet backfill`, for
// bench/pit_vs_postgres.sh on builds whose CLI lacks the subcommand. Prints one JSON line:
// {"labels":N,"events":N,"late_events":N,"partitions":N,"spilled":false,"seconds":S}.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>

#include "pipeline/backfill.h"
#include "spec/spec_loader.h"

namespace {

using freshet::Result;
using freshet::Status;

struct Flags {
  std::string project = ".";
  std::string service;
  std::vector<std::string> features;
  freshet::BackfillOptions options;
};

Result<std::vector<freshet::FeatureRef>> ResolveFeatures(const freshet::ProjectSpec& spec,
                                                         const Flags& f) {
  if (!f.service.empty()) {
    auto it = spec.feature_services.find(f.service);
    if (it == spec.feature_services.end()) {
      return Status::NotFound(fmt::format("no feature service '{}'", f.service));
    }
    return it->second.features;
  }
  std::vector<freshet::FeatureRef> refs;
  for (const std::string& text : f.features) {
    ASSIGN_OR_RETURN(freshet::FeatureRef ref, freshet::ParseFeatureRef(text));
    refs.push_back(std::move(ref));
  }
  return refs;
}

Status Run(Flags& f) {
  auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(freshet::ProjectSpec spec, freshet::LoadProject(f.project));
  ASSIGN_OR_RETURN(f.options.features, ResolveFeatures(spec, f));
  ASSIGN_OR_RETURN(freshet::BackfillStats stats, freshet::RunBackfill(spec, f.options));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(
      "{{\"labels\":{},\"events\":{},\"late_events\":{},\"partitions\":{},\"spilled\":{},"
      "\"seconds\":{:.3f}}}\n",
      stats.labels, stats.events, stats.late_events, stats.partitions, stats.spilled, seconds);
  return Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"point-in-time training set (the library call behind `freshet backfill`)"};
  Flags f;
  app.add_option("--project", f.project, "project directory (holds freshet.yaml)");
  app.add_option("--labels", f.options.labels_path, "labels CSV")->required();
  app.add_option("--out", f.options.out_path, "training set CSV to write")->required();
  app.add_option("--events", f.options.event_files, "NDJSON or CSV event files")->required();
  auto* service = app.add_option("--feature-service", f.service, "feature service name");
  app.add_option("--features", f.features, "view:feature,...")->delimiter(',')->excludes(service);
  app.add_option("--timestamp", f.options.timestamp_column, "labels timestamp column");
  app.add_option("--source", f.options.source, "source the event files hold");
  app.add_option("--memory-budget", f.options.memory_budget_bytes, "bytes before spilling");
  app.add_option("--threads", f.options.threads, "worker threads");
  CLI11_PARSE(app, argc, argv);
  if (f.service.empty() && f.features.empty()) {
    fmt::print(stderr, "error: give --feature-service or --features\n");
    return 2;
  }
  Status st = Run(f);
  if (!st.ok()) {
    fmt::print(stderr, "error: {}\n", st.ToString());
    return 1;
  }
  return 0;
}
