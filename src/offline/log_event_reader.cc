#include "offline/log_event_reader.h"

namespace freshet {
namespace {

constexpr size_t kBatch = 65'536;
// A parsed record's typical footprint (values, strings, vector), for sizing partitions.
constexpr uint64_t kBytesPerRecord = 250;

}  // namespace

Status LogEventReader::Scan(const std::string& source, const BatchSink& sink) {
  ASSIGN_OR_RETURN(uint64_t end, log_->NextOffset(source));
  std::vector<Record> batch;
  for (uint64_t offset = 0; offset < end;) {
    batch.clear();
    RETURN_IF_ERROR(log_->Read(source, offset, kBatch, &batch));
    if (batch.empty()) break;
    offset += batch.size();
    RETURN_IF_ERROR(sink(&batch));
  }
  return Status::Ok();
}

uint64_t LogEventReader::EstimateBytes(const std::string& source) const {
  auto records = log_->NextOffset(source);
  return records.ok() ? *records * kBytesPerRecord : 0;
}

}  // namespace freshet
