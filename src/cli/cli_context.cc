#include "cli/cli_context.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace freshet::cli {

void ProjectFlags::AddTo(CLI::App* cmd, bool with_data) {
  cmd->add_option("--project,-p", project_dir, "Project directory holding freshet.yaml")
      ->capture_default_str();
  if (with_data) {
    cmd->add_option("--data,-d", data_dir, "Data directory (Default: PROJECT/.data)");
  }
  cmd->add_flag("--json", json, "Machine-readable JSON output");
}

std::string ProjectFlags::DataDir() const {
  if (!data_dir.empty()) return data_dir;
  return (std::filesystem::path(project_dir) / ".data").string();
}

Result<std::string> ReadInput(const std::string& path) {
  std::ostringstream buf;
  if (path == "-") {
    buf << std::cin.rdbuf();
    return buf.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("cannot read {}", path));
  buf << in.rdbuf();
  return buf.str();
}

int Fail(const Status& status) {
  fmt::print(stderr, "freshet: {}\n", status.message());
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kAlreadyExists:
      return kExitBadInput;
    default:
      return kExitFailure;
  }
}

}  // namespace freshet::cli
