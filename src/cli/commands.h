// The subcommands of `freshet`. Each Register* adds one subcommand (with its own --help) to the
// app; its callback throws CLI::RuntimeError(exit_code) on failure, which main() turns into the
// process exit code.
#pragma once

#include <CLI/CLI.hpp>

namespace freshet::cli {

void RegisterApply(CLI::App* app);
void RegisterServe(CLI::App* app);
void RegisterIngest(CLI::App* app);
void RegisterLoad(CLI::App* app);
void RegisterFeatures(CLI::App* app);
void RegisterModels(CLI::App* app);
void RegisterEvents(CLI::App* app);
void RegisterBackfill(CLI::App* app);
void RegisterBench(CLI::App* app);
void RegisterDemo(CLI::App* app);
void RegisterQuality(CLI::App* app);
void RegisterTrain(CLI::App* app);
void RegisterPredictions(CLI::App* app);
void RegisterDeploy(CLI::App* app);
void RegisterQueue(CLI::App* app);

}  // namespace freshet::cli
