// The registry's value types: one immutable ModelVersion per registered artifact, and ModelInfo
// summarizing a model (its latest version and aliases). Plain values; copy freely.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace freshet {

struct ModelVersion {
  std::string name;
  int64_t version = 0;  // 1, 2, ... in registration order; never reused
  std::string runtime;  // a CreateRuntime() name, e.g. "xgboost"
  // Absolute path of the registry's own copy: <data_dir>/models/<name>/<version>/<file name>.
  std::string artifact_path;
  int64_t created_ms = 0;  // from the registry's Clock
  // FNV-1a 64 of the artifact bytes, 16 lowercase hex digits (models/artifact_file.h).
  std::string content_hash;
  // The model's input width as its runtime reported it at registration; -1 if unknown.
  int64_t num_features = -1;
  std::string description;
  std::map<std::string, double> metrics;       // e.g. {"auc": 0.91}
  std::map<std::string, std::string> params;   // training hyperparameters
  std::vector<std::string> feature_names;      // input order; empty when not given
  std::map<std::string, std::string> lineage;  // training data, spec hash, code version...
};

struct ModelInfo {
  std::string name;
  int64_t created_ms = 0;  // when version 1 was registered
  ModelVersion latest;
  std::map<std::string, int64_t> aliases;  // alias -> version
};

}  // namespace freshet
