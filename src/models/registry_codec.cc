#include "models/registry_codec.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <vector>

#include "storage/db.h"

namespace freshet {
namespace {

// Bumped only with a migration; decoding rejects other values rather than misreading them.
constexpr int64_t kFormatVersion = 1;

// Metrics may legitimately be NaN (an undefined AUC), so NaN/Inf are written and read.
using RecordWriter =
    rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>,
                      rapidjson::CrtAllocator, rapidjson::kWriteNanAndInfFlag>;

void WriteValue(RecordWriter* w, const std::string& s) {
  w->String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
void WriteValue(RecordWriter* w, int64_t v) { w->Int64(v); }
void WriteValue(RecordWriter* w, double v) { w->Double(v); }

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

template <typename T>
bool ReadValue(const rapidjson::Value& v, std::map<std::string, T>* out) {
  if (!v.IsObject()) return false;
  for (const auto& member : v.GetObject()) {
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
    doc_.Parse<rapidjson::kParseNanAndInfFlag | rapidjson::kParseIterativeFlag>(json.data(),
                                                                                json.size());
    if (doc_.HasParseError() || !doc_.IsObject()) {
      status_ = Status::Internal(fmt::format("corrupt {} record: not a JSON object", what_));
      return;
    }
    int64_t format = 0;
    Read("format", &format);
    if (status_.ok() && format != kFormatVersion) {
      status_ = Status::Internal(fmt::format("{} record has unsupported format {}", what_, format));
    }
  }

  template <typename T>
  void Read(const char* key, T* out) {
    if (!status_.ok()) return;
    auto it = doc_.FindMember(key);
    if (it == doc_.MemberEnd() || !ReadValue(it->value, out)) {
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
  WriteField(&w, "format", kFormatVersion);
  WriteField(&w, "name", record.name);
  WriteField(&w, "created_ms", record.created_ms);
  WriteField(&w, "latest_version", record.latest_version);
  WriteField(&w, "aliases", record.aliases);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<ModelRecord> DecodeModelRecord(std::string_view json) {
  RecordReader reader(json, "model");
  ModelRecord record;
  reader.Read("name", &record.name);
  reader.Read("created_ms", &record.created_ms);
  reader.Read("latest_version", &record.latest_version);
  reader.Read("aliases", &record.aliases);
  if (!reader.status().ok()) return reader.status();
  return record;
}

std::string EncodeModelVersion(const ModelVersion& v) {
  rapidjson::StringBuffer buffer;
  RecordWriter w(buffer);
  w.StartObject();
  WriteField(&w, "format", kFormatVersion);
  WriteField(&w, "name", v.name);
  WriteField(&w, "version", v.version);
  WriteField(&w, "runtime", v.runtime);
  WriteField(&w, "artifact", v.artifact_path);
  WriteField(&w, "created_ms", v.created_ms);
  WriteField(&w, "content_hash", v.content_hash);
  WriteField(&w, "num_features", v.num_features);
  WriteField(&w, "description", v.description);
  WriteField(&w, "metrics", v.metrics);
  WriteField(&w, "params", v.params);
  WriteField(&w, "feature_names", v.feature_names);
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
  reader.Read("created_ms", &v.created_ms);
  reader.Read("content_hash", &v.content_hash);
  reader.Read("num_features", &v.num_features);
  reader.Read("description", &v.description);
  reader.Read("metrics", &v.metrics);
  reader.Read("params", &v.params);
  reader.Read("feature_names", &v.feature_names);
  reader.Read("lineage", &v.lineage);
  if (!reader.status().ok()) return reader.status();
  return v;
}

}  // namespace freshet
