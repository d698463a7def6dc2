#include "sources/event_log_source.h"

#include <fmt/format.h>

namespace freshet {

Status EventLogSource::Seek(const SourcePosition& position) {
  for (const auto& [partition, offset] : position) {
    if (partition != 0) {
      return Status::InvalidArgument(
          fmt::format("source '{}' has one partition, 0; not {}", name_, partition));
    }
  }
  auto it = position.find(0);
  next_ = it == position.end() ? 0 : it->second;
  return Status::Ok();
}

Result<bool> EventLogSource::Read(size_t max, SourceBatch* batch) {
  batch->partition = 0;
  batch->first_offset = next_;
  batch->records.clear();
  RETURN_IF_ERROR(log_->Read(name_, next_, max, &batch->records));
  next_ += batch->records.size();
  batch->next_offset = next_;
  return !batch->records.empty();
}

Result<SourcePosition> EventLogSource::EndPosition() {
  ASSIGN_OR_RETURN(uint64_t end, log_->NextOffset(name_));
  return SourcePosition{{0, end}};
}

}  // namespace freshet
