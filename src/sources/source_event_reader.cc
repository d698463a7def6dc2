#include "sources/source_event_reader.h"

#include <fmt/format.h>

#include "offline/backfill_io.h"
#include "offline/log_event_reader.h"
#include "sources/file_source.h"

namespace freshet {
namespace {

constexpr size_t kBatch = 65'536;

}  // namespace

Status SourceEventReader::Scan(const std::string& source, const BatchSink& sink) {
  auto it = context_.spec->sources.find(source);
  if (it == context_.spec->sources.end()) {
    return Status::NotFound(fmt::format("unknown source '{}'", source));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Source> reader, CreateSource(it->second, context_));
  if (reader->live()) {
    // A live stream has no end to read to.
    return Status::InvalidArgument(
        fmt::format("source '{}' is kind {}: the backfill reads its events from --events files",
                    source, reader->kind()));
  }
  RETURN_IF_ERROR(reader->Seek({}));
  SourceBatch batch;
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader->Read(kBatch, &batch));
    if (!more) return Status::Ok();
    RETURN_IF_ERROR(sink(&batch.records));
  }
}

uint64_t SourceEventReader::EstimateBytes(const std::string& source) const {
  auto it = context_.spec->sources.find(source);
  if (it == context_.spec->sources.end()) return 0;
  if (it->second.kind == SourceKind::kFile) {
    Result<std::vector<std::string>> files =
        FileSource(*context_.spec, source, context_.threads).MatchFiles();
    if (!files.ok()) return 0;
    return FileEventReader(*context_.spec, source, *files).EstimateBytes(source);
  }
  if (it->second.kind == SourceKind::kHttp && context_.log != nullptr) {
    return LogEventReader(context_.log).EstimateBytes(source);
  }
  return 0;
}

}  // namespace freshet
