// The data of triggered predictions and their binary encodings: what a predict job carries
// (queue "predict/<deployment>"), what a delivery job carries (queue
// "deliver/<deployment>/<output index>"), and a prediction as the PredictionStore keeps it and
// the API and the sinks show it. The encodings are part of the queue's and the prediction
// store's on-disk format (docs/formats.md): each starts with a version byte.
// Thread-safety: plain data and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/byte_codec.h"
#include "core/json.h"
#include "core/status.h"
#include "core/value.h"
#include "sinks/sink.h"

namespace freshet {

// The event that triggered a prediction: its source, where it sits there, its event time.
struct TriggerEvent {
  std::string source;
  int32_t partition = 0;
  uint64_t offset = 0;
  int64_t event_ms = 0;
};

// A predict job's payload: the entity to predict for and why.
struct PredictJob {
  std::vector<Value> key;  // the deployment's key fields (DeploymentKeyFields), in that order
  TriggerEvent event;
  int64_t ack_ms = 0;  // wall time the event was applied, just before its ingest was acknowledged
};

// One prediction as stored and shown.
struct StoredPrediction {
  std::string job_id;  // the predict job's id: the same prediction on every retry of the job
  std::string model;
  int64_t version = 0;
  double score = 0;
  TriggerEvent event;
  int64_t ack_ms = 0;        // the triggering event's ingest acknowledgement
  int64_t enqueued_ms = 0;   // its predict job's enqueue time
  int64_t predicted_ms = 0;  // when the model ran
};

// Queue names and job ids.
std::string PredictQueueName(std::string_view deployment);
std::string DeliverQueueName(std::string_view deployment, size_t output);
// Every delivery queue's name starts with this.
inline constexpr std::string_view kDeliverQueuePrefix = "deliver/";
// Delivery attempts before the dead letter (QueueOptions::max_attempts_by_prefix): with the
// queue's backoff capped at 30 s, a destination may be down for about 8 minutes and still get
// everything once it is back. Model calls keep the queue's default.
inline constexpr int kDeliveryMaxAttempts = 25;
// "<deployment>/<source>/<partition>/<offset>": one per triggering event.
std::string PredictJobId(std::string_view deployment, const TriggerEvent& event);
// "<predict job id>#<output index>".
std::string DeliverJobId(std::string_view predict_job_id, size_t output);

std::string EncodePredictJob(const PredictJob& job);
// kInvalidArgument for a payload this version did not write.
Status DecodePredictJob(std::string_view bytes, PredictJob* out);

std::string EncodePredictionRecord(const PredictionRecord& record);
Status DecodePredictionRecord(std::string_view bytes, PredictionRecord* out);

void EncodeStoredPrediction(const StoredPrediction& p, std::string* out);
// Reads one prediction written by EncodeStoredPrediction from `in`; false when malformed.
bool DecodeStoredPrediction(byte_codec::ByteReader* in, StoredPrediction* out);

// Writes `p` as a JSON object: {"job_id", "deployment", "entity": {key: value...}, "model",
// "version", "score", "event": {"source", "partition", "offset", "event_ms"}, "ack_ms",
// "enqueued_ms", "predicted_ms"}. `keys` names the values of `entity`.
void WriteStoredPredictionJson(JsonWriter* w, std::string_view deployment,
                               const std::vector<std::string>& keys,
                               const std::vector<Value>& entity, const StoredPrediction& p);

}  // namespace freshet
