#include "kafka_mock_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <stdexcept>

namespace freshet::testing {
namespace {

rd_kafka_t* NewClient(rd_kafka_type_t type, const std::map<std::string, std::string>& props) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  for (const auto& [key, value] : props) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      throw std::runtime_error(key + ": " + error);
    }
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, error, sizeof(error));
  if (rk == nullptr) throw std::runtime_error(error);
  return rk;
}

// Delivery reports land here through the message's opaque: 1 delivered, -1 failed.
void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  *static_cast<int*>(m->_private) = m->err ? -1 : 1;
}

}  // namespace

MockKafkaCluster::MockKafkaCluster(int brokers) : brokers_(brokers) {
  owner_ = NewClient(RD_KAFKA_PRODUCER, {{"log_level", "3"}});  // it needs no brokers: quiet
  cluster_ = rd_kafka_mock_cluster_new(owner_, brokers);
  if (cluster_ == nullptr) throw std::runtime_error("rd_kafka_mock_cluster_new failed");
  bootstraps_ = rd_kafka_mock_cluster_bootstraps(cluster_);
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps_.c_str(), error, sizeof(error));
  rd_kafka_conf_set_dr_msg_cb(conf, &OnDelivery);
  producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (producer_ == nullptr) throw std::runtime_error(error);
}

MockKafkaCluster::~MockKafkaCluster() {
  rd_kafka_destroy(producer_);
  rd_kafka_mock_cluster_destroy(cluster_);
  rd_kafka_destroy(owner_);
}

bool MockKafkaCluster::CreateTopic(const std::string& topic, int partitions) {
  return rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1) ==
         RD_KAFKA_RESP_ERR_NO_ERROR;
}

bool MockKafkaCluster::Produce(const std::string& topic, int32_t partition,
                               const std::string& value, const std::string& key) {
  int delivered = 0;
  rd_kafka_resp_err_t err = rd_kafka_producev(
      producer_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
      RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&delivered), RD_KAFKA_V_END);
  if (err) return false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (delivered == 0 && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_poll(producer_, 10);
  }
  return delivered == 1;
}

bool MockKafkaCluster::ProduceAll(const std::string& topic,
                                  const std::vector<std::pair<int32_t, std::string>>& messages) {
  std::vector<int> delivered(messages.size(), 0);
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& value = messages[i].second;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(messages[i].first),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&delivered[i]), RD_KAFKA_V_END);
    if (err) return false;
  }
  rd_kafka_flush(producer_, 10'000);  // serves the delivery reports
  for (int d : delivered) {
    if (d != 1) return false;
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> MockKafkaCluster::ReadAll(const std::string& topic,
                                                                           size_t count,
                                                                           int timeout_ms) {
  rd_kafka_t* consumer = NewClient(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstraps_},
                                                       {"group.id", "mock-reader"},
                                                       {"enable.auto.commit", "false"},
                                                       {"auto.offset.reset", "earliest"}});
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(consumer, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  std::map<int32_t, std::vector<std::pair<std::string, std::string>>> by_partition;
  size_t got = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (got < count && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      by_partition[m->partition].emplace_back(
          std::string(static_cast<const char*>(m->key), m->key_len),
          std::string(static_cast<const char*>(m->payload), m->len));
      ++got;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& [partition, messages] : by_partition) {
    for (auto& m : messages) out.push_back(std::move(m));
  }
  return out;
}

std::map<int32_t, int64_t> MockKafkaCluster::Committed(const std::string& group,
                                                       const std::string& topic, int partitions) {
  rd_kafka_t* consumer =
      NewClient(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstraps_}, {"group.id", group}});
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int32_t p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  }
  std::map<int32_t, int64_t> out;
  if (rd_kafka_committed(consumer, list, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < list->cnt; ++i) {
      if (list->elems[i].offset >= 0) out[list->elems[i].partition] = list->elems[i].offset;
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(consumer);
  return out;
}

void MockKafkaCluster::SetBrokersDown(bool down) {
  for (int32_t id = 1; id <= brokers_; ++id) {
    if (down) {
      rd_kafka_mock_broker_set_down(cluster_, id);
    } else {
      rd_kafka_mock_broker_set_up(cluster_, id);
    }
  }
}

}  // namespace freshet::testing
