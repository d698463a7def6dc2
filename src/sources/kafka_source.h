// KafkaSource: the `kafka` source kind. A consumer in the spec's consumer group (`group`,
// default "freshet") subscribed to `topic` on `brokers` (librdkafka). Each message is one
// record: its value a JSON object, validated like a POSTed record (RecordParser with the
// source's schema). Partitions are the topic partitions this process is assigned; offsets are
// Kafka's.
//
// Positions: the engine's checkpoint, not the group's committed offsets, says where reading
// starts. Seek(position) records where each partition continues; when the group assigns a
// partition, the consumer starts it there (a partition the position lacks starts at its first
// record), and Read continues from what it handed out. Commit(position) commits the offsets
// to the group (asynchronously; offset = the next record to read, as Kafka tools expect), for
// the partitions currently assigned, so lag tools and a rebalance's next owner see them; a
// commit the group refuses is logged, and the next checkpoint's commit carries it again.
//
// Bad records: a message whose value is not a valid record of the source (bad JSON, a wrong
// type, a missing key) comes back alone in a batch with no records and `rejected` set; the
// stream continues after it. Gaps (compaction, transaction markers) end a batch.
//
// One process per group is the deployment this fits (the engine's state is local): with
// several, each applies the partitions it is assigned.
//
// Thread-safety: as Source — one consumer thread calls Seek and Read (and receives the
// group's rebalances inside Read); Partitions, Commit, committed() and EndPosition may be
// called from other threads. Errors: kInvalidArgument for a bad configuration (no brokers, a
// property librdkafka refuses), kUnavailable for a fatal consumer error.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "format/record_parser.h"
#include "sources/source.h"

struct rd_kafka_s;
struct rd_kafka_message_s;
struct rd_kafka_topic_partition_list_s;

namespace freshet {

struct KafkaSourceOptions {
  // How long Read waits for a message when none is buffered. Default: 100 ms.
  int poll_timeout_ms = 100;
  // librdkafka properties set after freshet's own (e.g. "session.timeout.ms"). Default: none.
  std::map<std::string, std::string> properties;
};

class KafkaSource final : public Source {
 public:
  static constexpr std::string_view kKind = "kafka";
  // The consumer group when the spec names none.
  static constexpr std::string_view kDefaultGroup = "freshet";

  // Creates the consumer and subscribes it to the topic (joining the group happens in Read).
  // REQUIRES: spec.sources holds `name`, of kind kafka; `spec` outlives the source.
  static Result<std::unique_ptr<KafkaSource>> Create(const ProjectSpec& spec,
                                                     const std::string& name,
                                                     KafkaSourceOptions options = {});
  ~KafkaSource() override;  // leaves the group and closes the consumer

  std::string_view kind() const override { return kKind; }
  const std::string& name() const override { return name_; }
  bool live() const override { return true; }
  Result<std::vector<int32_t>> Partitions() override;
  Status Seek(const SourcePosition& position) override;
  Result<bool> Read(size_t max, SourceBatch* batch) override;
  // Per assigned partition, the high watermark librdkafka last fetched (no broker round trip).
  Result<SourcePosition> EndPosition() override;
  Status Commit(const SourcePosition& position) override;
  SourcePosition committed() const override { return committed_.Get(); }

 private:
  struct MessageDeleter {
    void operator()(rd_kafka_message_s* m) const;
  };
  using Message = std::unique_ptr<rd_kafka_message_s, MessageDeleter>;

  friend struct KafkaSourceCallbacks;  // librdkafka's rebalance callback

  KafkaSource(const ProjectSpec& spec, std::string name, KafkaSourceOptions options);
  // The group assigned `partitions` (assign) or took them back: starts each assigned partition
  // where next_ says (its first record when absent). Consumer thread (inside Read).
  void Rebalance(bool assign, rd_kafka_topic_partition_list_s* partitions);
  // Assigns `partitions` at the offsets next_ gives them.
  void AssignAt(rd_kafka_topic_partition_list_s* partitions);
  // Parses one message's value into *record; false with *error when it is no valid record.
  bool ParseValue(const rd_kafka_message_s& m, Record* record, std::string* error);

  const SourceSpec& source_;
  const std::string name_;
  const KafkaSourceOptions options_;
  RecordParser parser_;
  std::vector<Record> parsed_;  // the parser's scratch
  rd_kafka_s* rk_ = nullptr;
  Message pending_;  // polled but not yet handed out (it started a new batch)
  // Where each partition continues: set by Seek, advanced by Read. Consumer thread only.
  SourcePosition next_;
  mutable std::mutex mu_;
  std::vector<int32_t> assigned_;  // guarded by mu_
  CommittedPosition committed_;
};

}  // namespace freshet
