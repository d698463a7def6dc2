// The registry's value types: one immutable ModelVersion per registered artifact (with its
// lineage and input signature), and ModelInfo summarizing a model (latest version, aliases,
// tags, alias history). Plain values; copy freely.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace freshet {

// One model input, in input order. `name` is the feature reference ("view:feature"); `type` the
// value type the model is fed (serving/model_signature.h documents the names).
struct FeatureSignature {
  std::string name;
  std::string type;
  bool operator==(const FeatureSignature&) const = default;
};

// Where a version came from. Every member is optional (empty when not recorded); the registry
// fills the hashes of files it is given and the runtime's library version itself. Every member
// has an initializer so callers can name just the fields they set under -Wextra.
struct ModelLineage {
  std::string training_data{};         // path or URI of the training set, as given
  std::string training_data_sha256{};  // SHA-256 of the training file, when it was a local file
  std::string holdout{};               // path or URI of the evaluation (holdout) set
  std::string holdout_sha256{};        // what `promote` compares: same hash, same holdout
  std::string feature_service{};       // the freshet.yaml feature service the model reads
  // SHA-256 over the canonical form of that service and the feature views it reads
  // (serving/model_signature.h: FeatureSpecHash), not over freshet.yaml's bytes.
  std::string feature_spec_hash{};
  std::string runtime_library{};  // e.g. "xgboost 1.7.4"; empty for freshet's own runtimes
  std::string created_by{};       // OS user or --by
  bool operator==(const ModelLineage&) const = default;
};

struct ModelVersion {
  std::string name;
  int64_t version = 0;  // 1, 2, ... in registration order; never reused, even after a delete
  std::string runtime;  // a CreateRuntime() name, e.g. "xgboost"
  // Absolute path of the registry's content-addressed copy:
  // <data_dir>/models/blobs/sha256/<content_hash><extension of the registered file>.
  std::string artifact_path;
  std::string artifact_name;  // the registered file's name, e.g. "model.json"
  int64_t artifact_size = 0;  // bytes
  int64_t created_ms = 0;     // from the registry's Clock
  std::string content_hash;   // SHA-256 of the artifact bytes, 64 lowercase hex digits
  // The model's input width as its runtime reported it at registration; -1 if unknown.
  int64_t num_features = -1;
  std::string description;
  std::map<std::string, double> metrics;      // e.g. {"auc": 0.91}; immutable
  std::map<std::string, std::string> params;  // training hyperparameters; immutable
  std::vector<FeatureSignature> signature;    // input order; empty when not given
  ModelLineage lineage;
  // Mutable key/values set after registration (`models tag`); not part of the immutable record.
  std::map<std::string, std::string> tags;
};

// One move of an alias, oldest first in ModelInfo::alias_history.
struct AliasChange {
  std::string alias;
  int64_t version = 0;   // where it points afterwards; 0 when the alias was removed
  int64_t previous = 0;  // where it pointed before; 0 when it did not exist
  int64_t at_ms = 0;
  std::string by;
  bool rollback = false;  // made by Rollback(), which undoes the newest change not undone
  bool operator==(const AliasChange&) const = default;
};

struct ModelInfo {
  std::string name;
  int64_t created_ms = 0;                  // when version 1 was registered
  ModelVersion latest;                     // the highest version not deleted
  std::map<std::string, int64_t> aliases;  // alias -> version
  std::map<std::string, std::string> tags;
  std::vector<AliasChange> alias_history;
  std::vector<int64_t> versions;  // existing versions, ascending
};

}  // namespace freshet
