// SourceEventReader: the backfill's EventReader (offline/backfill.h) over Sources, so a backfill
// of a project reads each source where the online path reads it: the embedded event log for
// `http`, the files for `file`. Each Scan creates a fresh Source of the spec's kind (its own
// cursor, from offset 0), so it never moves a consumer the Instance uses.
// Thread-safety: one Scan at a time. The context's spec and log must outlive the reader.
#pragma once

#include "offline/backfill.h"
#include "sources/source.h"

namespace freshet {

class SourceEventReader final : public EventReader {
 public:
  explicit SourceEventReader(SourceContext context) : context_(context) {}

  // kNotFound for a source the spec lacks; CreateSource's error for a kind not built.
  Status Scan(const std::string& source, const BatchSink& sink) override;
  // http: the log's record count; file: the matched files' sizes (as FileEventReader).
  uint64_t EstimateBytes(const std::string& source) const override;

 private:
  SourceContext context_;
};

}  // namespace freshet
