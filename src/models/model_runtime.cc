#include "models/model_runtime.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "models/linear_runtime.h"
#include "models/xgboost_runtime.h"

namespace freshet {
namespace {

struct RuntimeEntry {
  std::string_view name;
  std::unique_ptr<ModelRuntime> (*create)();
};

template <typename T>
std::unique_ptr<ModelRuntime> Make() {
  return std::make_unique<T>();
}

// Adding a runtime is one line here (plus its files); keep the names sorted.
constexpr std::array<RuntimeEntry, 2> kRuntimes = {{
    {LinearRuntime::kName, &Make<LinearRuntime>},
    {XgboostRuntime::kName, &Make<XgboostRuntime>},
}};

}  // namespace

Result<std::unique_ptr<ModelRuntime>> CreateRuntime(std::string_view name) {
  for (const RuntimeEntry& entry : kRuntimes) {
    if (entry.name == name) return entry.create();
  }
  return Status::InvalidArgument(fmt::format("unknown model runtime \"{}\"; known runtimes: {}",
                                             name, fmt::join(KnownRuntimes(), ", ")));
}

std::vector<std::string> KnownRuntimes() {
  std::vector<std::string> names;
  for (const RuntimeEntry& entry : kRuntimes) names.emplace_back(entry.name);
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::unique_ptr<ModelRuntime>> LoadRuntime(std::string_view name,
                                                  const std::string& artifact_path) {
  ASSIGN_OR_RETURN(std::unique_ptr<ModelRuntime> runtime, CreateRuntime(name));
  RETURN_IF_ERROR(runtime->Load(artifact_path));
  return runtime;
}

}  // namespace freshet
