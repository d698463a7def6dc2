// Parsing a model's `train:` and `tune:` blocks (freshet.yaml `models.<name>`) into TrainSpec and
// TuneSpec. Internal to the spec module (used by spec_loader.cc); src/training runs what they say.
#pragma once

#include "core/status.h"
#include "spec/project_spec.h"
#include "spec/yaml_reader.h"

namespace freshet {

// Fills model->train and model->tune from the model's mapping `obj` (absent keys: none). Errors
// name the file, line and key: tune without train, training for a runtime other than xgboost, an
// unknown feature service, a missing label, an objective that is not binary:* or reg:*, a
// metric unknown or not meaningful for the objective, a holdout outside (0, 1) or given twice,
// a bad holdout_from timestamp, an empty space, a range with low >= high (or low <= 0 with log),
// an unknown method. REQUIRES: spec.feature_services is complete.
Status ParseTraining(const YamlReader& reader, const YamlObject& obj, const ProjectSpec& spec,
                     ModelSpec* model);

// Whether `objective` is a binary classification objective ("binary:logistic", ...).
bool IsBinaryObjective(std::string_view objective);
// For "recall@10": 10; 0 for any other name.
int MetricRecallK(std::string_view metric);

}  // namespace freshet
