#include "models/registry_codec.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <vector>

#include "storage/db.h"

namespace freshet {
namespace {

// Metrics may legitimately be NaN (an undefined AUC), so NaN/Inf are written and read.
using RecordWriter =
    rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>,
                      rapidjson::CrtAllocator, rapidjson::kWriteNanAndInfFlag>;

void WriteValue(RecordWriter* w, const std::string& s) {
  w->String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
void WriteValue(RecordWriter* w, int64_t v) { w->Int64(v); }
void WriteValue(RecordWriter* w, double v) { w->Double(v); }
void WriteValue(RecordWriter* w, bool v) { w->Bool(v); }

void WriteValue(RecordWriter* w, const FeatureSignature& f);
void WriteValue(RecordWriter* w, const AliasChange& c);
void WriteValue(RecordWriter* w, const ModelLineage& l);

template <typename T>
void WriteValue(RecordWriter* w, const std::map<std::string, T>& map) {
  w->StartObject();
  for (const auto& [key, value] : map) {
    w->Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    WriteValue(w, value);
  }
  w->EndObject();
}

template <typename T>
void WriteValue(RecordWriter* w, const std::vector<T>& items) {
  w->StartArray();
  for (const T& item : items) WriteValue(w, item);
  w->EndArray();
}

template <typename T>
void WriteField(RecordWriter* w, const char* key, const T& value) {
  w->Key(key);
  WriteValue(w, value);
}

void WriteValue(RecordWriter* w, const FeatureSignature& f) {
  w->StartObject();
  WriteField(w, "name", f.name);
  WriteField(w, "type", f.type);
  w->EndObject();
}

void WriteValue(RecordWriter* w, const AliasChange& c) {
  w->StartObject();
  WriteField(w, "alias", c.alias);
  WriteField(w, "version", c.version);
  WriteField(w, "previous", c.previous);
  WriteField(w, "at_ms", c.at_ms);
  WriteField(w, "by", c.by);
  WriteField(w, "rollback", c.rollback);
  w->EndObject();
}

void WriteValue(RecordWriter* w, const ModelLineage& l) {
  w->StartObject();
  WriteField(w, "training_data", l.training_data);
  WriteField(w, "training_data_sha256", l.training_data_sha256);
  WriteField(w, "holdout", l.holdout);
  WriteField(w, "holdout_sha256", l.holdout_sha256);
  WriteField(w, "feature_service", l.feature_service);
  WriteField(w, "feature_spec_hash", l.feature_spec_hash);
  WriteField(w, "runtime_library", l.runtime_library);
  WriteField(w, "created_by", l.created_by);
  w->EndObject();
}

bool ReadValue(const rapidjson::Value& v, std::string* out) {
  if (!v.IsString()) return false;
  out->assign(v.GetString(), v.GetStringLength());
  return true;
}
bool ReadValue(const rapidjson::Value& v, int64_t* out) {
  if (!v.IsInt64()) return false;
  *out = v.GetInt64();
  return true;
}
bool ReadValue(const rapidjson::Value& v, double* out) {
  if (!v.IsNumber()) return false;
  *out = v.GetDouble();
  return true;
}
bool ReadValue(const rapidjson::Value& v, bool* out) {
  if (!v.IsBool()) return false;
  *out = v.GetBool();
  return true;
}

// Reads the members of a stored object, all required; false at the first missing or mistyped.
class ObjectFields {
 public:
  explicit ObjectFields(const rapidjson::Value& v) : v_(v), ok_(v.IsObject()) {}
  template <typename T>
  ObjectFields& Read(const char* key, T* out) {
    ok_ = ok_ && v_.HasMember(key) && ReadValue(v_[key], out);
    return *this;
  }
  bool ok() const { return ok_; }

 private:
  const rapidjson::Value& v_;
  bool ok_;
};

bool ReadValue(const rapidjson::Value& v, FeatureSignature* out) {
  return ObjectFields(v).Read("name", &out->name).Read("type", &out->type).ok();
}

bool ReadValue(const rapidjson::Value& v, AliasChange* out) {
  return ObjectFields(v)
      .Read("alias", &out->alias)
      .Read("version", &out->version)
      .Read("previous", &out->previous)
      .Read("at_ms", &out->at_ms)
      .Read("by", &out->by)
      .Read("rollback", &out->rollback)
      .ok();
}

bool ReadValue(const rapidjson::Value& v, ModelLineage* out) {
  return ObjectFields(v)
      .Read("training_data", &out->training_data)
      .Read("training_data_sha256", &out->training_data_sha256)
      .Read("holdout", &out->holdout)
      .Read("holdout_sha256", &out->holdout_sha256)
      .Read("feature_service", &out->feature_service)
      .Read("feature_spec_hash", &out->feature_spec_hash)
      .Read("runtime_library", &out->runtime_library)
      .Read("created_by", &out->created_by)
      .ok();
}

template <typename T>
bool ReadValue(const rapidjson::Value& v, std::map<std::string, T>* out) {
  if (!v.IsObject()) return false;
  // Members by index: comparing RapidJSON's member iterators is ambiguous in C++20
  // (clang's -Wambiguous-reversed-operator).
  for (rapidjson::SizeType i = 0; i < v.MemberCount(); ++i) {
    const auto& member = v.MemberBegin()[i];
    T value;
    if (!ReadValue(member.value, &value)) return false;
    out->emplace(std::string(member.name.GetString(), member.name.GetStringLength()),
                 std::move(value));
  }
  return true;
}

template <typename T>
bool ReadValue(const rapidjson::Value& v, std::vector<T>* out) {
  if (!v.IsArray()) return false;
  for (const rapidjson::Value& item : v.GetArray()) {
    T value;
    if (!ReadValue(item, &value)) return false;
    out->push_back(std::move(value));
  }
  return true;
}

// Reads typed, required fields of one stored JSON object; the first problem sticks in status().
class RecordReader {
 public:
  RecordReader(std::string_view json, std::string_view what) : what_(what) {
    // Iterative: a deeply nested corrupt record cannot exhaust the stack.
    doc_.Parse<rapidjson::kParseNanAndInfFlag | rapidjson::kParseIterativeFlag>(json.data(),
                                                                                json.size());
    if (doc_.HasParseError() || !doc_.IsObject()) {
      status_ = Status::Internal(fmt::format("corrupt {} record: not a JSON object", what_));
      return;
    }
    int64_t format = 0;
    Read("format", &format);
    if (status_.ok() && format != kRegistryFormat) {
      status_ = Status::FailedPrecondition(fmt::format(
          "{} record has format {}; this freshet reads registry format {}{}", what_, format,
          kRegistryFormat,
          format < kRegistryFormat ? " (the data directory is from an older freshet: register "
                                     "the models again in a new data directory)"
                                   : ""));
    }
  }

  template <typename T>
  void Read(const char* key, T* out) {
    if (!status_.ok()) return;
    if (!doc_.HasMember(key) || !ReadValue(doc_[key], out)) {
      status_ = Status::Internal(fmt::format("corrupt {} record: bad field \"{}\"", what_, key));
    }
  }

  const Status& status() const { return status_; }

 private:
  std::string_view what_;
  rapidjson::Document doc_;
  Status status_;
};

}  // namespace

bool ModelRecord::IsDeleted(int64_t version) const {
  return std::binary_search(deleted.begin(), deleted.end(), version);
}

int64_t ModelRecord::LatestExisting() const {
  for (int64_t v = latest_version; v >= 1; --v) {
    if (!IsDeleted(v)) return v;
  }
  return 0;
}

std::vector<int64_t> ModelRecord::Versions() const {
  std::vector<int64_t> versions;
  for (int64_t v = 1; v <= latest_version; ++v) {
    if (!IsDeleted(v)) versions.push_back(v);
  }
  return versions;
}

std::string ModelKey(std::string_view name) { return fmt::format("{}{}", kModelKeyPrefix, name); }

std::string VersionKeyPrefix(std::string_view name) { return fmt::format("version/{}/", name); }

std::string VersionKey(std::string_view name, int64_t version) {
  std::string key = VersionKeyPrefix(name);
  AppendBigEndian64(&key, static_cast<uint64_t>(version));
  return key;
}

std::string EncodeModelRecord(const ModelRecord& record) {
  rapidjson::StringBuffer buffer;
  RecordWriter w(buffer);
  w.StartObject();
  WriteField(&w, "format", kRegistryFormat);
  WriteField(&w, "name", record.name);
  WriteField(&w, "created_ms", record.created_ms);
  WriteField(&w, "latest_version", record.latest_version);
  WriteField(&w, "deleted", record.deleted);
  WriteField(&w, "aliases", record.aliases);
  WriteField(&w, "tags", record.tags);
  std::map<std::string, std::map<std::string, std::string>> version_tags;
  for (const auto& [version, tags] : record.version_tags) {
    version_tags.emplace(std::to_string(version), tags);
  }
  WriteField(&w, "version_tags", version_tags);
  WriteField(&w, "alias_history", record.alias_history);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<ModelRecord> DecodeModelRecord(std::string_view json) {
  RecordReader reader(json, "model");
  ModelRecord record;
  reader.Read("name", &record.name);
  reader.Read("created_ms", &record.created_ms);
  reader.Read("latest_version", &record.latest_version);
  reader.Read("deleted", &record.deleted);
  reader.Read("aliases", &record.aliases);
  reader.Read("tags", &record.tags);
  std::map<std::string, std::map<std::string, std::string>> version_tags;
  reader.Read("version_tags", &version_tags);
  reader.Read("alias_history", &record.alias_history);
  if (!reader.status().ok()) return reader.status();
  for (auto& [version, tags] : version_tags) {
    int64_t number = 0;
    auto [end, ec] = std::from_chars(version.data(), version.data() + version.size(), number);
    if (ec != std::errc() || end != version.data() + version.size()) {
      return Status::Internal(
          fmt::format("corrupt model record: version_tags key \"{}\"", version));
    }
    record.version_tags.emplace(number, std::move(tags));
  }
  return record;
}

std::string EncodeModelVersion(const ModelVersion& v) {
  rapidjson::StringBuffer buffer;
  RecordWriter w(buffer);
  w.StartObject();
  WriteField(&w, "format", kRegistryFormat);
  WriteField(&w, "name", v.name);
  WriteField(&w, "version", v.version);
  WriteField(&w, "runtime", v.runtime);
  WriteField(&w, "artifact", v.artifact_path);
  WriteField(&w, "artifact_name", v.artifact_name);
  WriteField(&w, "artifact_size", v.artifact_size);
  WriteField(&w, "created_ms", v.created_ms);
  WriteField(&w, "content_hash", v.content_hash);
  WriteField(&w, "num_features", v.num_features);
  WriteField(&w, "description", v.description);
  WriteField(&w, "metrics", v.metrics);
  WriteField(&w, "params", v.params);
  WriteField(&w, "signature", v.signature);
  WriteField(&w, "lineage", v.lineage);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<ModelVersion> DecodeModelVersion(std::string_view json) {
  RecordReader reader(json, "model version");
  ModelVersion v;
  reader.Read("name", &v.name);
  reader.Read("version", &v.version);
  reader.Read("runtime", &v.runtime);
  reader.Read("artifact", &v.artifact_path);
  reader.Read("artifact_name", &v.artifact_name);
  reader.Read("artifact_size", &v.artifact_size);
  reader.Read("created_ms", &v.created_ms);
  reader.Read("content_hash", &v.content_hash);
  reader.Read("num_features", &v.num_features);
  reader.Read("description", &v.description);
  reader.Read("metrics", &v.metrics);
  reader.Read("params", &v.params);
  reader.Read("signature", &v.signature);
  reader.Read("lineage", &v.lineage);
  if (!reader.status().ok()) return reader.status();
  return v;
}

}  // namespace freshet
