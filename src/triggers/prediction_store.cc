#include "triggers/prediction_store.h"

#include <rocksdb/write_batch.h>

#include <memory>
#include <string_view>

#include "core/byte_codec.h"
#include "storage/capped_list.h"
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

// Format 1 values (before capped lists): varint count, then that many StoredPredictions, newest
// first. Read by UpgradeFormat only.
Result<std::vector<StoredPrediction>> DecodeFormatOne(std::string_view bytes) {
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

std::string EncodeEntry(const StoredPrediction& p) {
  std::string out;
  EncodeStoredPrediction(p, &out);
  return out;
}

// The key that records UpgradeFormat's work. Entity keys start with a deployment name's
// non-zero length, so no entity's key starts with 0x00.
const std::string kFormatMarker("\0format", 7);
constexpr std::string_view kCappedListFormat = "2";

}  // namespace

Status PredictionStore::Put(const std::string& deployment,
                            const std::vector<EntityPrediction>& predictions) {
  return Put(deployment, predictions,
             [this](rocksdb::WriteBatch* batch) { return db_->Write(batch, /*sync=*/false); });
}

Status PredictionStore::Put(const std::string& deployment,
                            const std::vector<EntityPrediction>& predictions,
                            const Commit& commit) {
  // Merges apply in batch order, so several predictions of one entity fold in order.
  rocksdb::WriteBatch batch;
  for (const EntityPrediction& p : predictions) {
    rocksdb::Status s = batch.Merge(db_->cf(Cf::kPredictions), StoreKey(deployment, p.key),
                                    EncodeEntry(p.prediction));
    if (!s.ok()) return Status::IoError("prediction store: " + s.ToString());
  }
  return commit(&batch);
}

Status PredictionStore::UpgradeFormat() {
  ASSIGN_OR_RETURN(std::optional<std::string> marker, db_->Get(Cf::kPredictions, kFormatMarker));
  if (marker && *marker == kCappedListFormat) return Status::Ok();
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it = db_->NewIterator(Cf::kPredictions);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view value(it->value().data(), it->value().size());
    if (it->key() == kFormatMarker || capped_list::IsCappedList(value)) continue;
    ASSIGN_OR_RETURN(std::vector<StoredPrediction> history, DecodeFormatOne(value));
    std::vector<std::string> entries;
    for (const StoredPrediction& p : history) entries.push_back(EncodeEntry(p));
    batch.Put(db_->cf(Cf::kPredictions), it->key(), capped_list::Encode(entries));
  }
  if (!it->status().ok()) return Status::IoError("prediction store: " + it->status().ToString());
  batch.Put(db_->cf(Cf::kPredictions), kFormatMarker, kCappedListFormat);
  return db_->Write(&batch, /*sync=*/true);
}

Result<std::vector<StoredPrediction>> PredictionStore::Get(const std::string& deployment,
                                                           const std::vector<Value>& key) const {
  ASSIGN_OR_RETURN(std::optional<std::string> value,
                   db_->Get(Cf::kPredictions, StoreKey(deployment, key)));
  if (!value) return std::vector<StoredPrediction>{};
  std::optional<std::vector<std::string_view>> entries = capped_list::Decode(*value);
  if (!entries) return Status::Internal("malformed prediction history");
  std::vector<StoredPrediction> history(entries->size());
  for (size_t i = 0; i < entries->size(); ++i) {
    byte_codec::ByteReader in((*entries)[i]);
    if (!DecodeStoredPrediction(&in, &history[i]) || !in.empty()) {
      return Status::Internal("malformed prediction history");
    }
  }
  return history;
}

}  // namespace freshet
