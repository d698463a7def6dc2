// PredictionStore: the pull side of triggered predictions. Per (deployment, entity) it keeps
// the latest prediction and a short history (the last kHistory, newest first) in the
// `predictions` column family of the data directory (docs/formats.md), read with one point
// lookup by GET /v1/predictions/{deployment}. Each history is a capped list
// (storage/capped_list.h): storing a prediction is one RocksDB merge, with no read.
//
// The triggered path stores a batch's predictions in the same atomic write that acks its jobs
// (Put with a Commit: JobQueue::Complete), so a retried job has stored nothing before.
//
// Thread-safety: thread-safe. Owns nothing it is given; `db` must outlive it.
#pragma once

#include <cstddef>
#include <functional>
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
  static constexpr size_t kHistory = kPredictionsKept;

  explicit PredictionStore(Db* db) : db_(db) {}

  // Rewrites the histories an earlier version stored (format 1: a count, then the predictions)
  // as capped lists, once per data directory (a marker records it); must run before the first
  // Put on such a directory. Errors: kIoError, or kInternal for a value it cannot read.
  Status UpgradeFormat();

  // Makes each prediction its entity's latest (dropping the oldest past kHistory), in one
  // atomic write; not synced (a later synced write of the same database, e.g. the queue's,
  // makes it durable). Errors: kIoError.
  Status Put(const std::string& deployment, const std::vector<EntityPrediction>& predictions);
  // As Put, but the writes go into a batch that `commit` writes along with its own (the jobs'
  // acks and deliveries: JobQueue::Complete). Returns what `commit` returns.
  using Commit = std::function<Status(rocksdb::WriteBatch*)>;
  Status Put(const std::string& deployment, const std::vector<EntityPrediction>& predictions,
             const Commit& commit);

  // The entity's predictions, newest first; empty when it has none. Errors: kIoError, or
  // kInternal for a value this version cannot read.
  Result<std::vector<StoredPrediction>> Get(const std::string& deployment,
                                            const std::vector<Value>& key) const;

 private:
  Db* db_;
};

}  // namespace freshet
