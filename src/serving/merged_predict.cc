#include "serving/merged_predict.h"

#include <map>
#include <utility>

namespace freshet {
namespace {

// The call's number of entity rows when every entity and context column has it; nullopt when
// they disagree (the call is not merged) or it has none.
std::optional<size_t> UniformRows(const PredictCall& call) {
  std::optional<size_t> rows;
  auto agree = [&rows](size_t n) {
    if (!rows) rows = n;
    return *rows == n;
  };
  for (const auto& [key, values] : *call.entities) {
    if (!agree(values.size())) return std::nullopt;
  }
  for (const auto& [field, values] : *call.context) {
    if (!agree(values.size())) return std::nullopt;
  }
  if (!rows || *rows == 0) return std::nullopt;
  return rows;
}

// What calls must share to be merged: deployment, as_of, top_k, entity keys, context fields.
std::string MergeKey(const PredictCall& call) {
  std::string key = *call.deployment;
  key += '\0';
  key += call.as_of_ms ? std::to_string(*call.as_of_ms) : "now";
  key += '\0';
  key += std::to_string(call.top_k);
  for (const auto& [name, values] : *call.entities) (key += '\0') += name;
  key += '\0';
  for (const auto& [name, values] : *call.context) (key += '\0') += name;
  return key;
}

Result<Prediction> PredictAlone(Predictor* predictor, const PredictCall& call) {
  return predictor->Predict(*call.deployment, *call.entities, call.as_of_ms, *call.context,
                            call.top_k);
}

template <typename T>
std::vector<T> Rows(const std::vector<T>& all, size_t rows, size_t begin, size_t count) {
  if (all.size() != rows) return all;
  return std::vector<T>(all.begin() + begin, all.begin() + begin + count);
}

// Appends each column of `from` to the same-named column of `to`.
void AppendColumns(const std::map<std::string, std::vector<Value>>& from,
                   std::map<std::string, std::vector<Value>>* to) {
  for (const auto& [name, values] : from) {
    std::vector<Value>& column = (*to)[name];
    column.insert(column.end(), values.begin(), values.end());
  }
}

// Answers `members` (indexes into `calls`, each of `rows[i]` rows) with one merged Predict,
// or each alone when that fails.
void RunMerged(Predictor* predictor, std::span<const PredictCall> calls,
               const std::vector<size_t>& members, const std::vector<size_t>& rows,
               std::vector<std::optional<Result<Prediction>>>* out) {
  if (members.size() > 1) {
    EntityColumns entities;
    PredictContext context;
    size_t total = 0;
    for (size_t i : members) {
      AppendColumns(*calls[i].entities, &entities);
      AppendColumns(*calls[i].context, &context);
      total += rows[i];
    }
    const PredictCall& first = calls[members.front()];
    Result<Prediction> merged =
        predictor->Predict(*first.deployment, entities, first.as_of_ms, context, first.top_k);
    if (merged.ok()) {
      size_t begin = 0;
      for (size_t i : members) {
        (*out)[i] = PredictionRows(*merged, total, begin, rows[i]);
        begin += rows[i];
      }
      return;
    }
  }
  for (size_t i : members) (*out)[i] = PredictAlone(predictor, calls[i]);
}

}  // namespace

Prediction PredictionRows(const Prediction& p, size_t rows, size_t begin, size_t count) {
  Prediction out;
  if (!p.scores.empty() && rows > 0) {
    const size_t per_row = p.scores.size() / rows;
    out.scores.assign(p.scores.begin() + begin * per_row,
                      p.scores.begin() + (begin + count) * per_row);
  }
  out.labels = Rows(p.labels, rows, begin, count);
  out.versions = Rows(p.versions, rows, begin, count);
  out.models = Rows(p.models, rows, begin, count);
  out.model = out.models.empty() ? p.model : out.models.front();
  out.version = out.versions.empty() ? p.version : out.versions.front();
  out.features.features = p.features.features;
  out.features.num_rows = p.features.num_rows == rows ? count : p.features.num_rows;
  for (size_t c = 0; c < p.features.features.size(); ++c) {
    out.features.values.push_back(Rows(p.features.values[c], rows, begin, count));
    out.features.statuses.push_back(Rows(p.features.statuses[c], rows, begin, count));
    out.features.event_ms.push_back(Rows(p.features.event_ms[c], rows, begin, count));
  }
  out.release = p.release;
  out.generations = p.generations;
  return out;
}

std::vector<Result<Prediction>> MergePredictCalls(Predictor* predictor,
                                                  std::span<const PredictCall> calls,
                                                  size_t max_rows) {
  std::vector<std::optional<Result<Prediction>>> answers(calls.size());
  std::vector<size_t> rows(calls.size(), 0);
  // Open groups by merge key: the members collected so far and their rows.
  std::map<std::string, std::pair<std::vector<size_t>, size_t>> open;
  for (size_t i = 0; i < calls.size(); ++i) {
    std::optional<size_t> n = UniformRows(calls[i]);
    if (!n || *n >= max_rows) {
      answers[i] = PredictAlone(predictor, calls[i]);
      continue;
    }
    rows[i] = *n;
    auto& [members, group_rows] = open[MergeKey(calls[i])];
    if (group_rows + *n > max_rows) {
      RunMerged(predictor, calls, members, rows, &answers);
      members.clear();
      group_rows = 0;
    }
    members.push_back(i);
    group_rows += *n;
  }
  for (const auto& [key, group] : open) {
    if (!group.first.empty()) RunMerged(predictor, calls, group.first, rows, &answers);
  }
  std::vector<Result<Prediction>> out;
  out.reserve(calls.size());
  for (auto& answer : answers) out.push_back(std::move(*answer));
  return out;
}

}  // namespace freshet
