// Sink: where a deployment's predictions are pushed (the spec's `outputs:`), created by kind
// from the spec (CreateSink):
//   file     FileSink (file_sink.h): appends NDJSON to a file, fsync'd per batch.
//   webhook  WebhookSink (webhook_sink.h): POSTs each batch as JSON, with a timeout (libcurl).
//   kafka    KafkaSink (kafka_sink.h): produces each record to a topic (idempotent, acks=all).
// Adding a kind is its class plus one line in sink.cc.
//
// Contract (at-least-once): Deliver(batch) returns OK only once every record of the batch is
// accepted by the destination (on disk, or answered 2xx). On an error any part of the batch
// may have been delivered, and the caller (a durable prediction queue) delivers the whole batch
// again later; so a record can arrive more than once, always with the same `id`, and a
// receiver that must see each prediction once drops ids it has seen. Records are delivered in
// batch order.
// Errors: kUnavailable for what a retry may fix (timeouts, connection refused, HTTP 5xx or
// 429, a full disk), kInvalidArgument for a destination that refuses the batch as it is (HTTP
// 4xx), kIoError for a file that cannot be written.
// Thread-safety: Deliver is thread-safe; calls to one sink are serialized. Ownership: a sink
// owns its file or connection, released when it is destroyed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "spec/project_spec.h"

namespace freshet {

// One prediction to push.
struct PredictionRecord {
  // Idempotency id: unique per prediction, and the same on every redelivery of it.
  std::string id;
  std::string deployment;
  int64_t ts_ms = 0;  // when the prediction was made (epoch ms)
  // The prediction as one JSON object (model, version, entity, outputs...), written verbatim.
  // REQUIRES: valid JSON.
  std::string json;
};

class Sink {
 public:
  virtual ~Sink() = default;
  // The spec's kind name, e.g. "webhook".
  virtual std::string_view kind() const = 0;
  virtual Status Deliver(const std::vector<PredictionRecord>& batch) = 0;
};

// Creates the sink one output of the spec describes. A kind this build lacks:
// kInvalidArgument "output kind 'x' is not built in this version (built: file, kafka,
// webhook)"; a file that cannot be opened: kIoError.
Result<std::unique_ptr<Sink>> CreateSink(const OutputSpec& output);

// The kinds CreateSink builds, sorted ("file", "kafka", "webhook").
std::vector<std::string> KnownSinkKinds();

// One record as the sinks write it: {"id":..,"deployment":..,"ts_ms":..,"prediction":<json>}.
void AppendPredictionJson(const PredictionRecord& record, std::string* out);

}  // namespace freshet
