// LogEventReader: an EventReader (backfill.h) over the embedded event log, so a backfill can
// build training sets from the events the server ingested. Reads in offset (= arrival) order.
#pragma once

#include "log/event_log.h"
#include "offline/backfill.h"

namespace freshet {

class LogEventReader final : public EventReader {
 public:
  explicit LogEventReader(EventLog* log) : log_(log) {}
  Status Scan(const std::string& source, const BatchSink& sink) override;
  // From the number of records in the log, so a large log spills instead of filling memory.
  uint64_t EstimateBytes(const std::string& source) const override;

 private:
  EventLog* log_;
};

}  // namespace freshet
