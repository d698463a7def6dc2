#include "training/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "spec/train_parser.h"

namespace freshet {
namespace {

Status CheckSizes(std::string_view metric, size_t labels, size_t predictions) {
  if (labels != predictions) {
    return Status::InvalidArgument(
        fmt::format("{}: {} labels but {} predictions", metric, labels, predictions));
  }
  if (labels == 0) return Status::InvalidArgument(fmt::format("{}: no rows", metric));
  return Status::Ok();
}

bool Positive(float label) { return label > 0.5f; }

}  // namespace

Result<double> RocAuc(const std::vector<float>& labels, const std::vector<float>& scores) {
  RETURN_IF_ERROR(CheckSizes("auc", labels.size(), scores.size()));
  std::vector<size_t> order(labels.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Mann-Whitney U: the sum of the positives' ranks, tied scores sharing their average rank.
  double positive_rank_sum = 0;
  size_t positives = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t t = i; t < j; ++t) {
      if (Positive(labels[order[t]])) {
        positive_rank_sum += average_rank;
        ++positives;
      }
    }
    i = j;
  }
  const size_t negatives = labels.size() - positives;
  if (positives == 0 || negatives == 0) {
    return Status::InvalidArgument("auc: the labels hold one class only");
  }
  const double p = static_cast<double>(positives);
  return (positive_rank_sum - p * (p + 1) / 2) / (p * static_cast<double>(negatives));
}

Result<double> LogLoss(const std::vector<float>& labels, const std::vector<float>& probabilities) {
  RETURN_IF_ERROR(CheckSizes("logloss", labels.size(), probabilities.size()));
  constexpr double kEps = 1e-15;
  double sum = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const double p = std::clamp(static_cast<double>(probabilities[i]), kEps, 1 - kEps);
    sum -= Positive(labels[i]) ? std::log(p) : std::log(1 - p);
  }
  return sum / static_cast<double>(labels.size());
}

Result<double> Rmse(const std::vector<float>& labels, const std::vector<float>& predictions) {
  RETURN_IF_ERROR(CheckSizes("rmse", labels.size(), predictions.size()));
  double sum = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const double d = static_cast<double>(predictions[i]) - static_cast<double>(labels[i]);
    sum += d * d;
  }
  return std::sqrt(sum / static_cast<double>(labels.size()));
}

Result<double> RecallAtK(const std::vector<float>& labels, const std::vector<float>& scores,
                         const std::vector<std::string>& groups, int k) {
  const std::string metric = fmt::format("recall@{}", k);
  RETURN_IF_ERROR(CheckSizes(metric, labels.size(), scores.size()));
  if (k < 1) return Status::InvalidArgument(fmt::format("{}: k must be at least 1", metric));
  if (!groups.empty() && groups.size() != labels.size()) {
    return Status::InvalidArgument(
        fmt::format("{}: {} labels but {} group keys", metric, labels.size(), groups.size()));
  }
  std::map<std::string_view, std::vector<size_t>> rows_by_group;
  for (size_t i = 0; i < labels.size(); ++i) {
    rows_by_group[groups.empty() ? std::string_view() : std::string_view(groups[i])].push_back(i);
  }
  double recall_sum = 0;
  size_t counted = 0;
  for (auto& [group, rows] : rows_by_group) {
    const size_t positives =
        std::count_if(rows.begin(), rows.end(), [&](size_t i) { return Positive(labels[i]); });
    if (positives == 0) continue;
    std::stable_sort(rows.begin(), rows.end(),
                     [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    const size_t top = std::min(rows.size(), static_cast<size_t>(k));
    const size_t hits = std::count_if(rows.begin(), rows.begin() + top,
                                      [&](size_t i) { return Positive(labels[i]); });
    recall_sum += static_cast<double>(hits) / static_cast<double>(positives);
    ++counted;
  }
  if (counted == 0) {
    return Status::InvalidArgument(fmt::format("{}: no group has a positive label", metric));
  }
  return recall_sum / static_cast<double>(counted);
}

Result<double> ComputeMetric(std::string_view metric, const std::vector<float>& labels,
                             const std::vector<float>& predictions,
                             const std::vector<std::string>& groups) {
  if (metric == "auc") return RocAuc(labels, predictions);
  if (metric == "logloss") return LogLoss(labels, predictions);
  if (metric == "rmse") return Rmse(labels, predictions);
  if (int k = MetricRecallK(metric); k > 0) return RecallAtK(labels, predictions, groups, k);
  return Status::InvalidArgument(
      fmt::format("unknown metric '{}' (use auc, logloss, rmse, recall@K)", metric));
}

}  // namespace freshet
