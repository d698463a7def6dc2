// XgbBooster: an XGBoost model trained in process through XGBoost's C API (libxgboost), owning
// its BoosterHandle (freed on destruction). Errors carry XGBGetLastError()'s message.
//
// Training parameters are XGBoost's own names and values as text ("objective",
// "max_depth", "eta", "seed", ...), plus "num_boost_round", the number of boosting rounds, which
// is freshet's: it is not passed to XGBoost.
// Thread-safety: Train is safe from several threads; one object is used by one thread at a time.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "training/training_set.h"

namespace freshet {

class XgbBooster {
 public:
  static constexpr std::string_view kRoundsParam = "num_boost_round";

  // Trains on all rows of `data`. kInvalidArgument for no rows, a missing or bad
  // num_boost_round, or a parameter XGBoost refuses.
  static Result<XgbBooster> Train(const TrainingSet& data,
                                  const std::map<std::string, std::string>& params);

  XgbBooster(XgbBooster&&) noexcept = default;
  XgbBooster& operator=(XgbBooster&&) noexcept = default;
  ~XgbBooster();

  // One prediction per row of `data` (probabilities for binary:logistic).
  Result<std::vector<float>> Predict(const TrainingSet& data) const;
  // Saves the model; XGBoost picks the format by the extension (".json": JSON).
  Status Save(const std::string& path) const;

 private:
  struct Deleter {
    void operator()(void* booster) const;
  };
  explicit XgbBooster(void* booster) : booster_(booster) {}

  std::unique_ptr<void, Deleter> booster_;
};

}  // namespace freshet
