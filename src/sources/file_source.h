// FileSource: the `file` source kind. Replays NDJSON or CSV event files (the spec's `path`: one
// file or a glob such as "events/*.ndjson", matched files taken in name order; `format: csv` or
// a .csv name selects CSV) through the same validation as POSTed records (RecordParser; CSV
// cells typed by the schema), reading with the offline module's EventFileCursor.
//
// Offsets are record ordinals across the matched files in name order, on one partition, 0. So
// a replay resumes correctly after a restart as long as files are only appended to, and new
// files sort after the old ones (e.g. date-stamped names); rewriting a file already read, or
// adding one that sorts before, shifts the offsets. The glob is expanded at each Seek.
// Seeking to offset N parses the first N records again to skip them (a file has no index).
// Committing records the position only. Thread-safety: as Source. `spec` must outlive it.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "offline/backfill_io.h"
#include "sources/source.h"

namespace freshet {

class FileSource final : public Source {
 public:
  static constexpr std::string_view kKind = "file";

  // REQUIRES: spec.sources holds `name`, of kind file.
  FileSource(const ProjectSpec& spec, std::string name, int threads = 2);

  std::string_view kind() const override { return kKind; }
  const std::string& name() const override { return name_; }
  Result<std::vector<int32_t>> Partitions() override { return std::vector<int32_t>{0}; }
  Status Seek(const SourcePosition& position) override;
  Result<bool> Read(size_t max, SourceBatch* batch) override;
  Result<SourcePosition> EndPosition() override;
  Status Commit(const SourcePosition& position) override {
    committed_.Advance(position);
    return Status::Ok();
  }
  SourcePosition committed() const override { return committed_.Get(); }

  // The files `path` matches now, in name order. A plain path is returned as it is (reading
  // reports it missing); a pattern matching nothing gives no files.
  Result<std::vector<std::string>> MatchFiles() const;

 private:
  // Next records of the cursor, skipping empty pieces; false at the end.
  Result<bool> Fill();

  const ProjectSpec& spec_;
  const SourceSpec& source_;
  const std::string name_;
  const int threads_;
  std::unique_ptr<EventFileCursor> cursor_;  // null before the first Seek/Read
  std::vector<Record>* pending_ = nullptr;   // the cursor's current piece
  size_t pending_used_ = 0;                  // records of *pending_ already handed out
  uint64_t next_ = 0;                        // offset of the next record handed out
  bool at_end_ = false;                      // the cursor reached the end of the files
  std::atomic<uint64_t> end_{0};             // next_ when at_end_, for EndPosition
  CommittedPosition committed_;
};

}  // namespace freshet
