#include "training/training_run.h"

#include <fmt/format.h>

#include <filesystem>

#include "core/json.h"
#include "training/metrics.h"
#include "training/training_set.h"
#include "training/xgb_booster.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

Result<std::string> ChooseFeatureService(const ProjectSpec& spec, const ModelSpec& model,
                                         const std::string& requested) {
  std::string service = !requested.empty() ? requested : model.train->feature_service;
  if (service.empty()) {
    std::vector<std::string> deployed;
    for (const auto& [name, d] : spec.deployments) {
      if (d.model == model.name) deployed.push_back(d.feature_service);
    }
    if (deployed.size() == 1) {
      service = deployed[0];
    } else if (spec.feature_services.size() == 1) {
      service = spec.feature_services.begin()->first;
    } else {
      return Status::InvalidArgument(
          fmt::format("model '{}': name its feature service (train.features in freshet.yaml or "
                      "--feature-service)",
                      model.name));
    }
  }
  if (spec.feature_services.count(service) == 0) {
    return Status::InvalidArgument(fmt::format("unknown feature service '{}'", service));
  }
  return service;
}

// The labels' timestamp column: as the backfill chooses it.
std::string TimestampColumn(const ProjectSpec& spec, const std::vector<FeatureRef>& features,
                            const std::string& requested) {
  if (!requested.empty()) return requested;
  const FeatureViewSpec& view = spec.feature_views.at(features.front().view);
  return spec.sources.at(view.source).timestamp_field;
}

// The training parameters before tuning: the spec's, then objective, rounds, seed and threads
// unless the spec's params set them.
std::map<std::string, std::string> BaseParams(const TrainSpec& train, const TrainOptions& options) {
  std::map<std::string, std::string> params = train.params;
  params["objective"] = train.objective;
  params.try_emplace(std::string(XgbBooster::kRoundsParam), std::to_string(train.rounds));
  params.try_emplace("seed", std::to_string(options.seed));
  params.try_emplace("nthread", std::to_string(std::max(1, options.threads)));
  return params;
}

struct Evaluated {
  XgbBooster booster;
  std::map<std::string, double> metrics;
};

// Trains on `fit` and computes `metrics` on `eval`.
Result<Evaluated> TrainAndEvaluate(const TrainingSet& fit, const TrainingSet& eval,
                                   const std::map<std::string, std::string>& params,
                                   const std::vector<std::string>& metrics) {
  ASSIGN_OR_RETURN(XgbBooster booster, XgbBooster::Train(fit, params));
  ASSIGN_OR_RETURN(std::vector<float> predictions, booster.Predict(eval));
  std::map<std::string, double> values;
  for (const std::string& metric : metrics) {
    Result<double> value = ComputeMetric(metric, eval.y, predictions, eval.groups);
    if (!value.ok()) return Status::FailedPrecondition(value.status().message());
    values[metric] = *value;
  }
  return Evaluated{std::move(booster), std::move(values)};
}

// Runs the spec's tuning trials on `train` (validated on its latest rows) and returns the best
// trial's parameters merged into `base`. Fills result->trials and best_trial.
Result<std::map<std::string, std::string>> Tune(const ModelSpec& model, const TrainingSet& train,
                                                std::map<std::string, std::string> base,
                                                uint64_t seed, TrainResult* result) {
  const TuneSpec& tune = *model.tune;
  const std::vector<std::string>& metrics = model.train->metrics;
  Result<TimeSplit> split = SplitByTime(train.ts_ms, HoldoutRule{tune.validation, std::nullopt});
  if (!split.ok()) {
    return Status::FailedPrecondition("tuning validation split: " + split.status().message());
  }
  const TrainingSet fit = train.Subset(split->earlier);
  const TrainingSet validation = train.Subset(split->later);
  Tuner tuner(tune.space, tune.method, MetricHigherIsBetter(metrics.front()).value_or(true), seed,
              std::max(2, tune.trials / 3));
  for (int t = 0; t < tune.trials; ++t) {
    std::map<std::string, std::string> drawn = tuner.Suggest();
    std::map<std::string, std::string> params = base;
    for (const auto& [key, value] : drawn) params[key] = value;
    ASSIGN_OR_RETURN(Evaluated evaluated, TrainAndEvaluate(fit, validation, params, metrics));
    const double score = evaluated.metrics.at(metrics.front());
    tuner.Record(std::move(drawn), std::move(evaluated.metrics), score);
  }
  const Trial best = *tuner.best();
  result->trials = tuner.trials();
  result->best_trial = best.number;
  for (const auto& [key, value] : best.params) base[key] = value;
  return base;
}

std::string TrialsJson(const ModelSpec& model, uint64_t seed, const TrainResult& result) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("model");
  w.String(model.name.c_str());
  w.Key("method");
  w.String(model.tune->method.c_str());
  w.Key("metric");
  w.String(model.train->metrics.front().c_str());
  w.Key("seed");
  w.Uint64(seed);
  w.Key("best");
  w.Int(result.best_trial);
  w.Key("trials");
  WriteTrials(&w, result.trials);
  w.EndObject();
  return std::string(buffer.GetString()) + "\n";
}

Result<const ModelSpec*> TrainableModel(const ProjectSpec& spec, const std::string& name,
                                        bool tune) {
  auto it = spec.models.find(name);
  if (it == spec.models.end()) {
    return Status::InvalidArgument(fmt::format("unknown model '{}' in {}", name, spec.spec_path));
  }
  if (!it->second.train) {
    return Status::InvalidArgument(
        fmt::format("{}:{}: model '{}' has no train: block (label, objective, params...)",
                    spec.spec_path, it->second.line, name));
  }
  if (tune && !it->second.tune) {
    return Status::InvalidArgument(
        fmt::format("{}:{}: model '{}' has no tune: block (trials, method, space)", spec.spec_path,
                    it->second.line, name));
  }
  return &it->second;
}

}  // namespace

void WriteTrials(JsonWriter* w, const std::vector<Trial>& trials) {
  w->StartArray();
  for (const Trial& t : trials) {
    w->StartObject();
    w->Key("number");
    w->Int(t.number);
    w->Key("params");
    w->StartObject();
    for (const auto& [k, v] : t.params) {
      w->Key(k.c_str());
      w->String(v.c_str());
    }
    w->EndObject();
    w->Key("metrics");
    w->StartObject();
    for (const auto& [k, v] : t.metrics) {
      w->Key(k.c_str());
      w->Double(v);
    }
    w->EndObject();
    w->EndObject();
  }
  w->EndArray();
}

Result<TrainResult> RunTraining(const ProjectSpec& spec, const std::string& model_name,
                                const TrainOptions& options) {
  ASSIGN_OR_RETURN(const ModelSpec* model, TrainableModel(spec, model_name, options.tune));
  const TrainSpec& train = *model->train;
  TrainResult result;
  ASSIGN_OR_RETURN(result.feature_service,
                   ChooseFeatureService(spec, *model, options.feature_service));
  std::error_code ec;
  fs::create_directories(options.out_dir, ec);
  if (ec) {
    return Status::IoError(fmt::format("cannot create {}: {}", options.out_dir, ec.message()));
  }
  result.training_set_path = (fs::path(options.out_dir) / "training_set.csv").string();
  result.holdout_path = (fs::path(options.out_dir) / "holdout.csv").string();
  result.model_path = (fs::path(options.out_dir) / "model.json").string();

  BackfillOptions backfill;
  backfill.labels_path = options.labels_path;
  backfill.out_path = result.training_set_path;
  backfill.features = spec.feature_services.at(result.feature_service).features;
  backfill.event_files = options.event_files;
  backfill.source = options.source;
  backfill.timestamp_column = options.timestamp_column;
  backfill.threads = options.threads;
  backfill.tables = options.tables;
  ASSIGN_OR_RETURN(result.backfill, RunBackfill(spec, backfill, options.reader));

  ASSIGN_OR_RETURN(
      TrainingSet set,
      ReadTrainingSet(
          result.training_set_path,
          {result.backfill.columns, train.label,
           TimestampColumn(spec, backfill.features, options.timestamp_column), train.group}));
  ASSIGN_OR_RETURN(TimeSplit split, SplitByTime(set.ts_ms, {train.holdout, train.holdout_from_ms}));
  result.train_rows = split.earlier.size();
  result.holdout_rows = split.later.size();
  result.holdout_from_ms = split.cut_ms;
  const TrainingSet earlier = set.Subset(split.earlier);
  const TrainingSet holdout = set.Subset(split.later);

  result.params = BaseParams(train, options);
  if (options.tune) {
    ASSIGN_OR_RETURN(result.params,
                     Tune(*model, earlier, std::move(result.params), options.seed, &result));
    result.trials_path = (fs::path(options.out_dir) / "trials.json").string();
    RETURN_IF_ERROR(
        WriteFileAtomically(result.trials_path, TrialsJson(*model, options.seed, result)));
  }
  ASSIGN_OR_RETURN(Evaluated final_model,
                   TrainAndEvaluate(earlier, holdout, result.params, train.metrics));
  result.metrics = std::move(final_model.metrics);
  RETURN_IF_ERROR(final_model.booster.Save(result.model_path));
  RETURN_IF_ERROR(WriteLabelRows(set, split.later, result.holdout_path));
  return result;
}

Result<ModelVersion> RegisterTrained(ModelRegistry* registry, const std::string& model,
                                     const TrainResult& result, RegisterOptions base) {
  base.params = result.params;
  base.metrics = result.metrics;
  base.lineage.training_data = result.training_set_path;
  base.lineage.training_data_sha256.clear();
  base.lineage.holdout = result.holdout_path;
  base.lineage.holdout_sha256.clear();
  if (!result.trials_path.empty()) base.tags["trials"] = result.trials_path;
  if (base.description.empty()) {
    base.description = fmt::format("trained by freshet on {} rows, evaluated on {} holdout rows",
                                   result.train_rows, result.holdout_rows);
  }
  return registry->Register(model, result.model_path, "xgboost", base);
}

}  // namespace freshet
