#include "models/mlflow_model.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <sstream>
#include <vector>

#include "models/artifact_file.h"

namespace freshet {
namespace fs = std::filesystem;
namespace {

// How many directories above DIR a run's `artifacts/` directory is looked for (artifact paths
// such as "models/churn" nest the model).
constexpr int kMaxArtifactDepth = 4;

Status Refuse(const std::string& dir, std::string_view why) {
  return Status::InvalidArgument(fmt::format("MLflow model {}: {}", dir, why));
}

// A scalar member of a YAML map, or "" when absent or not a scalar.
std::string Scalar(const YAML::Node& node, const char* key) {
  const YAML::Node value = node[key];
  return value && value.IsScalar() ? value.Scalar() : "";
}

std::string Trim(std::string text) {
  size_t end = text.find_last_not_of(" \t\r\n");
  text.erase(end == std::string::npos ? 0 : end + 1);
  return text;
}

// Files directly in `dir` (none when it does not exist), sorted.
std::vector<fs::path> Files(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

Status ReadParams(const std::string& model_dir, const fs::path& dir,
                  std::map<std::string, std::string>* params) {
  for (const fs::path& file : Files(dir / "params")) {
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(file.string()));
    (*params)[file.filename().string()] = Trim(std::move(text));
  }
  return Status::Ok();
}

Status ReadMetrics(const std::string& model_dir, const fs::path& dir,
                   std::map<std::string, double>* metrics) {
  for (const fs::path& file : Files(dir / "metrics")) {
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(file.string()));
    std::istringstream lines(text);
    std::string line, last;
    while (std::getline(lines, line)) {
      if (!Trim(line).empty()) last = line;
    }
    std::istringstream fields(last);
    std::string timestamp, value;
    fields >> timestamp >> value;
    double number = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
      return Refuse(model_dir, fmt::format("metric file {} does not end in a \"<timestamp> "
                                           "<value> <step>\" line",
                                           file.string()));
    }
    (*metrics)[file.filename().string()] = number;
  }
  return Status::Ok();
}

// The run directory DIR was logged into, when DIR lies under <run>/artifacts/ and <run> has a
// meta.yaml; otherwise empty.
fs::path RunDir(const fs::path& dir) {
  fs::path p = fs::absolute(dir).lexically_normal();
  if (p.has_filename() == false) p = p.parent_path();
  for (int i = 0; i < kMaxArtifactDepth && p.has_parent_path() && p != p.parent_path(); ++i) {
    p = p.parent_path();
    std::error_code ec;
    if (p.filename() == "artifacts" && fs::is_regular_file(p.parent_path() / "meta.yaml", ec)) {
      return p.parent_path();
    }
  }
  return {};
}

// A TorchScript archive (torch.jit.save) is a zip holding constants.pkl and code/; torch.save
// of an eager module is a zip too, without them.
bool IsTorchScript(const std::string& bytes) {
  return bytes.rfind("PK\x03\x04", 0) == 0 && bytes.find("constants.pkl") != std::string::npos;
}

Status PickXgboost(const std::string& dir, const YAML::Node& flavor, MlflowModel* out) {
  std::string data = Scalar(flavor, "data");
  if (data.empty()) return Refuse(dir, "flavors.xgboost has no `data` file");
  std::string format = Scalar(flavor, "model_format");
  if (format.empty()) format = "xgb";
  if (format != "xgb" && format != "json" && format != "ubj") {
    return Refuse(dir,
                  fmt::format("flavors.xgboost.model_format '{}' is not xgb, json or ubj", format));
  }
  fs::path path = fs::path(dir) / data;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return Refuse(dir, fmt::format("flavors.xgboost.data names {}, which is not a file", data));
  }
  out->runtime = "xgboost";
  out->flavor = "xgboost";
  out->artifact_path = path.string();
  // The name carries the format: XGBoost reads .json and .ubj by extension, others as binary.
  out->artifact_name = fmt::format("{}.{}", path.stem().string(), format);
  return Status::Ok();
}

Status PickTorchScript(const std::string& dir, const YAML::Node& flavor, MlflowModel* out) {
  std::string data = Scalar(flavor, "model_data");
  if (data.empty()) data = "data";
  fs::path path = fs::path(dir) / data / "model.pth";
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return Refuse(dir, fmt::format("flavors.pytorch: {} is not a file", path.string()));
  }
  ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path.string()));
  if (!IsTorchScript(bytes)) {
    return Refuse(dir, fmt::format("flavors.pytorch: {} is a pickled Python module, not "
                                   "TorchScript (log a torch.jit.script'ed model)",
                                   path.string()));
  }
  out->runtime = "torchscript";
  out->flavor = "pytorch";
  out->artifact_path = path.string();
  out->artifact_name = "model.pt";
  return Status::Ok();
}

}  // namespace

Result<MlflowModel> ReadMlflowModel(const std::string& dir) {
  fs::path mlmodel = fs::path(dir) / "MLmodel";
  std::error_code ec;
  if (!fs::is_regular_file(mlmodel, ec)) {
    return Refuse(dir, "no MLmodel file (not an MLflow model directory)");
  }
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(mlmodel.string()));
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Refuse(dir, fmt::format("MLmodel line {}: {}", e.mark.line + 1, e.msg));
  }
  const YAML::Node flavors = root.IsMap() ? root["flavors"] : YAML::Node();
  if (!flavors || !flavors.IsMap()) return Refuse(dir, "MLmodel has no `flavors` map");

  MlflowModel out;
  if (flavors["xgboost"] && flavors["xgboost"].IsMap()) {
    RETURN_IF_ERROR(PickXgboost(dir, flavors["xgboost"], &out));
  } else if (flavors["pytorch"] && flavors["pytorch"].IsMap()) {
    RETURN_IF_ERROR(PickTorchScript(dir, flavors["pytorch"], &out));
  } else {
    std::string found;
    for (const auto& flavor : flavors) {
      found += fmt::format("{}{}", found.empty() ? "" : ", ", flavor.first.as<std::string>(""));
    }
    return Refuse(dir, fmt::format("no supported flavor (found: {}; supported: xgboost, pytorch "
                                   "as TorchScript)",
                                   found.empty() ? "none" : found));
  }

  for (const char* key : {"run_id", "model_uuid", "utc_time_created"}) {
    std::string value = Scalar(root, key);
    if (!value.empty()) out.tags[fmt::format("mlflow.{}", key)] = value;
  }
  // The run's own files first, so files beside the model override them.
  fs::path run = RunDir(dir);
  if (!run.empty()) {
    RETURN_IF_ERROR(ReadParams(dir, run, &out.params));
    RETURN_IF_ERROR(ReadMetrics(dir, run, &out.metrics));
    ASSIGN_OR_RETURN(std::string meta_text, ReadFileToString((run / "meta.yaml").string()));
    try {
      YAML::Node meta = YAML::Load(meta_text);
      if (meta.IsMap()) {
        out.created_by = Scalar(meta, "user_id");
        std::string run_name = Scalar(meta, "run_name");
        if (!run_name.empty()) out.tags["mlflow.run_name"] = run_name;
      }
    } catch (const YAML::Exception& e) {
      return Refuse(
          dir, fmt::format("{} line {}: {}", (run / "meta.yaml").string(), e.mark.line + 1, e.msg));
    }
  }
  RETURN_IF_ERROR(ReadParams(dir, dir, &out.params));
  RETURN_IF_ERROR(ReadMetrics(dir, dir, &out.metrics));
  return out;
}

RegisterOptions ToRegisterOptions(const MlflowModel& model) {
  RegisterOptions options;
  options.metrics = model.metrics;
  options.params = model.params;
  options.tags = model.tags;
  options.artifact_name = model.artifact_name;
  options.lineage.created_by = model.created_by;
  return options;
}

}  // namespace freshet
