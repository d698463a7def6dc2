#include "sinks/kafka_sink.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include <chrono>

namespace freshet {

struct KafkaSinkCallbacks {
  static void Delivered(rd_kafka_t*, const rd_kafka_message_t* report, void* opaque) {
    static_cast<KafkaSink*>(opaque)->Delivered(*report);
  }
};

Result<std::unique_ptr<KafkaSink>> KafkaSink::Create(KafkaSinkOptions options) {
  if (options.topic.empty() || options.brokers.empty()) {
    return Status::InvalidArgument("output kind kafka needs `topic` and `brokers`");
  }
  std::unique_ptr<KafkaSink> sink(new KafkaSink(std::move(options)));
  RETURN_IF_ERROR(sink->Connect());
  return sink;
}

Status KafkaSink::Connect() {
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
  rk_ = nullptr;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::map<std::string, std::string> properties = {
      {"bootstrap.servers", options_.brokers},
      {"client.id", "freshet"},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"message.timeout.ms", std::to_string(options_.timeout_ms)},
      {"linger.ms", "0"},  // a batch is flushed at once anyway
      // A broker back up is seen within a second, not librdkafka's 10 s backoff.
      {"reconnect.backoff.max.ms", "1000"},
  };
  for (const auto& [key, value] : options_.properties) properties[key] = value;
  char error[512];
  for (const auto& [key, value] : properties) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument(fmt::format("output kafka topic '{}': property {}={}: {}",
                                                 options_.topic, key, value, error));
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, &KafkaSinkCallbacks::Delivered);
  rd_kafka_conf_set_opaque(conf, this);
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(
        fmt::format("output kafka topic '{}': producer: {}", options_.topic, error));
  }
  return Status::Ok();
}

KafkaSink::~KafkaSink() {
  if (rk_ == nullptr) return;
  rd_kafka_flush(rk_, static_cast<int>(options_.timeout_ms));
  rd_kafka_destroy(rk_);
}

void KafkaSink::Delivered(const rd_kafka_message_t& report) {
  if (report.err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  if (failed_++ == 0) first_error_ = rd_kafka_err2str(report.err);
}

Status KafkaSink::Deliver(const std::vector<PredictionRecord>& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  if (rk_ == nullptr) RETURN_IF_ERROR(Connect());
  failed_ = 0;
  first_error_.clear();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  std::string value;
  for (const PredictionRecord& record : batch) {
    value.clear();
    AppendPredictionJson(record, &value);
    while (true) {
      rd_kafka_resp_err_t err =
          rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(options_.topic.c_str()),
                            RD_KAFKA_V_KEY(record.id.data(), record.id.size()),
                            RD_KAFKA_V_VALUE(value.data(), value.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || std::chrono::steady_clock::now() > deadline) {
        if (failed_++ == 0) first_error_ = rd_kafka_err2str(err);
        break;
      }
      rd_kafka_poll(rk_, 10);  // the queue drains as reports come back
    }
    if (failed_ > 0) break;  // the rest would be delivered again anyway
  }
  // message.timeout.ms bounds every queued message, so its report comes within the timeout;
  // the margin covers the reports' own round trip.
  rd_kafka_flush(rk_, static_cast<int>(options_.timeout_ms) + 1000);
  if (rd_kafka_outq_len(rk_) > 0) {
    // No report yet: drop what is left so no report of this batch reaches the next one.
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk_, 1000);
    if (failed_++ == 0) first_error_ = "no delivery report within the timeout";
  }
  char fatal[512];
  if (rd_kafka_fatal_error(rk_, fatal, sizeof(fatal)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(rk_);  // unusable now; the next Deliver connects again
    rk_ = nullptr;
    return Status::Unavailable(
        fmt::format("kafka topic '{}': producer failed: {}", options_.topic, fatal));
  }
  if (failed_ > 0) {
    return Status::Unavailable(fmt::format("kafka topic '{}': batch of {} not delivered: {}",
                                           options_.topic, batch.size(), first_error_));
  }
  return Status::Ok();
}

}  // namespace freshet
