#include "api/api_json.h"

#include <cmath>

#include "core/time_util.h"
#include "instance/instance.h"
#include "instance/quarantine_store.h"

namespace freshet {
namespace {

void String(JsonWriter* w, const std::string& s) {
  w->String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void Key(JsonWriter* w, const std::string& s) {
  w->Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void StringMap(JsonWriter* w, const std::map<std::string, std::string>& map) {
  w->StartObject();
  for (const auto& [key, value] : map) {
    Key(w, key);
    String(w, value);
  }
  w->EndObject();
}

// Metrics may be NaN (an undefined AUC); plain JSON has no NaN, so those are null.
void Metrics(JsonWriter* w, const std::map<std::string, double>& metrics) {
  w->StartObject();
  for (const auto& [key, value] : metrics) {
    Key(w, key);
    if (std::isfinite(value)) {
      w->Double(value);
    } else {
      w->Null();
    }
  }
  w->EndObject();
}

void Created(JsonWriter* w, int64_t created_ms) {
  w->Key("created");
  String(w, FormatRfc3339Ms(created_ms));
  w->Key("created_ms");
  w->Int64(created_ms);
}

void WriteLineage(JsonWriter* w, const ModelLineage& l) {
  w->StartObject();
  for (const auto& [key, value] :
       {std::pair<const char*, const std::string*>{"training_data", &l.training_data},
        {"training_data_sha256", &l.training_data_sha256},
        {"holdout", &l.holdout},
        {"holdout_sha256", &l.holdout_sha256},
        {"feature_service", &l.feature_service},
        {"feature_spec_hash", &l.feature_spec_hash},
        {"runtime_library", &l.runtime_library},
        {"created_by", &l.created_by}}) {
    w->Key(key);
    String(w, *value);
  }
  w->EndObject();
}

std::string Finish(const rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

void WriteModelVersionJson(JsonWriter* w, const ModelVersion& v,
                           const std::map<std::string, int64_t>& model_aliases) {
  w->StartObject();
  w->Key("name");
  String(w, v.name);
  w->Key("version");
  w->Int64(v.version);
  w->Key("runtime");
  String(w, v.runtime);
  w->Key("aliases");
  w->StartArray();
  for (const auto& [alias, version] : model_aliases) {
    if (version == v.version) String(w, alias);
  }
  w->EndArray();
  Created(w, v.created_ms);
  w->Key("content_hash");
  String(w, v.content_hash);
  w->Key("num_features");
  w->Int64(v.num_features);
  w->Key("description");
  String(w, v.description);
  w->Key("metrics");
  Metrics(w, v.metrics);
  w->Key("params");
  StringMap(w, v.params);
  w->Key("signature");
  w->StartArray();
  for (const FeatureSignature& f : v.signature) {
    w->StartObject();
    w->Key("name");
    String(w, f.name);
    w->Key("type");
    String(w, f.type);
    w->EndObject();
  }
  w->EndArray();
  w->Key("lineage");
  WriteLineage(w, v.lineage);
  w->Key("tags");
  StringMap(w, v.tags);
  w->EndObject();
}

std::string ModelVersionToJson(const ModelVersion& version,
                               const std::map<std::string, int64_t>& model_aliases) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  WriteModelVersionJson(&w, version, model_aliases);
  return Finish(buffer);
}

void WriteAliasChangeJson(JsonWriter* w, const AliasChange& c) {
  w->StartObject();
  w->Key("alias");
  String(w, c.alias);
  w->Key("version");
  w->Int64(c.version);
  w->Key("previous");
  w->Int64(c.previous);
  w->Key("at");
  String(w, FormatRfc3339Ms(c.at_ms));
  w->Key("at_ms");
  w->Int64(c.at_ms);
  w->Key("by");
  String(w, c.by);
  w->Key("rollback");
  w->Bool(c.rollback);
  w->EndObject();
}

std::string AliasChangeToJson(const AliasChange& change) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  WriteAliasChangeJson(&w, change);
  return Finish(buffer);
}

void WriteModelInfoJson(JsonWriter* w, const ModelInfo& m) {
  w->StartObject();
  w->Key("name");
  String(w, m.name);
  Created(w, m.created_ms);
  w->Key("latest_version");
  w->Int64(m.latest.version);
  w->Key("versions");
  w->StartArray();
  for (int64_t version : m.versions) w->Int64(version);
  w->EndArray();
  w->Key("aliases");
  w->StartObject();
  for (const auto& [alias, version] : m.aliases) {
    Key(w, alias);
    w->Int64(version);
  }
  w->EndObject();
  w->Key("tags");
  StringMap(w, m.tags);
  w->Key("alias_history");
  w->StartArray();
  for (const AliasChange& change : m.alias_history) WriteAliasChangeJson(w, change);
  w->EndArray();
  w->Key("latest");
  WriteModelVersionJson(w, m.latest, m.aliases);
  w->EndObject();
}

std::string ModelInfoToJson(const ModelInfo& model) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  WriteModelInfoJson(&w, model);
  return Finish(buffer);
}

std::string PromoteResultToJson(const std::string& model, const PromoteResult& result) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("name");
  String(&w, model);
  w.Key("alias");
  w.String("champion");
  w.Key("version");
  w.Int64(result.version);
  w.Key("previous");
  w.Int64(result.previous);
  w.Key("reason");
  String(&w, result.reason);
  w.EndObject();
  return Finish(buffer);
}

std::string ModelListToJson(const std::vector<ModelInfo>& models) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("models");
  w.StartArray();
  for (const ModelInfo& m : models) WriteModelInfoJson(&w, m);
  w.EndArray();
  w.EndObject();
  return Finish(buffer);
}

std::string DeletedVersionToJson(const std::string& model, int64_t version) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("name");
  String(&w, model);
  w.Key("version");
  w.Int64(version);
  w.Key("deleted");
  w.Bool(true);
  w.EndObject();
  return Finish(buffer);
}

void WriteAppendAckMembers(JsonWriter* w, const AppendAck& ack, const IngestQuality* quality) {
  w->Key("accepted");
  w->Uint64(ack.count);
  w->Key("first_offset");
  w->Uint64(ack.first_offset);
  w->Key("duplicate");
  w->Bool(ack.duplicate);
  if (quality != nullptr && quality->checked) {
    w->Key("quarantined");
    w->Uint64(quality->quarantined);
    w->Key("warnings");
    w->Uint64(quality->warned);
  }
}

std::string AppendAckToJson(const AppendAck& ack, const IngestQuality* quality) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteAppendAckMembers(&w, ack, quality);
  w.EndObject();
  return Finish(buffer);
}

namespace {

// `record` as {field: value} under the source's field names.
void WriteRecordJson(JsonWriter* w, const SourceSpec& source, const Record& record) {
  w->StartObject();
  for (size_t i = 0; i < source.fields.size() && i < record.values.size(); ++i) {
    String(w, source.fields[i].name);
    WriteJsonValue(w, record.values[i]);
  }
  w->EndObject();
}

}  // namespace

void WriteLateEventJson(JsonWriter* w, const SourceSpec& source, const LateEvent& e) {
  w->StartObject();
  w->Key("offset");
  w->Uint64(e.offset);
  w->Key("ts_ms");
  w->Int64(e.record.ts_ms);
  w->Key("watermark_ms");
  w->Int64(e.watermark_ms);
  w->Key("record");
  WriteRecordJson(w, source, e.record);
  w->EndObject();
}

void WriteQuarantinedJson(JsonWriter* w, const SourceSpec& source, const QuarantinedRecord& q) {
  w->StartObject();
  w->Key("id");
  w->Uint64(q.id);
  if (q.partition) {  // a partitioned source (kafka): where the record sits
    w->Key("partition");
    w->Int(*q.partition);
    w->Key("offset");
    w->Uint64(q.id);
  }
  w->Key("quarantined_ms");
  w->Int64(q.quarantined_ms);
  w->Key("violations");
  w->StartArray();
  for (const std::string& v : q.violations) String(w, v);
  w->EndArray();
  if (q.payload) {  // not parsed: its bytes as read
    w->Key("payload");
    String(w, *q.payload);
  } else {
    w->Key("record");
    WriteRecordJson(w, source, q.record);
  }
  w->EndObject();
}

std::string ParseErrorDetailsToJson(const ParseError& error) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  if (error.line > 0) {
    w.Key("line");
    w.Uint64(error.line);
  }
  if (error.record > 0) {
    w.Key("record");
    w.Uint64(error.record);
  }
  if (!error.field.empty()) {
    w.Key("field");
    w.String(error.field.data(), static_cast<rapidjson::SizeType>(error.field.size()));
  }
  if (!error.expectation.empty()) {
    w.Key("expectation");
    w.String(error.expectation.data(), static_cast<rapidjson::SizeType>(error.expectation.size()));
  }
  w.EndObject();
  return buf.GetString();
}

}  // namespace freshet
