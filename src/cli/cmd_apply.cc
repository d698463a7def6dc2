#include <fmt/format.h>

#include "cli/cli_context.h"
#include "cli/commands.h"
#include "instance/built_kinds.h"
#include "spec/plan.h"
#include "spec/spec_loader.h"
#include "stream/compiled_view.h"

namespace freshet::cli {
namespace {

// Compiles every stream view so expression errors are reported by `apply`, not at serve time.
// (A table view's attributes were checked by the loader; it has nothing to compile.)
Status CompileViews(const ProjectSpec& spec) {
  for (const auto& [name, view] : spec.feature_views) {
    if (spec.sources.at(view.source).kind == SourceKind::kTable) continue;
    auto compiled = CompiledView::Compile(spec, view);
    if (!compiled.ok()) return compiled.status();
  }
  return Status::Ok();
}

}  // namespace

void RegisterApply(CLI::App* app) {
  auto flags = std::make_shared<ProjectFlags>();
  CLI::App* cmd = app->add_subcommand("apply", "Validate freshet.yaml and print the plan");
  flags->AddTo(cmd, /*with_data=*/false);
  cmd->callback([flags] {
    auto spec = LoadProject(flags->project_dir);
    Status st = spec.ok() ? CheckBuiltKinds(*spec, BuiltInThisVersion()) : spec.status();
    if (st.ok()) st = CompileViews(*spec);
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
    fmt::print("{}", flags->json ? FormatPlanJson(*spec) + "\n" : FormatPlan(*spec));
  });
}

}  // namespace freshet::cli
