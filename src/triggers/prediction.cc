#include "triggers/prediction.h"

#include <fmt/format.h>

#include <iterator>

namespace freshet {
namespace {

using byte_codec::ByteReader;
using byte_codec::PutBytes;
using byte_codec::PutDouble;
using byte_codec::PutSigned;
using byte_codec::PutValue;
using byte_codec::PutVarint;

// Version bytes of the payloads and the stored prediction. Part of the format: never reuse.
// Format 2 of a predict job and of a stored prediction is format 1 followed by the text (the
// text models'); format 1 stays what every other job and prediction is written as.
constexpr uint8_t kPredictJobV1 = 1;
constexpr uint8_t kPredictJobV2 = 2;
constexpr uint8_t kPredictionRecordV1 = 1;  // one record; written by earlier versions
constexpr uint8_t kPredictionRecordsV2 = 2;  // a count, then that many records
constexpr uint8_t kStoredPredictionV1 = 1;
constexpr uint8_t kStoredPredictionV2 = 2;

void PutEvent(const TriggerEvent& e, std::string* out) {
  PutBytes(out, e.source);
  PutSigned(out, e.partition);
  PutVarint(out, e.offset);
  PutSigned(out, e.event_ms);
}

bool GetEvent(ByteReader* in, TriggerEvent* e) {
  std::string_view source;
  int64_t partition = 0;
  if (!in->GetBytes(&source) || !in->GetSigned(&partition) || !in->GetVarint(&e->offset) ||
      !in->GetSigned(&e->event_ms)) {
    return false;
  }
  e->source = std::string(source);
  e->partition = static_cast<int32_t>(partition);
  return true;
}

bool GetString(ByteReader* in, std::string* out) {
  std::string_view s;
  if (!in->GetBytes(&s)) return false;
  *out = std::string(s);
  return true;
}

void WriteString(JsonWriter* w, std::string_view s) {
  w->String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void PutLabels(const std::vector<TextLabel>& labels, std::string* out) {
  PutVarint(out, labels.size());
  for (const TextLabel& l : labels) {
    PutBytes(out, l.label);
    PutDouble(out, l.probability);
  }
}

bool GetLabels(ByteReader* in, std::vector<TextLabel>* labels) {
  uint64_t n = 0;
  if (!in->GetCount(&n)) return false;
  labels->resize(n);
  for (TextLabel& l : *labels) {
    double probability = 0;
    if (!GetString(in, &l.label) || !in->GetDouble(&probability)) return false;
    l.probability = static_cast<float>(probability);
  }
  return true;
}

}  // namespace

const InputRef* TextFromEvent(const ProjectSpec& spec, const DeploymentSpec& deployment) {
  const FeatureServiceSpec& service = spec.feature_services.at(deployment.feature_service);
  if (!deployment.on || !service.text || !service.text->from_context()) return nullptr;
  return &*service.text;
}

std::string PredictQueueName(std::string_view deployment) {
  return fmt::format("predict/{}", deployment);
}

std::string DeliverQueueName(std::string_view deployment, size_t output) {
  return fmt::format("{}{}/{}", kDeliverQueuePrefix, deployment, output);
}

std::string PredictJobId(std::string_view deployment, const TriggerEvent& event) {
  return fmt::format("{}/{}/{}/{}", deployment, event.source, event.partition, event.offset);
}

std::string DeliverJobId(std::string_view predict_job_id, size_t output) {
  return fmt::format("{}#{}", predict_job_id, output);
}

std::string EncodePredictJob(const PredictJob& job) {
  std::string out;
  out.push_back(static_cast<char>(job.text ? kPredictJobV2 : kPredictJobV1));
  PutEvent(job.event, &out);
  PutSigned(&out, job.ack_ms);
  PutVarint(&out, job.key.size());
  for (const Value& v : job.key) PutValue(&out, v);
  if (job.text) PutBytes(&out, *job.text);
  return out;
}

Status DecodePredictJob(std::string_view bytes, PredictJob* out) {
  ByteReader in(bytes);
  uint8_t version = 0;
  uint64_t n = 0;
  bool ok = in.GetByte(&version) && (version == kPredictJobV1 || version == kPredictJobV2) &&
            GetEvent(&in, &out->event) && in.GetSigned(&out->ack_ms) && in.GetCount(&n);
  if (ok) {
    out->key.resize(n);
    for (Value& v : out->key) ok = ok && in.GetValue(&v);
  }
  out->text.reset();
  if (ok && version == kPredictJobV2) {
    std::string text;
    ok = GetString(&in, &text);
    out->text = std::move(text);
  }
  if (!ok || !in.empty()) return Status::InvalidArgument("malformed predict job payload");
  return Status::Ok();
}

std::string EncodePredictionRecords(const std::vector<PredictionRecord>& records) {
  std::string out;
  out.push_back(static_cast<char>(kPredictionRecordsV2));
  PutVarint(&out, records.size());
  for (const PredictionRecord& record : records) {
    PutBytes(&out, record.id);
    PutBytes(&out, record.deployment);
    PutSigned(&out, record.ts_ms);
    PutBytes(&out, record.json);
  }
  return out;
}

Status DecodePredictionRecords(std::string_view bytes, std::vector<PredictionRecord>* out) {
  ByteReader in(bytes);
  uint8_t version = 0;
  uint64_t count = 1;
  bool ok = in.GetByte(&version) &&
            (version == kPredictionRecordV1 ||
             (version == kPredictionRecordsV2 && in.GetVarint(&count) && count <= bytes.size()));
  std::vector<PredictionRecord> records(ok ? count : 0);
  for (size_t i = 0; ok && i < records.size(); ++i) {
    PredictionRecord& r = records[i];
    ok = GetString(&in, &r.id) && GetString(&in, &r.deployment) && in.GetSigned(&r.ts_ms) &&
         GetString(&in, &r.json);
  }
  if (!ok || !in.empty()) return Status::InvalidArgument("malformed delivery job payload");
  out->insert(out->end(), std::make_move_iterator(records.begin()),
              std::make_move_iterator(records.end()));
  return Status::Ok();
}

void EncodeStoredPrediction(const StoredPrediction& p, std::string* out) {
  out->push_back(static_cast<char>(p.labels ? kStoredPredictionV2 : kStoredPredictionV1));
  PutBytes(out, p.job_id);
  PutBytes(out, p.model);
  PutSigned(out, p.version);
  PutDouble(out, p.score);
  PutEvent(p.event, out);
  PutSigned(out, p.ack_ms);
  PutSigned(out, p.enqueued_ms);
  PutSigned(out, p.predicted_ms);
  if (p.labels) PutLabels(*p.labels, out);
}

bool DecodeStoredPrediction(ByteReader* in, StoredPrediction* out) {
  uint8_t version = 0;
  bool ok =
      in->GetByte(&version) && (version == kStoredPredictionV1 || version == kStoredPredictionV2) &&
      GetString(in, &out->job_id) && GetString(in, &out->model) && in->GetSigned(&out->version) &&
      in->GetDouble(&out->score) && GetEvent(in, &out->event) && in->GetSigned(&out->ack_ms) &&
      in->GetSigned(&out->enqueued_ms) && in->GetSigned(&out->predicted_ms);
  out->labels.reset();
  if (ok && version == kStoredPredictionV2) ok = GetLabels(in, &out->labels.emplace());
  return ok;
}

void WriteStoredPredictionJson(JsonWriter* w, std::string_view deployment,
                               const std::vector<std::string>& keys,
                               const std::vector<Value>& entity, const StoredPrediction& p) {
  w->StartObject();
  w->Key("job_id");
  WriteString(w, p.job_id);
  w->Key("deployment");
  WriteString(w, deployment);
  w->Key("entity");
  w->StartObject();
  for (size_t i = 0; i < keys.size() && i < entity.size(); ++i) {
    w->Key(keys[i].c_str());
    WriteJsonValue(w, entity[i]);
  }
  w->EndObject();
  w->Key("model");
  WriteString(w, p.model);
  w->Key("version");
  w->Int64(p.version);
  if (p.labels) {
    w->Key("labels");
    w->StartArray();
    for (const TextLabel& l : *p.labels) WriteString(w, l.label);
    w->EndArray();
    w->Key("probabilities");
    w->StartArray();
    for (const TextLabel& l : *p.labels) w->Double(l.probability);
    w->EndArray();
  } else {
    w->Key("score");
    WriteJsonValue(w, Value::Double(p.score));
  }
  w->Key("event");
  w->StartObject();
  w->Key("source");
  WriteString(w, p.event.source);
  w->Key("partition");
  w->Int(p.event.partition);
  w->Key("offset");
  w->Uint64(p.event.offset);
  w->Key("event_ms");
  w->Int64(p.event.event_ms);
  w->EndObject();
  w->Key("ack_ms");
  w->Int64(p.ack_ms);
  w->Key("enqueued_ms");
  w->Int64(p.enqueued_ms);
  w->Key("predicted_ms");
  w->Int64(p.predicted_ms);
  w->EndObject();
}

}  // namespace freshet
