#include <fmt/format.h>

#include <filesystem>

#include "cli/cli_context.h"
#include "cli/commands.h"
#include "instance/built_kinds.h"
#include "serving/model_signature.h"
#include "spec/plan.h"
#include "spec/spec_loader.h"
#include "stream/compiled_view.h"
#include "triggers/trigger_router.h"

namespace freshet::cli {
namespace {

// Compiles every stream view and every deployment's trigger so expression errors are reported
// by `apply`, not at serve time. (A table view's attributes were checked by the loader; it has
// nothing to compile.)
Status CompileViews(const ProjectSpec& spec) {
  for (const auto& [name, view] : spec.feature_views) {
    if (spec.sources.at(view.source).kind == SourceKind::kTable) continue;
    auto compiled = CompiledView::Compile(spec, view);
    if (!compiled.ok()) return compiled.status();
  }
  return TriggerRouter::Check(spec);
}

// Checks the deployments against the registry of the data directory, when there is one: a
// deployment whose model version reads other features than its service is an error here, not at
// the first prediction. Read-only, so a data directory a server is running on can be checked.
Status CheckRegisteredModels(const ProjectSpec& spec, const std::string& data_dir) {
  std::error_code ec;  // RocksDB's CURRENT file: the directory holds a database
  if (!std::filesystem::exists(std::filesystem::path(data_dir) / "CURRENT", ec)) {
    return Status::Ok();
  }
  DbOptions options;
  options.create_if_missing = false;
  options.read_only = true;
  ASSIGN_OR_RETURN(auto db, Db::Open(data_dir, options));
  auto registry = ModelRegistry::OpenForReading(db.get(), data_dir, SystemClock::Default());
  return CheckDeployments(spec, *registry);
}

}  // namespace

void RegisterApply(CLI::App* app) {
  auto flags = std::make_shared<ProjectFlags>();
  CLI::App* cmd = app->add_subcommand("apply", "Validate freshet.yaml and print the plan");
  flags->AddTo(cmd);
  cmd->callback([flags] {
    auto spec = LoadProject(flags->project_dir);
    Status st = spec.ok() ? CheckBuiltKinds(*spec, BuiltInThisVersion()) : spec.status();
    if (st.ok()) st = CompileViews(*spec);
    if (st.ok()) st = CheckRegisteredModels(*spec, flags->DataDir());
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
    fmt::print("{}", flags->json ? FormatPlanJson(*spec) + "\n" : FormatPlan(*spec));
  });
}

}  // namespace freshet::cli
