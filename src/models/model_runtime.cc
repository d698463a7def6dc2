#include "models/model_runtime.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "models/fasttext_runtime.h"
#include "models/linear_runtime.h"
#include "models/torchscript_runtime.h"
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
constexpr std::array<RuntimeEntry, 4> kRuntimes = {{
    {FasttextRuntime::kName, &Make<FasttextRuntime>},
    {LinearRuntime::kName, &Make<LinearRuntime>},
    {TorchscriptRuntime::kName, &Make<TorchscriptRuntime>},
    {XgboostRuntime::kName, &Make<XgboostRuntime>},
}};

}  // namespace

std::string_view RuntimeInputName(RuntimeInput input) {
  switch (input) {
    case RuntimeInput::kFeatureRows:
      return "feature_rows";
    case RuntimeInput::kText:
      return "text";
  }
  return "unknown";
}

Status ModelRuntime::PredictText(const std::vector<std::string>& texts, int32_t k, float threshold,
                                 std::vector<std::vector<TextLabel>>* out) const {
  return WrongInput(RuntimeInput::kText);
}

Status ModelRuntime::SentenceVectors(const std::vector<std::string>& texts,
                                     std::vector<float>* out) const {
  return WrongInput(RuntimeInput::kText);
}

Status ModelRuntime::WrongInput(RuntimeInput requested) const {
  return Status::InvalidArgument(fmt::format("model runtime \"{}\" takes {} input, not {}", name(),
                                             RuntimeInputName(input()),
                                             RuntimeInputName(requested)));
}

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
