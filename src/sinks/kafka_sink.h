// KafkaSink: the `kafka` output kind. Produces each prediction to `topic` on `brokers`
// (librdkafka) with the record's id as the message key and AppendPredictionJson's object as
// its value, through an idempotent producer (enable.idempotence, acks=all: no duplicates from
// the producer's own retries, each message on every in-sync replica). Deliver returns OK only
// once every message of the batch has a successful delivery report; a message not delivered
// within `timeout_ms` (broker down, no leader) fails the batch with kUnavailable, and the
// caller delivers it again (at-least-once: consumers dedupe by key). Messages of one batch
// keep their order within a partition (the key picks the partition).
//
// Thread-safety: Deliver is thread-safe (serialized). Ownership: the sink owns its producer;
// destroying it waits up to timeout_ms for messages still queued (none after a Deliver).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "sinks/sink.h"

struct rd_kafka_s;
struct rd_kafka_message_s;

namespace freshet {

struct KafkaSinkOptions {
  std::string topic;    // required
  std::string brokers;  // required: bootstrap servers, "host:port,..."
  // How long one Deliver waits for its delivery reports (librdkafka's message.timeout.ms).
  // Default: 5 s.
  int64_t timeout_ms = 5000;
  // librdkafka properties set after freshet's own. Default: none.
  std::map<std::string, std::string> properties;
};

class KafkaSink final : public Sink {
 public:
  static constexpr std::string_view kKind = "kafka";

  // Creates the producer (it connects in the background). kInvalidArgument for a missing topic
  // or brokers, or a property librdkafka refuses.
  static Result<std::unique_ptr<KafkaSink>> Create(KafkaSinkOptions options);
  ~KafkaSink() override;
  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;

  std::string_view kind() const override { return kKind; }
  Status Deliver(const std::vector<PredictionRecord>& batch) override;

 private:
  friend struct KafkaSinkCallbacks;  // librdkafka's delivery report callback

  explicit KafkaSink(KafkaSinkOptions options) : options_(std::move(options)) {}
  // A new producer (after a fatal error, the old one is unusable).
  Status Connect();
  // The delivery report of one message. Called inside rd_kafka_poll/flush, under mu_.
  void Delivered(const rd_kafka_message_s& report);

  const KafkaSinkOptions options_;
  std::mutex mu_;  // serializes Deliver
  rd_kafka_s* rk_ = nullptr;
  // The reports of the batch being delivered; guarded by mu_.
  size_t failed_ = 0;
  std::string first_error_;
};

}  // namespace freshet
