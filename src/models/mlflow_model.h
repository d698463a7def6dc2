// Reading an MLflow model directory (what mlflow.<flavor>.log_model / save_model write) into what
// the registry needs: which runtime serves it, its artifact, and the run's params and metrics.
//
// Read from DIR:
//   MLmodel (YAML, required): `flavors.xgboost` -> runtime "xgboost", the file
//       `flavors.xgboost.data` (model_format xgb, json or ubj); else `flavors.pytorch` ->
//       runtime "torchscript", the file `<flavors.pytorch.model_data>/model.pth` when it is a
//       TorchScript archive (a torch.jit.save'd module; a pickled eager module is refused).
//       `run_id`, `model_uuid` and `utc_time_created` become tags "mlflow.run_id", ...
//   params/<key>   (optional) one param per file, the file's text
//   metrics/<key>  (optional) MLflow's metric history, lines "<timestamp> <value> <step>"; the
//                  last line's value is the metric
// and, when DIR lies under a run's `artifacts/` directory (mlruns/<experiment>/<run>/artifacts/
// <artifact path>), the run's own params/, metrics/ (the same formats) and meta.yaml (`user_id`
// -> created_by, `run_name` -> tag "mlflow.run_name"). Files in subdirectories of params/ and
// metrics/ (keys containing '/') are not read.
//
// Thread-safety: free function; reads the directory only.
#pragma once

#include <map>
#include <string>

#include "core/status.h"
#include "models/registry.h"

namespace freshet {

struct MlflowModel {
  std::string runtime;        // "xgboost" or "torchscript"
  std::string artifact_path;  // the model file inside the directory
  std::string artifact_name;  // the name to register it under (the extension selects the format)
  std::string flavor;         // "xgboost" or "pytorch"
  std::map<std::string, std::string> params;
  std::map<std::string, double> metrics;
  std::map<std::string, std::string> tags;
  std::string created_by;  // the run's user_id; empty when unknown
};

// kInvalidArgument saying why a directory cannot be used: no MLmodel file, YAML that does not
// parse, no supported flavor (listing those found), a missing or unusable data file, a
// malformed param or metric file.
Result<MlflowModel> ReadMlflowModel(const std::string& dir);

// What the model contributes to its registration: metrics, params, tags, artifact_name and
// lineage.created_by. Register it as registry->Register(name, model.artifact_path,
// model.runtime, options).
RegisterOptions ToRegisterOptions(const MlflowModel& model);

}  // namespace freshet
