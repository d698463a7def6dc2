// PredictionStore: the pull side of triggered predictions. Per (deployment, entity) it keeps
// the latest prediction and a short history (the last kHistory, newest first) in the
// `predictions` column family of the data directory (docs/formats.md), read with one point
// lookup by GET /v1/predictions/{deployment}.
//
// A prediction job that is retried (after a crash, or a failed delivery enqueue) finds the
// prediction it already made with Find(), and reuses it: one job never yields two different
// predictions while that prediction is within the entity's history.
//
// Thread-safety: thread-safe (each Put's read-modify-write of a history is serialized).
// Owns nothing it is given; `db` must outlive it.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/value.h"
#include "storage/db.h"
#include "triggers/prediction.h"

namespace freshet {

// One entity's new prediction for Put.
struct EntityPrediction {
  std::vector<Value> key;  // the deployment's key fields, in DeploymentKeyFields order
  StoredPrediction prediction;
};

class PredictionStore {
 public:
  // Predictions kept per (deployment, entity), the latest included.
  static constexpr size_t kHistory = 10;

  explicit PredictionStore(Db* db) : db_(db) {}

  // Makes each prediction its entity's latest (dropping the oldest past kHistory), in one
  // atomic write; not synced (a later synced write of the same database, e.g. the queue's,
  // makes it durable). Errors: kIoError.
  Status Put(const std::string& deployment, const std::vector<EntityPrediction>& predictions);

  // The entity's predictions, newest first; empty when it has none. Errors: kIoError, or
  // kInternal for a value this version cannot read.
  Result<std::vector<StoredPrediction>> Get(const std::string& deployment,
                                            const std::vector<Value>& key) const;

  // The entity's prediction made by job `job_id`, when still in its history.
  Result<std::optional<StoredPrediction>> Find(const std::string& deployment,
                                               const std::vector<Value>& key,
                                               const std::string& job_id) const;

 private:
  Db* db_;
  std::mutex write_mu_;  // serializes Put's read-modify-write
};

}  // namespace freshet
