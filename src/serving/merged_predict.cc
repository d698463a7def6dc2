#include "serving/merged_predict.h"

#include <map>
#include <string_view>
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
// Names are length-prefixed, so no two different lists of names give the same key.
std::string MergeKey(const PredictCall& call) {
  auto add = [](std::string* key, std::string_view part) {
    (*key += std::to_string(part.size())) += ':';
    *key += part;
  };
  std::string key;
  add(&key, *call.deployment);
  add(&key, call.as_of_ms ? std::to_string(*call.as_of_ms) : "now");
  add(&key, std::to_string(call.top_k));
  add(&key, std::to_string(call.entities->size()));
  for (const auto& [name, values] : *call.entities) add(&key, name);
  for (const auto& [name, values] : *call.context) add(&key, name);
  return key;
}

Result<PredictionRows> PredictAlone(Predictor* predictor, const PredictCall& call, size_t rows) {
  ASSIGN_OR_RETURN(Prediction p, predictor->Predict(*call.deployment, *call.entities, call.as_of_ms,
                                                    *call.context, call.top_k));
  const size_t n = rows > 0 ? rows : p.features.num_rows;
  return PredictionRows{std::make_shared<const Prediction>(std::move(p)), 0, n, n};
}

// Elements [begin, begin + count) of `all` when it has one per row (of `total`); else none.
template <typename T>
std::span<const T> RowsOf(const std::vector<T>& all, size_t total, size_t begin, size_t count) {
  if (all.size() != total) return {};
  return std::span<const T>(all).subspan(begin, count);
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
               std::vector<std::optional<Result<PredictionRows>>>* out) {
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
      auto all = std::make_shared<const Prediction>(std::move(*merged));
      size_t begin = 0;
      for (size_t i : members) {
        (*out)[i] = PredictionRows{all, begin, rows[i], total};
        begin += rows[i];
      }
      return;
    }
  }
  for (size_t i : members) (*out)[i] = PredictAlone(predictor, calls[i], rows[i]);
}

}  // namespace

std::span<const double> PredictionRows::scores() const {
  if (all->scores.empty() || total == 0) return {};
  const size_t per_row = all->scores.size() / total;
  return std::span<const double>(all->scores).subspan(begin * per_row, count * per_row);
}

std::span<const std::vector<TextLabel>> PredictionRows::labels() const {
  return RowsOf(all->labels, total, begin, count);
}

std::span<const int64_t> PredictionRows::versions() const {
  return RowsOf(all->versions, total, begin, count);
}

std::span<const std::string> PredictionRows::models() const {
  return RowsOf(all->models, total, begin, count);
}

const std::string& PredictionRows::model() const {
  return models().empty() ? all->model : models().front();
}

int64_t PredictionRows::version() const {
  return versions().empty() ? all->version : versions().front();
}

ReadStatus PredictionRows::status(size_t column, size_t row) const {
  return all->features.statuses[column][begin + row];
}

std::vector<Result<PredictionRows>> MergePredictCalls(Predictor* predictor,
                                                      std::span<const PredictCall> calls,
                                                      size_t max_rows) {
  std::vector<std::optional<Result<PredictionRows>>> answers(calls.size());
  std::vector<size_t> rows(calls.size(), 0);
  // Open groups by merge key: the members collected so far and their rows.
  std::map<std::string, std::pair<std::vector<size_t>, size_t>> open;
  for (size_t i = 0; i < calls.size(); ++i) {
    std::optional<size_t> n = UniformRows(calls[i]);
    if (!n || *n >= max_rows) {
      answers[i] = PredictAlone(predictor, calls[i], n.value_or(0));
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
  std::vector<Result<PredictionRows>> out;
  out.reserve(calls.size());
  for (auto& answer : answers) out.push_back(std::move(*answer));
  return out;
}

}  // namespace freshet
