// Shared pieces of the `freshet` subcommands: common options, printing, exit codes.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "core/status.h"

namespace freshet::cli {

// Exit codes. 0 success; 1 the operation failed; 2 bad usage or bad input.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

// --project and --data, shared by every subcommand that touches a project.
struct ProjectFlags {
  std::string project_dir = ".";
  std::string data_dir;  // Default: PROJECT/.data
  bool json = false;

  // Adds --project, --data and --json to `cmd`.
  void AddTo(CLI::App* cmd, bool with_data = true);
  std::string DataDir() const;
};

// The whole content of input file `path` ("-": stdin). kNotFound when it cannot be read.
Result<std::string> ReadInput(const std::string& path);

// Prints "freshet: <message>" to stderr and returns the exit code for `status`.
int Fail(const Status& status);

}  // namespace freshet::cli
