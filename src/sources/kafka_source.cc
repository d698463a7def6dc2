#include "sources/kafka_source.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace freshet {

struct KafkaSourceCallbacks {
  static void Rebalance(rd_kafka_t*, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    static_cast<KafkaSource*>(opaque)->Rebalance(err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS,
                                                 partitions);
  }
};

namespace {

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

Status SetProperty(rd_kafka_conf_t* conf, const std::string& source, const std::string& key,
                   const std::string& value) {
  char error[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof(error)) !=
      RD_KAFKA_CONF_OK) {
    return Status::InvalidArgument(
        fmt::format("source '{}': kafka property {}={}: {}", source, key, value, error));
  }
  return Status::Ok();
}

}  // namespace

void KafkaSource::MessageDeleter::operator()(rd_kafka_message_s* m) const {
  rd_kafka_message_destroy(m);
}

KafkaSource::KafkaSource(const ProjectSpec& spec, std::string name, KafkaSourceOptions options)
    : source_(spec.sources.at(name)),
      name_(std::move(name)),
      options_(std::move(options)),
      parser_(source_, RequiredFields(spec, name_)) {}

Result<std::unique_ptr<KafkaSource>> KafkaSource::Create(const ProjectSpec& spec,
                                                         const std::string& name,
                                                         KafkaSourceOptions options) {
  std::unique_ptr<KafkaSource> source(new KafkaSource(spec, name, std::move(options)));
  const SourceSpec& s = source->source_;
  if (s.brokers.empty()) {
    return Status::InvalidArgument(
        fmt::format("source '{}': kind kafka needs `brokers` (host:port,...)", name));
  }
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::map<std::string, std::string> properties = {
      {"bootstrap.servers", s.brokers},
      {"group.id", s.group.empty() ? std::string(kDefaultGroup) : s.group},
      {"client.id", "freshet"},
      // Offsets are committed by Commit, after the engine checkpointed what precedes them.
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      // A server restarted after a crash gets its partitions back once the group drops the
      // dead member: 10 s rather than librdkafka's 45.
      {"session.timeout.ms", "10000"},
      {"heartbeat.interval.ms", "2000"},
  };
  for (const auto& [key, value] : source->options_.properties) properties[key] = value;
  for (const auto& [key, value] : properties) {
    if (Status st = SetProperty(conf, name, key, value); !st.ok()) {
      rd_kafka_conf_destroy(conf);
      return st;
    }
  }
  rd_kafka_conf_set_rebalance_cb(conf, &KafkaSourceCallbacks::Rebalance);
  rd_kafka_conf_set_opaque(conf, source.get());
  char error[512];
  source->rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
  if (source->rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(fmt::format("source '{}': kafka consumer: {}", name, error));
  }
  rd_kafka_poll_set_consumer(source->rk_);
  PartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), s.topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t err = rd_kafka_subscribe(source->rk_, topics.get()); err) {
    return Status::InvalidArgument(fmt::format("source '{}': subscribing to topic '{}': {}", name,
                                               s.topic, rd_kafka_err2str(err)));
  }
  return source;
}

KafkaSource::~KafkaSource() {
  if (rk_ == nullptr) return;
  pending_.reset();
  rd_kafka_consumer_close(rk_);
  rd_kafka_destroy(rk_);
}

void KafkaSource::Rebalance(bool assign, rd_kafka_topic_partition_list_t* partitions) {
  pending_.reset();
  if (!assign) {
    rd_kafka_assign(rk_, nullptr);
    std::lock_guard<std::mutex> lock(mu_);
    assigned_.clear();
    return;
  }
  AssignAt(partitions);
  std::lock_guard<std::mutex> lock(mu_);
  assigned_.clear();
  for (int i = 0; i < partitions->cnt; ++i) assigned_.push_back(partitions->elems[i].partition);
  std::sort(assigned_.begin(), assigned_.end());
  spdlog::info("source '{}': assigned partitions {} of topic '{}'", name_,
               fmt::join(assigned_, ","), source_.topic);
}

void KafkaSource::AssignAt(rd_kafka_topic_partition_list_t* partitions) {
  for (int i = 0; i < partitions->cnt; ++i) {
    rd_kafka_topic_partition_t& p = partitions->elems[i];
    auto it = next_.find(p.partition);
    p.offset = it == next_.end() ? RD_KAFKA_OFFSET_BEGINNING : static_cast<int64_t>(it->second);
  }
  if (rd_kafka_resp_err_t err = rd_kafka_assign(rk_, partitions); err) {
    spdlog::error("source '{}': assigning partitions: {}", name_, rd_kafka_err2str(err));
  }
}

Result<std::vector<int32_t>> KafkaSource::Partitions() {
  std::lock_guard<std::mutex> lock(mu_);
  return assigned_;
}

Status KafkaSource::Seek(const SourcePosition& position) {
  next_ = position;
  pending_.reset();
  std::vector<int32_t> assigned = *Partitions();
  if (assigned.empty()) return Status::Ok();  // the next assignment starts at next_
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(assigned.size())));
  for (int32_t p : assigned) {
    rd_kafka_topic_partition_list_add(list.get(), source_.topic.c_str(), p);
  }
  AssignAt(list.get());
  return Status::Ok();
}

bool KafkaSource::ParseValue(const rd_kafka_message_s& m, Record* record, std::string* error) {
  std::string_view value(static_cast<const char*>(m.payload), m.payload ? m.len : 0);
  Status st = parser_.Parse(value, &parsed_);
  if (st.ok() && parsed_.size() != 1) {
    st = Status::InvalidArgument(
        fmt::format("a message holds one JSON object; this one holds {} records", parsed_.size()));
  }
  if (!st.ok()) {
    *error = st.message();
    return false;
  }
  *record = std::move(parsed_.front());
  return true;
}

Result<bool> KafkaSource::Read(size_t max, SourceBatch* batch) {
  batch->records.clear();
  batch->rejected.reset();
  bool started = false;
  int timeout_ms = options_.poll_timeout_ms;
  while (batch->records.size() < max) {
    Message m = pending_ ? std::move(pending_) : Message(rd_kafka_consumer_poll(rk_, timeout_ms));
    timeout_ms = 0;  // once something came, take only what is there already
    if (!m) break;
    if (m->err) {
      if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        char reason[512];
        rd_kafka_fatal_error(rk_, reason, sizeof(reason));
        return Status::Unavailable(fmt::format("source '{}': kafka: {}", name_, reason));
      }
      // Transient (a broker down, a rebalance): librdkafka retries by itself.
      spdlog::warn("source '{}': kafka: {}", name_, rd_kafka_message_errstr(m.get()));
      continue;
    }
    const int32_t partition = m->partition;
    const uint64_t offset = static_cast<uint64_t>(m->offset);
    auto next = next_.find(partition);
    if (next != next_.end() && offset < next->second) continue;  // fetched before a Seek
    if (started && (partition != batch->partition || offset != batch->next_offset)) {
      pending_ = std::move(m);  // another partition, or past a gap: the next batch
      break;
    }
    Record record;
    std::string error;
    if (!ParseValue(*m, &record, &error)) {
      if (started) {
        pending_ = std::move(m);  // handed out alone, by the next Read
        break;
      }
      const char* value = static_cast<const char*>(m->payload);
      batch->rejected = RejectedRecord{std::string(value, value ? m->len : 0), std::move(error)};
      batch->partition = partition;
      batch->first_offset = offset;
      batch->next_offset = offset + 1;
      next_[partition] = offset + 1;
      return true;
    }
    if (!started) {
      started = true;
      batch->partition = partition;
      batch->first_offset = offset;
    }
    batch->records.push_back(std::move(record));
    batch->next_offset = offset + 1;
  }
  if (started) next_[batch->partition] = batch->next_offset;
  return started;
}

Result<SourcePosition> KafkaSource::EndPosition() {
  SourcePosition end;
  SourcePosition committed = committed_.Get();
  const std::vector<int32_t> assigned = *Partitions();
  for (int32_t p : assigned) {
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t err =
        rd_kafka_get_watermark_offsets(rk_, source_.topic.c_str(), p, &low, &high);
    // Not fetched yet: no better figure than the committed offset.
    end[p] = std::max<uint64_t>(err ? 0 : static_cast<uint64_t>(std::max<int64_t>(high, 0)),
                                committed.count(p) ? committed[p] : 0);
  }
  return end;
}

Status KafkaSource::Commit(const SourcePosition& position) {
  committed_.Advance(position);
  std::vector<int32_t> assigned = *Partitions();
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(assigned.size())));
  for (int32_t p : assigned) {
    auto it = position.find(p);
    if (it == position.end()) continue;
    rd_kafka_topic_partition_list_add(list.get(), source_.topic.c_str(), p)->offset =
        static_cast<int64_t>(it->second);
  }
  if (list->cnt == 0) return Status::Ok();
  // Asynchronous: the engine's checkpoint is the truth, so a lost commit only delays what
  // monitoring sees, and a broker that is down must not hold up the checkpoint.
  if (rd_kafka_resp_err_t err = rd_kafka_commit(rk_, list.get(), /*async=*/1); err) {
    spdlog::warn("source '{}': committing offsets to the group: {}", name_, rd_kafka_err2str(err));
  }
  return Status::Ok();
}

}  // namespace freshet
