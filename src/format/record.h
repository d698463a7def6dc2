// Record: one event of a source after validation against the source's schema.
// Values are in the schema's field order (SourceSpec::fields); absent optional fields are null.
// The entity key fields and the timestamp are always present. Thread-safety: a value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/value.h"
#include "spec/project_spec.h"

namespace freshet {

struct Record {
  int64_t ts_ms = 0;          // event time, epoch ms (the source's timestamp field)
  std::vector<Value> values;  // one per SourceSpec::fields entry
};

// Binary encoding of a record for the event log (docs/formats.md). Compact and versioned.
void EncodeRecord(const Record& r, std::string* out);
Status DecodeRecord(std::string_view bytes, Record* out);

}  // namespace freshet
