// LocateRecord: the position of the i-th record of a request body or file block, as
// RecordParser names positions — the line for NDJSON, the record number for a JSON array or a
// single object — so a violation found after parsing names the same place a parse error would.
// Thread-safety: a pure function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "format/parse_error.h"

namespace freshet {

// Sets at->line (NDJSON: the line of the record, counting from `first_line`) or at->record
// (1-based) for record `index` (0-based) of `body`, which parsed into `count` records.
// REQUIRES: index < count, and `body` parsed without error.
void LocateRecord(std::string_view body, size_t count, size_t index, ParseError* at,
                  uint64_t first_line = 1);

}  // namespace freshet
