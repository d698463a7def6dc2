#include "triggers/prediction.h"

#include <fmt/format.h>

namespace freshet {
namespace {

using byte_codec::ByteReader;
using byte_codec::PutBytes;
using byte_codec::PutDouble;
using byte_codec::PutSigned;
using byte_codec::PutValue;
using byte_codec::PutVarint;

// Version bytes of the payloads and the stored prediction. Part of the format: never reuse.
constexpr uint8_t kPredictJobV1 = 1;
constexpr uint8_t kPredictionRecordV1 = 1;
constexpr uint8_t kStoredPredictionV1 = 1;

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

}  // namespace

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
  out.push_back(static_cast<char>(kPredictJobV1));
  PutEvent(job.event, &out);
  PutSigned(&out, job.ack_ms);
  PutVarint(&out, job.key.size());
  for (const Value& v : job.key) PutValue(&out, v);
  return out;
}

Status DecodePredictJob(std::string_view bytes, PredictJob* out) {
  ByteReader in(bytes);
  uint8_t version = 0;
  uint64_t n = 0;
  bool ok = in.GetByte(&version) && version == kPredictJobV1 && GetEvent(&in, &out->event) &&
            in.GetSigned(&out->ack_ms) && in.GetCount(&n);
  if (ok) {
    out->key.resize(n);
    for (Value& v : out->key) ok = ok && in.GetValue(&v);
  }
  if (!ok || !in.empty()) return Status::InvalidArgument("malformed predict job payload");
  return Status::Ok();
}

std::string EncodePredictionRecord(const PredictionRecord& record) {
  std::string out;
  out.push_back(static_cast<char>(kPredictionRecordV1));
  PutBytes(&out, record.id);
  PutBytes(&out, record.deployment);
  PutSigned(&out, record.ts_ms);
  PutBytes(&out, record.json);
  return out;
}

Status DecodePredictionRecord(std::string_view bytes, PredictionRecord* out) {
  ByteReader in(bytes);
  uint8_t version = 0;
  bool ok = in.GetByte(&version) && version == kPredictionRecordV1 && GetString(&in, &out->id) &&
            GetString(&in, &out->deployment) && in.GetSigned(&out->ts_ms) &&
            GetString(&in, &out->json) && in.empty();
  if (!ok) return Status::InvalidArgument("malformed delivery job payload");
  return Status::Ok();
}

void EncodeStoredPrediction(const StoredPrediction& p, std::string* out) {
  out->push_back(static_cast<char>(kStoredPredictionV1));
  PutBytes(out, p.job_id);
  PutBytes(out, p.model);
  PutSigned(out, p.version);
  PutDouble(out, p.score);
  PutEvent(p.event, out);
  PutSigned(out, p.ack_ms);
  PutSigned(out, p.enqueued_ms);
  PutSigned(out, p.predicted_ms);
}

bool DecodeStoredPrediction(ByteReader* in, StoredPrediction* out) {
  uint8_t version = 0;
  return in->GetByte(&version) && version == kStoredPredictionV1 && GetString(in, &out->job_id) &&
         GetString(in, &out->model) && in->GetSigned(&out->version) && in->GetDouble(&out->score) &&
         GetEvent(in, &out->event) && in->GetSigned(&out->ack_ms) &&
         in->GetSigned(&out->enqueued_ms) && in->GetSigned(&out->predicted_ms);
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
  w->Key("score");
  WriteJsonValue(w, Value::Double(p.score));
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
