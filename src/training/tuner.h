// Tuner: draws hyperparameter sets from a model's `tune.space` (spec/project_spec.h:
// ParamRangeSpec) and keeps every trial's parameters and validation metrics.
//
// method "random": every parameter independently uniform over its range (log-uniform for log
// ranges, rounded for integer ones; choices uniformly).
// method "tpe" (Tree-structured Parzen Estimator, simplified): the first `startup_trials` are
// random; afterwards the completed trials are split into the best quarter ("good") and the rest,
// and for each parameter independently kCandidates values are drawn from the good trials'
// density l (a Gaussian around a good trial's value, in log space for log ranges, mixed with the
// uniform prior; categorical choices by smoothed counts) and the one maximizing l(x) / g(x),
// g being the same density of the other trials, is suggested.
//
// Deterministic: the same seed, space and reported scores give the same suggestions.
// Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "spec/project_spec.h"

namespace freshet {

struct Trial {
  int number = 0;                             // 1, 2, ... in suggestion order
  std::map<std::string, std::string> params;  // the drawn values, as XGBoost parameter text
  std::map<std::string, double> metrics;      // on the validation slice
  double score = 0;                           // the ranking metric's value
};

class Tuner {
 public:
  static constexpr int kCandidates = 24;

  // REQUIRES: `space` non-empty, as the spec loader validates it; method "random" or "tpe".
  Tuner(std::vector<ParamRangeSpec> space, std::string method, bool higher_is_better, uint64_t seed,
        int startup_trials);

  // The parameters of the next trial.
  std::map<std::string, std::string> Suggest();
  // Records a completed trial (its number is assigned here).
  void Record(std::map<std::string, std::string> params, std::map<std::string, double> metrics,
              double score);

  const std::vector<Trial>& trials() const { return trials_; }
  // The best trial so far (the first of equals); nullopt before any.
  std::optional<Trial> best() const;

 private:
  // A parameter's value in the space it is sampled in: the number (its log for log ranges) or
  // the index of the choice.
  double Uniform(const ParamRangeSpec& range);
  double SampleTpe(const ParamRangeSpec& range, const std::vector<double>& good,
                   const std::vector<double>& bad);
  std::string Format(const ParamRangeSpec& range, double internal) const;
  bool Better(double a, double b) const { return higher_is_better_ ? a > b : a < b; }

  std::vector<ParamRangeSpec> space_;
  std::string method_;
  bool higher_is_better_;
  int startup_trials_;
  std::mt19937_64 rng_;
  std::vector<Trial> trials_;
  // Per trial, per parameter of space_, its internal value.
  std::vector<std::vector<double>> internal_;
  std::vector<double> pending_;  // internal values of the last suggestion
};

}  // namespace freshet
