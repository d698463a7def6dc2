// The data of triggered predictions and their binary encodings: what a predict job carries
// (queue "predict/<deployment>"), what a delivery job carries (queue
// "deliver/<deployment>/<output index>"), and a prediction as the PredictionStore keeps it and
// the API and the sinks show it. The encodings are part of the queue's and the prediction
// store's on-disk format (docs/formats.md): each starts with a version byte.
// Thread-safety: plain data and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/byte_codec.h"
#include "core/json.h"
#include "core/status.h"
#include "core/value.h"
#include "models/model_runtime.h"
#include "sinks/sink.h"
#include "spec/project_spec.h"

namespace freshet {

// The event that triggered a prediction: its source, where it sits there, its event time.
struct TriggerEvent {
  std::string source;
  int32_t partition = 0;
  uint64_t offset = 0;
  int64_t event_ms = 0;
};

// A predict job's payload: the entity to predict for and why.
//
// A deployment whose service reads its text from the event (`text: context.NAME`, a fastText
// classifier scoring each ad text as it arrives) carries the event's text in the job. The job is
// durable before the event's ingest is acknowledged (or, for a pulled source, before the
// checkpoint passes it), so the text survives a crash with the job; and a replay re-reads the
// event from its source and makes the same job again (same id, same text), which the queue
// dedupes. Reading the event back by (source, partition, offset) when the job runs would instead
// depend on the source still holding it: a Kafka topic's retention may have dropped it while
// the job waited, and only `http` sources are kept in the local event log. The text is bounded
// by the source's record size (and any `max_length` expectation).
struct PredictJob {
  std::vector<Value> key;  // the deployment's key fields (DeploymentKeyFields), in that order
  TriggerEvent event;
  int64_t ack_ms = 0;  // wall time the event was applied, just before its ingest was acknowledged
  std::optional<std::string> text{};  // the event's text, for a service with `text: context.NAME`
};

// One prediction as stored and shown.
struct StoredPrediction {
  std::string job_id;  // the predict job's id: the same prediction on every retry of the job
  std::string model;
  int64_t version = 0;
  double score = 0;  // feature-row models; text models: the top label's probability
  // Text models: the labels fastText gave the text, most probable first (with k = 1: one label,
  // none for a text without words). Empty optional: a feature-row model's prediction.
  std::optional<std::vector<TextLabel>> labels{};
  TriggerEvent event;
  int64_t ack_ms = 0;        // the triggering event's ingest acknowledgement
  int64_t enqueued_ms = 0;   // its predict job's enqueue time
  int64_t predicted_ms = 0;  // when the model ran
};

// The text input a triggered `deployment` reads from its triggering event: its service's `text:`
// when that is a context field (`context.NAME`: the event's field NAME), else nullptr (a feature
// service read as for a request). Points into `spec`.
const InputRef* TextFromEvent(const ProjectSpec& spec, const DeploymentSpec& deployment);

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
// "<predict job id>#<output index>": the delivery job of a predict batch, named after its
// first job (a job is completed in one batch only, so the id is unique).
std::string DeliverJobId(std::string_view predict_job_id, size_t output);

std::string EncodePredictJob(const PredictJob& job);
// kInvalidArgument for a payload this version did not write.
Status DecodePredictJob(std::string_view bytes, PredictJob* out);

// A delivery job's payload: the records of one predict batch (format 2). Decode appends them to
// `out`, and reads format 1 (one record) too; kInvalidArgument for a payload this version did
// not write (nothing appended).
std::string EncodePredictionRecords(const std::vector<PredictionRecord>& records);
Status DecodePredictionRecords(std::string_view bytes, std::vector<PredictionRecord>* out);

void EncodeStoredPrediction(const StoredPrediction& p, std::string* out);
// Reads one prediction written by EncodeStoredPrediction from `in`; false when malformed.
bool DecodeStoredPrediction(byte_codec::ByteReader* in, StoredPrediction* out);

// Writes `p` as a JSON object: {"job_id", "deployment", "entity": {key: value...}, "model",
// "version", "score", "event": {"source", "partition", "offset", "event_ms"}, "ack_ms",
// "enqueued_ms", "predicted_ms"}; a text model's prediction has "labels" and "probabilities"
// (as /v1/predict answers them) instead of "score". `keys` names the values of `entity`.
void WriteStoredPredictionJson(JsonWriter* w, std::string_view deployment,
                               const std::vector<std::string>& keys,
                               const std::vector<Value>& entity, const StoredPrediction& p);

}  // namespace freshet
