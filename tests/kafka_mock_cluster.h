// MockKafkaCluster: librdkafka's mock cluster (rdkafka_mock.h) for tests — real Kafka brokers'
// protocol over loopback TCP, in this process — with the client calls the tests need: create
// topics, produce, read a topic back, a group's committed offsets, brokers down and up.
// Everything waits with a timeout, so a test fails rather than hangs.
// Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace freshet::testing {

class MockKafkaCluster {
 public:
  explicit MockKafkaCluster(int brokers = 1);
  ~MockKafkaCluster();
  MockKafkaCluster(const MockKafkaCluster&) = delete;
  MockKafkaCluster& operator=(const MockKafkaCluster&) = delete;

  // "127.0.0.1:port,...": what clients put in bootstrap.servers.
  const std::string& bootstraps() const { return bootstraps_; }

  // Creates `topic` with `partitions` partitions. False when the cluster refuses.
  bool CreateTopic(const std::string& topic, int partitions);
  // Produces `value` (keyed by `key` unless empty) to `partition` and waits for its delivery
  // report (10 s at most). False when it was not delivered.
  bool Produce(const std::string& topic, int32_t partition, const std::string& value,
               const std::string& key = "");
  // Produces every (partition, value) of `messages` to `topic`, in order, and waits for all
  // their delivery reports (10 s at most). False unless every one was delivered.
  bool ProduceAll(const std::string& topic,
                  const std::vector<std::pair<int32_t, std::string>>& messages);
  // Reads `topic` (every partition, from its start) until `count` messages came or
  // `timeout_ms` passed: (key, value) pairs, per partition in offset order.
  std::vector<std::pair<std::string, std::string>> ReadAll(const std::string& topic, size_t count,
                                                           int timeout_ms = 10000);
  // The offsets `group` committed for `topic`'s partitions 0..partitions-1 (absent: none).
  std::map<int32_t, int64_t> Committed(const std::string& group, const std::string& topic,
                                       int partitions);
  // Takes every broker down (connections refused) or back up.
  void SetBrokersDown(bool down);

 private:
  rd_kafka_s* owner_ = nullptr;     // the handle the cluster runs on
  rd_kafka_s* producer_ = nullptr;  // Produce's client
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
  int brokers_;
  std::string bootstraps_;
};

}  // namespace freshet::testing
