// freshet: real-time ML features and predictions. See `freshet --help`.
#include <CLI/CLI.hpp>

#include "cli/cli_context.h"
#include "cli/commands.h"
#include "core/logging.h"

int main(int argc, char** argv) {
  // Log lines go to stderr, never into a command's output on stdout (`serve --log-level`
  // sets the level).
  (void)freshet::SetUpLogging("info");
  CLI::App app{"freshet: events in, fresh features and predictions out", "freshet"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "freshet 0.1.0");
  freshet::cli::RegisterServe(&app);
  freshet::cli::RegisterApply(&app);
  freshet::cli::RegisterIngest(&app);
  freshet::cli::RegisterLoad(&app);
  freshet::cli::RegisterFeatures(&app);
  freshet::cli::RegisterModels(&app);
  freshet::cli::RegisterDeploy(&app);
  freshet::cli::RegisterEvents(&app);
  freshet::cli::RegisterBackfill(&app);
  freshet::cli::RegisterBench(&app);
  freshet::cli::RegisterDemo(&app);
  freshet::cli::RegisterQuality(&app);
  freshet::cli::RegisterTrain(&app);
  freshet::cli::RegisterPredictions(&app);
  freshet::cli::RegisterQueue(&app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // A failed command throws RuntimeError with its own exit code, and --help and --version
    // exit 0; every other parse error (unknown flag, missing argument, bad number) is bad usage,
    // whatever code CLI11 gives it.
    const int code = app.exit(e);
    if (code == freshet::cli::kExitOk || dynamic_cast<const CLI::RuntimeError*>(&e) != nullptr) {
      return code;
    }
    return freshet::cli::kExitBadInput;
  }
  return 0;
}
