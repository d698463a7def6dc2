#include "triggers/prediction_store.h"

#include <rocksdb/write_batch.h>

#include <map>

#include "core/byte_codec.h"
#include "stream/entity_key.h"

namespace freshet {
namespace {

// Key: varint-length-prefixed deployment name, then the canonical entity key
// (stream/entity_key.h), so one deployment's entities are contiguous.
std::string StoreKey(const std::string& deployment, const std::vector<Value>& key) {
  std::string out;
  byte_codec::PutBytes(&out, deployment);
  out += EncodeEntityKey(key);
  return out;
}

// Value: varint count, then that many StoredPredictions, newest first.
std::string EncodeHistory(const std::vector<StoredPrediction>& history) {
  std::string out;
  byte_codec::PutVarint(&out, history.size());
  for (const StoredPrediction& p : history) EncodeStoredPrediction(p, &out);
  return out;
}

Result<std::vector<StoredPrediction>> DecodeHistory(std::string_view bytes) {
  byte_codec::ByteReader in(bytes);
  uint64_t n = 0;
  if (!in.GetCount(&n)) return Status::Internal("malformed prediction history");
  std::vector<StoredPrediction> history(n);
  for (StoredPrediction& p : history) {
    if (!DecodeStoredPrediction(&in, &p)) return Status::Internal("malformed prediction history");
  }
  if (!in.empty()) return Status::Internal("malformed prediction history");
  return history;
}

}  // namespace

Status PredictionStore::Put(const std::string& deployment,
                            const std::vector<EntityPrediction>& predictions) {
  return Put(deployment, predictions,
             [this](rocksdb::WriteBatch* batch) { return db_->Write(batch, /*sync=*/false); });
}

Status PredictionStore::Put(const std::string& deployment,
                            const std::vector<EntityPrediction>& predictions,
                            const Commit& commit) {
  std::lock_guard<std::mutex> lock(write_mu_);
  // A batch may hold several predictions of one entity: fold them in order.
  std::map<std::string, std::vector<StoredPrediction>> histories;
  for (const EntityPrediction& p : predictions) {
    std::string key = StoreKey(deployment, p.key);
    auto it = histories.find(key);
    if (it == histories.end()) {
      ASSIGN_OR_RETURN(std::vector<StoredPrediction> history, Get(deployment, p.key));
      it = histories.emplace(std::move(key), std::move(history)).first;
    }
    std::vector<StoredPrediction>& history = it->second;
    history.insert(history.begin(), p.prediction);
    if (history.size() > kHistory) history.resize(kHistory);
  }
  rocksdb::WriteBatch batch;
  for (const auto& [key, history] : histories) {
    batch.Put(db_->cf(Cf::kPredictions), key, EncodeHistory(history));
  }
  return commit(&batch);
}

Result<std::vector<StoredPrediction>> PredictionStore::Get(const std::string& deployment,
                                                           const std::vector<Value>& key) const {
  ASSIGN_OR_RETURN(std::optional<std::string> value,
                   db_->Get(Cf::kPredictions, StoreKey(deployment, key)));
  if (!value) return std::vector<StoredPrediction>{};
  return DecodeHistory(*value);
}

}  // namespace freshet
