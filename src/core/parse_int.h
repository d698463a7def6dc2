// Checked parsing of integers from untrusted text (HTTP bodies and query parameters, files):
// the whole text must be a base-10 integer that fits, or the caller gets an error naming the
// field, never an exception or a silently wrapped value. Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/status.h"

namespace freshet {

// An optional '-' then digits, nothing else. kInvalidArgument "<field>: '<text>' is not an
// integer" or "<field>: '<text>' is out of range for a 64-bit integer".
Result<int64_t> ParseInt64(std::string_view text, std::string_view field);

// ParseInt64 within [min, max]; else kInvalidArgument "<field>: <value> is not in <min>-<max>".
Result<int64_t> ParseInt64InRange(std::string_view text, std::string_view field, int64_t min,
                                  int64_t max);

}  // namespace freshet
