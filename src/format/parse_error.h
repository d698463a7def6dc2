// ParseError: where a bad record is and what is wrong with it, as data. Parsers fill it; callers
// that know more (the file a body came from, the line a block starts at) set those fields
// instead of re-parsing a message, and the HTTP API returns the fields as error details.
// Thread-safety: a value type.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace freshet {

struct ParseError {
  std::string file;     // the input file; empty for a request body
  uint64_t line = 0;    // 1-based line (NDJSON, CSV); 0 when the input is not line-based
  uint64_t record = 0;  // 1-based record (JSON array or single object); 0 when line-based
  std::string field;    // the field at fault; empty when the record (or input) as a whole is
  std::string reason;   // what is wrong, e.g. "expected double, got string \"abc\""
  // The data-quality expectation the record failed ("between", ...; quality/expectation.h);
  // empty for a record that did not parse.
  std::string expectation = {};

  // "events.ndjson:1002: field 'x': <reason>", "line 3: field 'x': <reason>",
  // "record 2: <reason>", or the reason alone when there is no position.
  std::string ToString() const;
  // kInvalidArgument with ToString() as its message.
  Status ToStatus() const { return Status::InvalidArgument(ToString()); }
};

}  // namespace freshet
