#include "spec/train_parser.h"

#include <fmt/format.h>

#include <cmath>

#include "core/parse_int.h"
#include "core/time_util.h"

namespace freshet {
namespace {

class TrainParser {
 public:
  TrainParser(const YamlReader& reader, const ProjectSpec& spec) : r_(reader), spec_(spec) {}

  Status ParseTrain(const YamlField& field, const ModelSpec& model, TrainSpec* train) {
    ASSIGN_OR_RETURN(YamlObject obj,
                     r_.Object(field, {"features", "label", "objective", "rounds", "params",
                                       "holdout", "holdout_from", "metrics", "group"}));
    train->line = field.line;
    if (model.runtime != "xgboost") {
      return r_.Error(field,
                      fmt::format("freshet trains runtime xgboost only, not '{}'", model.runtime));
    }
    RETURN_IF_ERROR(r_.ReadString(obj, "features", &train->feature_service));
    if (obj.Has("features") && spec_.feature_services.count(train->feature_service) == 0) {
      return r_.Error(obj.Get("features"),
                      fmt::format("unknown feature service '{}'", train->feature_service));
    }
    RETURN_IF_ERROR(r_.RequireString(obj, "label", &train->label));
    if (train->label.empty()) return r_.Error(obj.Get("label"), "empty label column");
    RETURN_IF_ERROR(r_.ReadString(obj, "objective", &train->objective));
    if (!IsBinaryObjective(train->objective) && train->objective.rfind("reg:", 0) != 0) {
      return r_.Error(obj.Get("objective"),
                      fmt::format("objective '{}' is not trained here (use binary:logistic or a "
                                  "reg: objective such as reg:squarederror)",
                                  train->objective));
    }
    RETURN_IF_ERROR(r_.ReadInt(obj, "rounds", &train->rounds));
    if (train->rounds < 1) return r_.Error(obj.Get("rounds"), "must be at least 1");
    ASSIGN_OR_RETURN(std::vector<YamlEntry> params, r_.Named(obj.Get("params")));
    for (const YamlEntry& p : params) {
      ASSIGN_OR_RETURN(train->params[p.name], r_.String(p.value));
    }
    RETURN_IF_ERROR(ParseHoldout(obj, train));
    RETURN_IF_ERROR(ParseMetrics(obj, train));
    return r_.ReadString(obj, "group", &train->group);
  }

  Status ParseTune(const YamlField& field, TuneSpec* tune) {
    ASSIGN_OR_RETURN(YamlObject obj, r_.Object(field, {"trials", "method", "validation", "space"}));
    tune->line = field.line;
    RETURN_IF_ERROR(r_.ReadInt(obj, "trials", &tune->trials));
    if (tune->trials < 1) return r_.Error(obj.Get("trials"), "must be at least 1");
    RETURN_IF_ERROR(r_.ReadString(obj, "method", &tune->method));
    if (tune->method != "random" && tune->method != "tpe") {
      return r_.Error(obj.Get("method"),
                      fmt::format("unknown method '{}' (use random or tpe)", tune->method));
    }
    RETURN_IF_ERROR(r_.ReadDouble(obj, "validation", &tune->validation));
    if (!(tune->validation > 0 && tune->validation < 1)) {
      return r_.Error(obj.Get("validation"), "must be a fraction in (0, 1)");
    }
    ASSIGN_OR_RETURN(std::vector<YamlEntry> space, r_.Named(obj.Get("space")));
    if (space.empty()) return r_.Error(obj.Get("space"), "needs at least one parameter range");
    for (const YamlEntry& entry : space) {
      ParamRangeSpec range;
      RETURN_IF_ERROR(ParseRange(entry, &range));
      tune->space.push_back(std::move(range));
    }
    return Status::Ok();
  }

 private:
  Status ParseHoldout(const YamlObject& obj, TrainSpec* train) {
    if (obj.Has("holdout") && obj.Has("holdout_from")) {
      return r_.Error(obj.Get("holdout_from"),
                      "give holdout (a fraction) or holdout_from, not both");
    }
    RETURN_IF_ERROR(r_.ReadDouble(obj, "holdout", &train->holdout));
    if (!(train->holdout > 0 && train->holdout < 1)) {
      return r_.Error(obj.Get("holdout"), "must be a fraction in (0, 1)");
    }
    if (!obj.Has("holdout_from")) return Status::Ok();
    YamlField field = obj.Get("holdout_from");
    ASSIGN_OR_RETURN(std::string text, r_.String(field));
    Result<int64_t> ms = ParseInt64(text, "holdout_from");
    if (!ms.ok()) ms = ParseRfc3339Ms(text);
    if (!ms.ok()) {
      return r_.Error(field, fmt::format("'{}' is not a timestamp (epoch ms or RFC 3339)", text));
    }
    train->holdout_from_ms = *ms;
    return Status::Ok();
  }

  Status ParseMetrics(const YamlObject& obj, TrainSpec* train) {
    const bool binary = IsBinaryObjective(train->objective);
    if (!obj.Has("metrics")) {
      train->metrics =
          binary ? std::vector<std::string>{"auc", "logloss"} : std::vector<std::string>{"rmse"};
      return Status::Ok();
    }
    ASSIGN_OR_RETURN(std::vector<YamlField> items, r_.Sequence(obj.Get("metrics")));
    if (items.empty()) return r_.Error(obj.Get("metrics"), "needs at least one metric");
    for (const YamlField& item : items) {
      ASSIGN_OR_RETURN(std::string metric, r_.String(item));
      if (metric == "auc" || metric == "logloss") {
        if (!binary) {
          return r_.Error(item, fmt::format("metric {} needs a binary objective, not '{}'", metric,
                                            train->objective));
        }
      } else if (metric != "rmse" && MetricRecallK(metric) == 0) {
        return r_.Error(
            item, fmt::format("unknown metric '{}' (use auc, logloss, rmse, recall@K)", metric));
      }
      train->metrics.push_back(std::move(metric));
    }
    return Status::Ok();
  }

  Status ParseRange(const YamlEntry& entry, ParamRangeSpec* range) {
    ASSIGN_OR_RETURN(YamlObject obj,
                     r_.Object(entry.value, {"low", "high", "log", "int", "choices"}));
    range->param = entry.name;
    range->line = entry.value.line;
    if (obj.Has("choices")) {
      if (obj.Has("low") || obj.Has("high") || obj.Has("log") || obj.Has("int")) {
        return r_.Error(obj.self(), "give choices or low/high, not both");
      }
      ASSIGN_OR_RETURN(std::vector<YamlField> items, r_.Sequence(obj.Get("choices")));
      if (items.empty()) return r_.Error(obj.Get("choices"), "needs at least one choice");
      for (const YamlField& item : items) {
        ASSIGN_OR_RETURN(std::string choice, r_.String(item));
        range->choices.push_back(std::move(choice));
      }
      return Status::Ok();
    }
    if (!obj.Has("low") || !obj.Has("high")) {
      return r_.Error(obj.self(), "needs low and high, or choices");
    }
    RETURN_IF_ERROR(r_.ReadDouble(obj, "low", &range->low));
    RETURN_IF_ERROR(r_.ReadDouble(obj, "high", &range->high));
    RETURN_IF_ERROR(r_.ReadBool(obj, "log", &range->log));
    RETURN_IF_ERROR(r_.ReadBool(obj, "int", &range->integer));
    if (!std::isfinite(range->low) || !std::isfinite(range->high) || range->low >= range->high) {
      return r_.Error(obj.self(),
                      fmt::format("low ({}) must be below high ({})", range->low, range->high));
    }
    if (range->log && range->low <= 0) {
      return r_.Error(obj.Get("low"), "a log range needs low > 0");
    }
    return Status::Ok();
  }

  const YamlReader& r_;
  const ProjectSpec& spec_;
};

}  // namespace

bool IsBinaryObjective(std::string_view objective) { return objective.rfind("binary:", 0) == 0; }

int MetricRecallK(std::string_view metric) {
  constexpr std::string_view kPrefix = "recall@";
  if (metric.rfind(kPrefix, 0) != 0) return 0;
  Result<int64_t> k = ParseInt64InRange(metric.substr(kPrefix.size()), "k", 1, 1'000'000);
  return k.ok() ? static_cast<int>(*k) : 0;
}

Status ParseTraining(const YamlReader& reader, const YamlObject& obj, const ProjectSpec& spec,
                     ModelSpec* model) {
  TrainParser parser(reader, spec);
  if (obj.Has("tune") && !obj.Has("train")) {
    return reader.Error(obj.Get("tune"), "tune needs a train block (what to tune)");
  }
  if (obj.Has("train")) {
    model->train.emplace();
    RETURN_IF_ERROR(parser.ParseTrain(obj.Get("train"), *model, &*model->train));
  }
  if (obj.Has("tune")) {
    model->tune.emplace();
    RETURN_IF_ERROR(parser.ParseTune(obj.Get("tune"), &*model->tune));
  }
  return Status::Ok();
}

}  // namespace freshet
