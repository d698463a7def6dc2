#include "training/tuner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>

namespace freshet {
namespace {

// The share of trials that count as good in TPE.
constexpr double kGoodShare = 0.25;

double Low(const ParamRangeSpec& r) { return r.log ? std::log(r.low) : r.low; }
double High(const ParamRangeSpec& r) { return r.log ? std::log(r.high) : r.high; }

// The Parzen density at `x` of Gaussians (width `sigma`) around `centers`, mixed with a uniform
// prior over [low, high] weighted as one more center.
double NumericDensity(double x, const std::vector<double>& centers, double sigma, double low,
                      double high) {
  double sum = 1.0 / (high - low);
  for (double c : centers) {
    const double z = (x - c) / sigma;
    sum += std::exp(-0.5 * z * z) / (sigma * std::sqrt(2 * std::numbers::pi));
  }
  return sum / static_cast<double>(centers.size() + 1);
}

// The smoothed share of `indices` that picked `choice` among `k` choices.
double ChoiceDensity(double choice, const std::vector<double>& indices, size_t k) {
  const auto count = std::count(indices.begin(), indices.end(), choice);
  return (static_cast<double>(count) + 1) / static_cast<double>(indices.size() + k);
}

}  // namespace

Tuner::Tuner(std::vector<ParamRangeSpec> space, std::string method, bool higher_is_better,
             uint64_t seed, int startup_trials)
    : space_(std::move(space)),
      method_(std::move(method)),
      higher_is_better_(higher_is_better),
      startup_trials_(std::max(1, startup_trials)),
      rng_(seed) {}

double Tuner::Uniform(const ParamRangeSpec& range) {
  if (!range.choices.empty()) {
    return static_cast<double>(
        std::uniform_int_distribution<size_t>(0, range.choices.size() - 1)(rng_));
  }
  return std::uniform_real_distribution<double>(Low(range), High(range))(rng_);
}

double Tuner::SampleTpe(const ParamRangeSpec& range, const std::vector<double>& good,
                        const std::vector<double>& bad) {
  double best_value = 0;
  double best_ratio = -1;
  for (int c = 0; c < kCandidates; ++c) {
    // Draw from l: the prior with weight 1 / (good + 1), else around a random good value.
    const size_t pick = std::uniform_int_distribution<size_t>(0, good.size())(rng_);
    double x = 0;
    double ratio = 0;
    if (!range.choices.empty()) {
      x = pick == good.size() ? Uniform(range) : good[pick];
      ratio = ChoiceDensity(x, good, range.choices.size()) /
              ChoiceDensity(x, bad, range.choices.size());
    } else {
      const double low = Low(range), high = High(range);
      const double sigma =
          (high - low) / std::max(1.0, std::sqrt(static_cast<double>(good.size() + bad.size())));
      x = pick == good.size()
              ? Uniform(range)
              : std::clamp(std::normal_distribution<double>(good[pick], sigma)(rng_), low, high);
      ratio = NumericDensity(x, good, sigma, low, high) / NumericDensity(x, bad, sigma, low, high);
    }
    if (ratio > best_ratio) {
      best_ratio = ratio;
      best_value = x;
    }
  }
  return best_value;
}

std::string Tuner::Format(const ParamRangeSpec& range, double internal) const {
  if (!range.choices.empty()) return range.choices[static_cast<size_t>(internal)];
  double value = range.log ? std::exp(internal) : internal;
  value = std::clamp(value, range.low, range.high);
  if (range.integer) return fmt::format("{}", static_cast<int64_t>(std::llround(value)));
  return fmt::format("{:.6g}", value);
}

std::map<std::string, std::string> Tuner::Suggest() {
  pending_.assign(space_.size(), 0);
  const bool tpe = method_ == "tpe" && static_cast<int>(trials_.size()) >= startup_trials_;
  std::vector<size_t> order(trials_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return Better(trials_[a].score, trials_[b].score); });
  const size_t n_good = std::max<size_t>(
      1, static_cast<size_t>(std::ceil(kGoodShare * static_cast<double>(trials_.size()))));
  std::map<std::string, std::string> params;
  for (size_t p = 0; p < space_.size(); ++p) {
    if (tpe) {
      std::vector<double> good, bad;
      for (size_t i = 0; i < order.size(); ++i) {
        (i < n_good ? good : bad).push_back(internal_[order[i]][p]);
      }
      pending_[p] = SampleTpe(space_[p], good, bad);
    } else {
      pending_[p] = Uniform(space_[p]);
    }
    params[space_[p].param] = Format(space_[p], pending_[p]);
  }
  return params;
}

void Tuner::Record(std::map<std::string, std::string> params, std::map<std::string, double> metrics,
                   double score) {
  trials_.push_back(
      {static_cast<int>(trials_.size()) + 1, std::move(params), std::move(metrics), score});
  internal_.push_back(pending_);
}

std::optional<Trial> Tuner::best() const {
  std::optional<Trial> best;
  for (const Trial& t : trials_) {
    if (!best || Better(t.score, best->score)) best = t;
  }
  return best;
}

}  // namespace freshet
