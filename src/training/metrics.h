// Evaluation metrics of a trained model on a holdout, as scikit-learn computes them:
//   auc      area under the ROC curve (sklearn.metrics.roc_auc_score): the probability that a
//            random positive scores above a random negative, ties counting one half
//   logloss  mean negative log-likelihood of binary labels (sklearn.metrics.log_loss), the
//            predicted probabilities clipped to [1e-15, 1 - 1e-15]
//   rmse     root mean squared error (sqrt of sklearn.metrics.mean_squared_error)
//   recall@K per group (all rows one group when no groups are given) with at least one positive
//            label: the positives among the group's K highest-scored rows over the group's
//            positives (ties broken by row order); the mean over those groups
// Labels of auc, logloss and recall@K are 0 or 1 (positive: > 0.5).
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace freshet {

// kInvalidArgument when the sizes differ, there are no rows, or the labels hold one class only.
Result<double> RocAuc(const std::vector<float>& labels, const std::vector<float>& scores);
// kInvalidArgument when the sizes differ or there are no rows.
Result<double> LogLoss(const std::vector<float>& labels, const std::vector<float>& probabilities);
Result<double> Rmse(const std::vector<float>& labels, const std::vector<float>& predictions);
// `groups` is empty (one group) or one key per row. kInvalidArgument when no group has a
// positive label, k < 1 or the sizes differ.
Result<double> RecallAtK(const std::vector<float>& labels, const std::vector<float>& scores,
                         const std::vector<std::string>& groups, int k);

// The metric named `metric` ("auc", "logloss", "rmse", "recall@K"); kInvalidArgument for
// another name.
Result<double> ComputeMetric(std::string_view metric, const std::vector<float>& labels,
                             const std::vector<float>& predictions,
                             const std::vector<std::string>& groups);

}  // namespace freshet
