#include "instance/quarantine_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "core/byte_codec.h"

namespace freshet {
namespace {

constexpr std::string_view kRecordPrefix = "rec/";
constexpr std::string_view kCountPrefix = "count/";
constexpr uint8_t kRecordFormat = 1;   // a record that failed an expectation
constexpr uint8_t kPayloadFormat = 2;  // a record the source could not parse: its bytes

std::string_view View(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// "rec/<source>/": source names are identifiers, so no prefix is another's.
std::string RecordPrefix(const std::string& source) {
  return fmt::format("{}{}/", kRecordPrefix, source);
}

std::string CountKey(const ViolationKey& key) {
  return fmt::format("{}{}/{}/{}/{}", kCountPrefix, key.source, key.field,
                     ExpectationKindName(key.kind), ExpectationPolicyName(key.policy));
}

Result<ViolationKey> ParseCountKey(std::string_view key) {
  std::vector<std::string_view> parts;
  key.remove_prefix(kCountPrefix.size());
  for (size_t slash; (slash = key.find('/')) != std::string_view::npos;) {
    parts.push_back(key.substr(0, slash));
    key.remove_prefix(slash + 1);
  }
  parts.push_back(key);
  ViolationKey out;
  if (parts.size() != 4 || !ParseExpectationKind(parts[2], &out.kind) ||
      !ParseExpectationPolicy(parts[3], &out.policy)) {
    return Status::Internal(fmt::format("quarantine: bad count key '{}'", key));
  }
  out.source = parts[0];
  out.field = parts[1];
  return out;
}

// The key of a kept record: "rec/<source>/" + [BE32 partition, for a partitioned source] +
// BE64 id.
std::string RecordKey(const std::string& prefix, std::optional<int32_t> partition, uint64_t id) {
  std::string key = prefix;
  if (partition) AppendBigEndian32(&key, static_cast<uint32_t>(*partition));
  AppendBigEndian64(&key, id);
  return key;
}

std::string EncodeHeader(uint8_t format, const std::vector<std::string>& violations,
                         int64_t now_ms) {
  std::string out(1, static_cast<char>(format));
  byte_codec::PutSigned(&out, now_ms);
  byte_codec::PutVarint(&out, violations.size());
  for (const std::string& v : violations) byte_codec::PutBytes(&out, v);
  return out;
}

std::string EncodeQuarantined(const Record& record, const std::vector<std::string>& violations,
                              int64_t now_ms) {
  std::string out = EncodeHeader(kRecordFormat, violations, now_ms);
  std::string encoded;
  EncodeRecord(record, &encoded);
  out += encoded;
  return out;
}

// `prefix_size`: the length of the key's "rec/<source>/".
Status DecodeQuarantined(std::string_view key, size_t prefix_size, std::string_view value,
                         QuarantinedRecord* out) {
  byte_codec::ByteReader in(value);
  uint8_t format = 0;
  uint64_t n = 0;
  const size_t suffix = key.size() - std::min(key.size(), prefix_size);
  bool ok = (suffix == 8 || suffix == 12) && in.GetByte(&format) &&
            (format == kRecordFormat || format == kPayloadFormat) &&
            in.GetSigned(&out->quarantined_ms) && in.GetCount(&n);
  for (uint64_t i = 0; ok && i < n; ++i) {
    std::string_view v;
    ok = in.GetBytes(&v);
    if (ok) out->violations.emplace_back(v);
  }
  if (!ok) return Status::Internal("quarantine: bad record entry");
  out->id = ReadBigEndian64(key.data() + key.size() - 8);
  if (suffix == 12)
    out->partition = static_cast<int32_t>(ReadBigEndian32(key.data() + prefix_size));
  if (format == kPayloadFormat) {
    out->payload = std::string(in.rest());
    return Status::Ok();
  }
  return DecodeRecord(in.rest(), &out->record);
}

}  // namespace

Result<std::unique_ptr<QuarantineStore>> QuarantineStore::Open(Db* db) {
  std::unique_ptr<QuarantineStore> store(new QuarantineStore(db));
  auto it = db->NewIterator(Cf::kQuarantine);
  for (it->Seek(std::string(kCountPrefix));
       it->Valid() && StartsWith(View(it->key()), kCountPrefix); it->Next()) {
    ASSIGN_OR_RETURN(ViolationKey key, ParseCountKey(View(it->key())));
    if (it->value().size() != 8) return Status::Internal("quarantine: bad count");
    store->counts_.Add(key, ReadBigEndian64(it->value().data()));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading quarantine counts"));
  return store;
}

void QuarantineStore::PutCounts(const QualityReport& batch, rocksdb::WriteBatch* write) {
  for (const auto& [key, count] : batch.counts()) {
    std::string value;
    AppendBigEndian64(&value, counts_.Count(key) + count);
    write->Put(db_->cf(Cf::kQuarantine), CountKey(key), value);
  }
}

Result<uint64_t> QuarantineStore::NextSeq(const std::string& source) {
  auto found = next_.find(source);
  if (found != next_.end()) return found->second;
  std::string prefix = RecordPrefix(source);
  std::string last = prefix;
  AppendBigEndian64(&last, UINT64_MAX);
  auto it = db_->NewIterator(Cf::kQuarantine);
  it->SeekForPrev(last);
  uint64_t next = 0;
  if (it->Valid() && StartsWith(View(it->key()), prefix) && it->key().size() == prefix.size() + 8) {
    next = ReadBigEndian64(it->key().data() + prefix.size()) + 1;
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading the quarantine"));
  return next_[source] = next;
}

Status QuarantineStore::Keep(const std::string& source, const std::vector<Record>& records,
                             const CheckResult& result, int64_t now_ms,
                             const std::vector<uint64_t>* offsets,
                             std::optional<int32_t> partition) {
  std::string prefix = RecordPrefix(source);
  auto key_of = [&](size_t index, uint64_t seq) {
    return RecordKey(prefix, partition, offsets ? (*offsets)[index] : seq);
  };
  // A file read again (its last records were quarantined, so the engine's offset stayed
  // before them) brings records kept already: they are neither kept nor counted twice.
  std::set<size_t> kept_before;
  for (size_t index : offsets ? result.quarantined : std::vector<size_t>{}) {
    ASSIGN_OR_RETURN(std::optional<std::string> found, db_->Get(Cf::kQuarantine, key_of(index, 0)));
    if (found) kept_before.insert(index);
  }
  QualityReport batch;
  std::map<size_t, std::vector<std::string>> violations;  // by record index
  for (const Violation& v : result.violations) {
    if (v.record != Violation::kBatch && kept_before.count(v.record)) continue;
    batch.Add({source, v.field, v.kind, v.policy}, 1);
    if (v.policy == ExpectationPolicy::kQuarantine && v.record != Violation::kBatch) {
      violations[v.record].push_back(v.ToString());
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t seq = 0;
  if (offsets == nullptr) {
    ASSIGN_OR_RETURN(seq, NextSeq(source));
  }
  rocksdb::WriteBatch write;
  for (size_t index : result.quarantined) {
    if (kept_before.count(index)) continue;
    write.Put(db_->cf(Cf::kQuarantine), key_of(index, seq++),
              EncodeQuarantined(records[index], violations[index], now_ms));
  }
  PutCounts(batch, &write);
  RETURN_IF_ERROR(db_->Write(&write, /*sync=*/true));
  if (offsets == nullptr) next_[source] = seq;
  counts_.Merge(batch);
  return Status::Ok();
}

Status QuarantineStore::KeepRejected(const std::string& source, int32_t partition, uint64_t offset,
                                     std::string_view payload, const std::string& error,
                                     int64_t now_ms) {
  const std::string key = RecordKey(RecordPrefix(source), partition, offset);
  ASSIGN_OR_RETURN(std::optional<std::string> found, db_->Get(Cf::kQuarantine, key));
  if (found) return Status::Ok();  // read again after a restart
  std::string value = EncodeHeader(kPayloadFormat, {error}, now_ms);
  value.append(payload);
  rocksdb::WriteBatch write;
  write.Put(db_->cf(Cf::kQuarantine), key, value);
  return db_->Write(&write, /*sync=*/true);
}

Status QuarantineStore::Count(const QualityReport& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  rocksdb::WriteBatch write;
  PutCounts(batch, &write);
  RETURN_IF_ERROR(db_->Write(&write, /*sync=*/true));
  counts_.Merge(batch);
  return Status::Ok();
}

Result<std::vector<QuarantinedRecord>> QuarantineStore::List(const std::string& source,
                                                             size_t limit) {
  std::vector<QuarantinedRecord> out;
  std::string prefix = RecordPrefix(source);
  const std::string last = prefix + std::string(13, '\xff');  // after every id, any layout
  auto it = db_->NewIterator(Cf::kQuarantine);
  for (it->SeekForPrev(last);
       it->Valid() && out.size() < limit && StartsWith(View(it->key()), prefix); it->Prev()) {
    RETURN_IF_ERROR(
        DecodeQuarantined(View(it->key()), prefix.size(), View(it->value()), &out.emplace_back()));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading the quarantine"));
  return out;
}

QualityReport QuarantineStore::Counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

}  // namespace freshet
