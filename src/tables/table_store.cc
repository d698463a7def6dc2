#include "tables/table_store.h"

#include <fmt/format.h>
#include <rocksdb/write_batch.h>

#include <limits>
#include <numeric>

#include "core/byte_codec.h"
#include "format/csv.h"
#include "format/record_parser.h"
#include "stream/entity_key.h"

namespace freshet {
namespace {

constexpr uint8_t kFormat = 1;
constexpr uint8_t kRow = 1;
constexpr uint8_t kTombstone = 2;

// varint length + source, varint length + entity key: the entity's versions follow this prefix.
std::string RowPrefix(std::string_view source, std::string_view entity_key) {
  std::string prefix;
  byte_codec::PutBytes(&prefix, source);
  byte_codec::PutBytes(&prefix, entity_key);
  return prefix;
}

// Event times as big-endian with the sign bit flipped: byte order is time order.
void AppendTime(std::string* key, int64_t ts_ms) {
  AppendBigEndian64(key, static_cast<uint64_t>(ts_ms) ^ (uint64_t{1} << 63));
}
int64_t ReadTime(const char* p) {
  return static_cast<int64_t>(ReadBigEndian64(p) ^ (uint64_t{1} << 63));
}

std::string EncodeVersion(const SourceSpec& table, const Record* row) {
  std::string out;
  out.push_back(static_cast<char>(kFormat));
  out.push_back(static_cast<char>(row ? kRow : kTombstone));
  if (!row) return out;
  byte_codec::PutVarint(&out, table.fields.size());
  for (size_t i = 0; i < table.fields.size(); ++i) {
    byte_codec::PutBytes(&out, table.fields[i].name);
    byte_codec::PutValue(&out, i < row->values.size() ? row->values[i] : Value());
  }
  return out;
}

// Decodes a stored version onto the current schema of `table` (fields by name).
Status DecodeVersion(const SourceSpec& table, int64_t ts_ms, std::string_view bytes,
                     AttributeVersion* out) {
  byte_codec::ByteReader in(bytes);
  uint8_t format = 0, kind = 0;
  uint64_t count = 0;
  auto corrupt = [&] {
    return Status::Internal(fmt::format("table '{}': corrupt row version", table.name));
  };
  if (!in.GetByte(&format) || format != kFormat || !in.GetByte(&kind)) return corrupt();
  out->event_ms = ts_ms;
  out->deleted = kind == kTombstone;
  out->values.clear();
  if (out->deleted) return Status::Ok();
  if (kind != kRow || !in.GetCount(&count)) return corrupt();
  out->values.assign(table.fields.size(), Value());
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view name;
    Value v;
    if (!in.GetBytes(&name) || !in.GetValue(&v)) return corrupt();
    int index = table.FieldIndex(std::string(name));
    if (index >= 0) out->values[index] = std::move(v);
  }
  return Status::Ok();
}

// The schema a delete body is read with: the key fields (in the entity's key order) and the
// timestamp, so other fields are ignored however they are typed.
SourceSpec DeleteSchema(const SourceSpec& table, const EntitySpec& entity) {
  SourceSpec schema = table;
  schema.fields.clear();
  for (const std::string& key : entity.keys) {
    schema.fields.push_back(table.fields[table.FieldIndex(key)]);
  }
  if (int ts = table.FieldIndex(table.timestamp_field); ts >= 0) {
    schema.fields.push_back(table.fields[ts]);
  }
  return schema;
}

}  // namespace

TableStore::TableStore(const ProjectSpec* spec, Db* db, MetricsRegistry* metrics,
                       size_t cached_rows)
    : spec_(spec), db_(db), latest_(cached_rows, metrics) {}

Result<const SourceSpec*> TableStore::Table(const std::string& source) const {
  auto it = spec_->sources.find(source);
  if (it == spec_->sources.end()) {
    return Status::NotFound(fmt::format("unknown source '{}'", source));
  }
  if (it->second.kind != SourceKind::kTable) {
    return Status::InvalidArgument(
        fmt::format("source '{}' is kind {}, not table: its records are events (POST "
                    "/v1/events/{}, freshet ingest)",
                    source, SourceKindName(it->second.kind), source));
  }
  return &it->second;
}

Status TableStore::Parse(const SourceSpec& schema, std::string_view body, TableFormat format,
                         std::vector<Record>* records, ParseError* error) const {
  const std::vector<std::string>& keys = spec_->entities.at(schema.entity).keys;
  if (format == TableFormat::kJson) return RecordParser(schema, keys).Parse(body, records, error);
  CsvParser rows(body, 1);
  CsvRow header;
  if (!rows.Next(&header)) return Status::InvalidArgument("empty CSV: expected a header line");
  CsvRecordParser parser(schema, "");
  RETURN_IF_ERROR(parser.SetHeader(header, keys));
  return parser.Parse(body.substr(rows.position()), header.line + 1, records, error);
}

Result<size_t> TableStore::Upsert(const std::string& source, std::string_view body,
                                  TableFormat format, ParseError* error) {
  ASSIGN_OR_RETURN(const SourceSpec* table, Table(source));
  std::vector<Record> records;
  RETURN_IF_ERROR(Parse(*table, body, format, &records, error));
  return Write(*table, records, /*deleted=*/false);
}

Result<size_t> TableStore::Delete(const std::string& source, std::string_view body,
                                  TableFormat format, ParseError* error) {
  ASSIGN_OR_RETURN(const SourceSpec* table, Table(source));
  SourceSpec schema = DeleteSchema(*table, spec_->entities.at(table->entity));
  std::vector<Record> records;
  RETURN_IF_ERROR(Parse(schema, body, format, &records, error));
  return Write(*table, records, /*deleted=*/true);
}

Result<size_t> TableStore::DeleteKeys(const std::string& source,
                                      const std::vector<std::vector<Value>>& keys, int64_t ts_ms) {
  ASSIGN_OR_RETURN(const SourceSpec* table, Table(source));
  const EntitySpec& entity = spec_->entities.at(table->entity);
  std::vector<Record> records(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].size() != entity.keys.size()) {
      return Status::InvalidArgument(fmt::format("entity '{}' has {} key field(s), got {}",
                                                 entity.name, entity.keys.size(), keys[i].size()));
    }
    records[i].ts_ms = ts_ms;
    records[i].values = keys[i];
  }
  return Write(*table, records, /*deleted=*/true);
}

// Rows are in `table`'s schema order; tombstones hold the key values first (DeleteSchema).
Result<size_t> TableStore::Write(const SourceSpec& table, const std::vector<Record>& records,
                                 bool deleted) {
  const EntitySpec& entity = spec_->entities.at(table.entity);
  std::vector<int> key_fields(entity.keys.size());
  if (deleted) {
    std::iota(key_fields.begin(), key_fields.end(), 0);
  } else {
    for (size_t k = 0; k < entity.keys.size(); ++k)
      key_fields[k] = table.FieldIndex(entity.keys[k]);
  }
  rocksdb::WriteBatch batch;
  std::vector<std::string> rows;  // their prefixes
  std::string entity_key, key;
  for (const Record& r : records) {
    EncodeRecordKey(r, key_fields, &entity_key);
    rows.push_back(RowPrefix(table.name, entity_key));
    key = rows.back();
    AppendTime(&key, r.ts_ms);
    std::string value = EncodeVersion(table, deleted ? nullptr : &r);
    rocksdb::Status s = batch.Put(db_->cf(Cf::kTables), key, value);
    if (!s.ok()) return FromRocks(s, "table batch");
  }
  if (records.empty()) return size_t{0};
  Status wrote = db_->Write(&batch, /*sync=*/true);
  latest_.Invalidate(rows);  // also after a failure, which may have applied the batch
  RETURN_IF_ERROR(wrote);
  return records.size();
}

Result<std::optional<AttributeVersion>> TableStore::ReadAsOf(const std::string& source,
                                                             std::string_view entity_key,
                                                             int64_t t_ms) const {
  ASSIGN_OR_RETURN(const SourceSpec* table, Table(source));
  const uint64_t epoch = latest_.Epoch();
  TableIterator it(db_);
  return ReadAsOf(&it, epoch, *table, source, entity_key, t_ms);
}

Result<std::vector<std::optional<AttributeVersion>>> TableStore::VersionsBefore(
    const std::string& table, const std::vector<std::string>& entity_keys, int64_t t_ms) const {
  ASSIGN_OR_RETURN(const SourceSpec* spec, Table(table));
  const uint64_t epoch = latest_.Epoch();
  TableIterator it(db_);
  std::vector<std::optional<AttributeVersion>> out;
  out.reserve(entity_keys.size());
  for (const std::string& key : entity_keys) {
    ASSIGN_OR_RETURN(std::optional<AttributeVersion> version,
                     ReadAsOf(&it, epoch, *spec, table, key, t_ms));
    out.push_back(std::move(version));
  }
  return out;
}

Result<std::optional<AttributeVersion>> TableStore::ReadAsOf(TableIterator* rows, uint64_t epoch,
                                                             const SourceSpec& table,
                                                             const std::string& source,
                                                             std::string_view entity_key,
                                                             int64_t t_ms) const {
  if (t_ms == std::numeric_limits<int64_t>::min()) return std::optional<AttributeVersion>();
  const std::string prefix = RowPrefix(source, entity_key);
  if (std::optional<AttributeVersion> latest = latest_.Find(prefix, t_ms)) return latest;
  const auto is_version = [&prefix](const rocksdb::Slice& key) {
    return key.size() == prefix.size() + 8 && key.starts_with(prefix);
  };
  std::string target = prefix;
  AppendTime(&target, t_ms - 1);
  rocksdb::Iterator* it = rows->get();
  it->SeekForPrev(target);
  if (!it->status().ok()) return FromRocks(it->status(), "table read");
  if (!it->Valid() || !is_version(it->key())) return std::optional<AttributeVersion>();
  AttributeVersion version;
  RETURN_IF_ERROR(DecodeVersion(table, ReadTime(it->key().data() + prefix.size()),
                                it->value().ToStringView(), &version));
  // The row's newest version when the next key is not one of its versions.
  it->Next();
  if (it->status().ok() && (!it->Valid() || !is_version(it->key()))) {
    latest_.Insert(prefix, version, epoch);
  }
  return std::optional<AttributeVersion>(std::move(version));
}

Result<std::optional<AttributeVersion>> TableStore::ReadLatest(const std::string& source,
                                                               std::string_view entity_key) const {
  return ReadAsOf(source, entity_key, std::numeric_limits<int64_t>::max());
}

Result<std::vector<AttributeVersion>> TableStore::History(const std::string& source,
                                                          std::string_view entity_key) const {
  ASSIGN_OR_RETURN(const SourceSpec* table, Table(source));
  const std::string prefix = RowPrefix(source, entity_key);
  std::vector<AttributeVersion> out;
  std::unique_ptr<rocksdb::Iterator> it = db_->NewIterator(Cf::kTables);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() != prefix.size() + 8) continue;
    AttributeVersion& version = out.emplace_back();
    RETURN_IF_ERROR(DecodeVersion(*table, ReadTime(it->key().data() + prefix.size()),
                                  it->value().ToStringView(), &version));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "table read");
  return out;
}

}  // namespace freshet
