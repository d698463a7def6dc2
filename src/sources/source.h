// Source: where a source's records come from, read by offset. The Instance consumes every
// source of the spec through this interface: at Open it seeks each source to the offsets the
// engine's checkpoint holds and reads to the end (replay), so the engine's checkpoint, not the
// source, is the truth for exactly-once; after each checkpoint it commits the engine's
// positions back to the source.
//
// Kinds, created by name from the spec's `kind:` (CreateSource):
//   http   EventLogSource (event_log_source.h): records POSTed to the server, kept in the
//          embedded EventLog. New records reach the engine through the log's commit hook
//          (pushed() is true); reads replay what the engine has not checkpointed.
//   file   FileSource (file_source.h): NDJSON or CSV files (a path or a glob), replayed through
//          the same validation as POSTed records.
//   kafka  KafkaSource (kafka_source.h): a topic consumed in a consumer group; live(), so the
//          Instance reads it on a consumer thread until shutdown.
// Adding a kind is its class plus one line in source.cc.
//
// Positions are per partition, so a partitioned, offset-committed consumer (Kafka: one
// partition per topic partition this process was assigned) fits: http and file have one
// partition, 0. Offsets of a partition increase but need not be dense (a Kafka compaction or
// transaction marker leaves gaps); a batch's records sit at consecutive offsets and its
// next_offset says where reading continues. The engine's checkpoint keeps the offsets per
// partition (SourceProgress::next_offsets).
//
// Ownership: CreateSource's caller owns the source; a source owns its cursor (open files, a
// consumer) but not the spec or the event log it reads.
//
// Thread-safety: one consumer thread calls Seek and Read; Commit, committed() and EndPosition
// may be called from other threads (the checkpointer, metrics). Errors are Status values:
// kInvalidArgument for a bad record (naming its file and line where there is one), kIoError for
// storage or files that cannot be read, kUnavailable for a remote system that cannot be reached.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "format/record.h"
#include "spec/project_spec.h"

namespace freshet {

class EventLog;

// Partition -> offset of the next record to read there (every record below it is consumed).
using SourcePosition = std::map<int32_t, uint64_t>;

// A record a source read but could not turn into a record of the source (bad JSON, a wrong
// type): the consumer keeps it out of the source, in its dead letter.
struct RejectedRecord {
  std::string payload;  // as read
  std::string error;    // what is wrong, e.g. "record 1: field 'n': expected int64, got ..."
};

// Records of one partition at consecutive offsets.
struct SourceBatch {
  int32_t partition = 0;
  uint64_t first_offset = 0;  // records[i] sits at first_offset + i
  std::vector<Record> records;
  // Where reading this partition continues: first_offset + records.size(), or past a gap.
  uint64_t next_offset = 0;
  // Set when the record at first_offset was rejected: the batch then holds no records, and
  // next_offset is past it. Sources that fail on bad records (file) never set it.
  std::optional<RejectedRecord> rejected;
};

class Source {
 public:
  virtual ~Source() = default;

  // The spec's kind name ("http", "file") and the source's name.
  virtual std::string_view kind() const = 0;
  virtual const std::string& name() const = 0;

  // True when new records reach the engine without being read (http: the event log's commit
  // hook applies each durable batch); false when the consumer must Read them.
  virtual bool pushed() const { return false; }
  // True when records keep arriving after Open, so the Instance reads the source on a consumer
  // thread until shutdown (kafka); false when Open reads it to its end once (file) or it is
  // pushed (http).
  virtual bool live() const { return false; }

  // The partitions this process reads. http and file: {0}. A consumer-group source returns
  // its current assignment.
  virtual Result<std::vector<int32_t>> Partitions() = 0;

  // Moves the read cursor: each partition of `position` continues at its offset, the others at
  // their first record.
  virtual Status Seek(const SourcePosition& position) = 0;

  // Reads up to `max` records available now from one partition into *batch (replacing what it
  // held). Returns true with a batch (whose records may be empty when only its position moved
  // past a gap), false when every partition is read to its current end.
  virtual Result<bool> Read(size_t max, SourceBatch* batch) = 0;

  // Per partition, the offset the next new record will get, for lag (= end - committed). A
  // file source knows it once read to the end; before that it reports its committed position.
  virtual Result<SourcePosition> EndPosition() = 0;

  // Records below `position` are applied and checkpointed by the engine, so the source may
  // release them (Kafka: commit the consumer group's offsets, which monitoring and a
  // rebalance's next owner see). Never rewinds: a lower offset than committed is ignored.
  virtual Status Commit(const SourcePosition& position) = 0;
  // The last committed position (empty before the first Commit).
  virtual SourcePosition committed() const = 0;
};

// A source's committed position, for implementations: Advance never rewinds a partition.
// Thread-safe.
class CommittedPosition {
 public:
  void Advance(const SourcePosition& position);
  SourcePosition Get() const;

 private:
  mutable std::mutex mu_;
  SourcePosition position_;  // guarded by mu_
};

// What sources' factories may use. Not owned; must outlive the sources.
struct SourceContext {
  const ProjectSpec* spec = nullptr;  // required
  EventLog* log = nullptr;            // http: required
  int threads = 2;                    // file: parsing threads
};

// Creates the source `source` of context.spec by its kind. A kind this build lacks:
// kInvalidArgument "source 'clicks': kind 'x' is not built in this version (built: file,
// http, kafka)".
Result<std::unique_ptr<Source>> CreateSource(const SourceSpec& source,
                                             const SourceContext& context);

// The kinds CreateSource builds, sorted ("file", "http", "kafka"). (`table` sources are built too,
// but not as Sources: instance/built_kinds.h adds them.)
std::vector<std::string> KnownSourceKinds();

}  // namespace freshet
