// EventLogSource: the `http` source kind over the embedded EventLog (log/event_log.h). Records
// POSTed to the server are appended to the log, and the log's commit hook applies each durable
// batch to the engine (pushed() is true); reading replays the log from an offset, which is how
// the Instance catches up after a restart. One partition, 0, whose offsets are the log's.
// Committing only records the position: the log keeps every record (backfills read it).
// Thread-safety: as Source. The log is not owned and must outlive the source.
#pragma once

#include "log/event_log.h"
#include "sources/source.h"

namespace freshet {

class EventLogSource final : public Source {
 public:
  static constexpr std::string_view kKind = "http";

  EventLogSource(std::string name, EventLog* log) : name_(std::move(name)), log_(log) {}

  std::string_view kind() const override { return kKind; }
  const std::string& name() const override { return name_; }
  bool pushed() const override { return true; }
  Result<std::vector<int32_t>> Partitions() override { return std::vector<int32_t>{0}; }
  Status Seek(const SourcePosition& position) override;
  Result<bool> Read(size_t max, SourceBatch* batch) override;
  Result<SourcePosition> EndPosition() override;
  Status Commit(const SourcePosition& position) override {
    committed_.Advance(position);
    return Status::Ok();
  }
  SourcePosition committed() const override { return committed_.Get(); }

 private:
  const std::string name_;
  EventLog* const log_;
  uint64_t next_ = 0;  // the consumer's
  CommittedPosition committed_;
};

}  // namespace freshet
