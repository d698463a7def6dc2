// FileSink: the `file` output kind. Appends each prediction as one NDJSON line
// (AppendPredictionJson) to a file, a whole batch in one write, then fsync: Deliver returns OK
// only once the batch is on disk. A crash mid-batch can leave a torn last line; Open cuts it
// off, and the batch is delivered again (at-least-once: readers dedupe by "id").
// Thread-safety: Deliver is thread-safe (serialized). One FileSink per file: two writers of a
// file (in this process or another) may interleave their batches.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "sinks/sink.h"

namespace freshet {

class FileSink final : public Sink {
 public:
  static constexpr std::string_view kKind = "file";

  // Opens (creating it and its directory when missing) `path` for appending, and cuts a torn
  // last line. kIoError when it cannot.
  static Result<std::unique_ptr<FileSink>> Open(const std::string& path);
  ~FileSink() override;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  std::string_view kind() const override { return kKind; }
  Status Deliver(const std::vector<PredictionRecord>& batch) override;

 private:
  FileSink(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  const std::string path_;
  std::mutex mu_;  // serializes Deliver
  const int fd_;
};

}  // namespace freshet
