// The backfill's inputs: an EventReader over event files (LogEventReader, in
// log_event_reader.h, reads the embedded event log), and files read in blocks that end on
// record boundaries. The parsers themselves (NDJSON, CSV) live in src/format.
// Thread-safety: instances are used by one thread at a time.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/value.h"
#include "offline/backfill.h"

namespace freshet {

// Reads event files of one source in the order given: NDJSON (parsed by RecordParser, with its
// validation), or CSV with a header line when the file name ends in ".csv" or the source's
// format is "csv". CSV cells are typed by the source schema; an unquoted empty cell is null,
// a quoted "" an empty string (PostgreSQL's COPY rule). Parsing uses `threads` threads.
class FileEventReader final : public EventReader {
 public:
  // `spec` must outlive the reader.
  FileEventReader(const ProjectSpec& spec, std::string source, std::vector<std::string> files,
                  int threads = 2);

  Status Scan(const std::string& source, const BatchSink& sink) override;
  uint64_t EstimateBytes(const std::string& source) const override;

 private:
  const ProjectSpec& spec_;
  std::string source_;
  std::vector<std::string> files_;
  int threads_;
};

// The pull form of FileEventReader::Scan: event files of one source read in the order given,
// one parsed piece of a block at a time, with the same formats, validation and errors
// (naming the file and line). The file source (sources/file_source.h) reads through it.
class EventFileCursor {
 public:
  // `source` must outlive the cursor. `required`: fields every record must carry
  // (RequiredFields(spec, source)).
  EventFileCursor(const SourceSpec& source, std::vector<std::string> required,
                  std::vector<std::string> files, int threads = 2);
  ~EventFileCursor();
  EventFileCursor(const EventFileCursor&) = delete;
  EventFileCursor& operator=(const EventFileCursor&) = delete;

  // Points *batch at the next records (possibly none), in file order; the caller may move them
  // out. Valid until the next call. Returns false after the last file.
  Result<bool> Next(std::vector<Record>** batch);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a file in blocks of about `block_bytes`, each ending at a record boundary: after a
// newline (for CSV, one outside quotes), or at the end of the file.
class BlockReader {
 public:
  BlockReader(bool csv, size_t block_bytes) : csv_(csv), block_bytes_(block_bytes) {}
  ~BlockReader();
  BlockReader(const BlockReader&) = delete;
  BlockReader& operator=(const BlockReader&) = delete;

  Status Open(const std::string& path);
  // The next block in `*block` (valid until the next call) and the 1-based number of its first
  // line in `*first_line`. Returns false at the end of the file.
  Result<bool> Next(std::string_view* block, uint64_t* first_line);

 private:
  bool csv_;
  size_t block_bytes_;
  std::string path_;
  std::FILE* file_ = nullptr;
  std::string buffer_;
  size_t consumed_ = 0;  // bytes of buffer_ handed out by the last Next()
  uint64_t next_line_ = 1;
  bool eof_ = false;
};

// Where in `text` (which starts at a record boundary) the record containing position `pos`
// ends: just past its newline, or text.size(). For CSV, newlines inside quotes do not count.
size_t NextRecordBoundary(std::string_view text, size_t pos, bool csv);

}  // namespace freshet
