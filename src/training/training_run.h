// RunTraining: `freshet train MODEL --labels labels.csv` as a library call. Builds the
// point-in-time training set through the backfill (offline/backfill.h), splits it by time (the
// latest rows are the holdout: nothing is trained on rows later than a holdout row), optionally
// tunes the parameters (Tuner, validated on the latest training rows before the holdout), trains
// XGBoost with the model's `train:` spec, and evaluates the model on the holdout.
// RegisterTrained then records the result as a new version of the model.
//
// Files written to TrainOptions::out_dir (created):
//   training_set.csv  the backfill's output: the labels' columns, then the features
//   holdout.csv       the holdout rows' label columns: lineage.holdout, whose hash `models
//                     promote` compares, so every model evaluated on the same labels and
//                     split has the same holdout whatever features it reads
//   model.json        the trained XGBoost model
//   trials.json       with tuning: every trial's parameters and validation metrics (format in
//                     src/training/README.md)
//
// Thread-safety: RunTraining may run concurrently with itself on different out_dirs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "models/registry.h"
#include "offline/backfill.h"
#include "spec/project_spec.h"
#include "training/tuner.h"

namespace freshet {

struct TrainOptions {
  std::string labels_path;  // REQUIRES: entity key column(s), timestamp, the label column
  std::string out_dir;      // REQUIRES: non-empty; created when missing
  // Default: the train spec's `features`, else the service of the model's one deployment, else
  // the project's only feature service.
  std::string feature_service;
  // Backfill inputs: as BackfillOptions (event_files and source when there is no reader).
  std::vector<std::string> event_files;
  std::string source;
  std::string timestamp_column;             // Default: the source's timestamp field
  EventReader* reader = nullptr;            // not owned; null: read event_files
  const AttributeLookup* tables = nullptr;  // not owned; for table views
  bool tune = false;  // REQUIRES (when set): the model spec has a `tune:` block
  uint64_t seed = 0;  // XGBoost's seed and the tuner's
  int threads = 2;    // backfill workers and XGBoost's nthread
};

struct TrainResult {
  std::string feature_service;
  std::string training_set_path;
  std::string holdout_path;
  std::string model_path;
  std::string trials_path;  // empty without tuning
  size_t train_rows = 0;
  size_t holdout_rows = 0;
  int64_t holdout_from_ms = 0;  // the earliest holdout row's time; every training row is earlier
  // What the model was trained with: XGBoost parameters, num_boost_round and seed.
  std::map<std::string, std::string> params;
  std::map<std::string, double> metrics;  // on the holdout, the spec's metrics
  std::vector<Trial> trials;              // with tuning, in order
  int best_trial = 0;                     // its number; 0 without tuning
  BackfillStats backfill;
};

// kInvalidArgument when the model is not in the spec, has no `train:` block (or no `tune:` block
// for options.tune), when no feature service can be chosen, or for a bad labels file or cell;
// kFailedPrecondition when the rows cannot be split by time or a metric is undefined on the
// holdout (e.g. AUC over one class); XGBoost's errors as Status.
Result<TrainResult> RunTraining(const ProjectSpec& spec, const std::string& model,
                                const TrainOptions& options);

// Registers `result` as the next version of `model` (runtime xgboost) with its params, metrics,
// lineage (training set and holdout files, which the registry hashes) and, with tuning, the tag
// "trials" naming trials.json. `base` carries what the caller adds: the feature service binding
// (serving/model_signature.h: BindFeatureService), created_by, a description.
Result<ModelVersion> RegisterTrained(ModelRegistry* registry, const std::string& model,
                                     const TrainResult& result, RegisterOptions base);

// Writes `trials` as trials.json's "trials" array:
//   [{"number": 1, "params": {"eta": "0.1", ...}, "metrics": {"auc": 0.91, ...}}, ...]
void WriteTrials(JsonWriter* w, const std::vector<Trial>& trials);

}  // namespace freshet
