// Parsing and printing of durations ("10m", "1h30m", "7d", "250ms") and timestamps (epoch
// milliseconds or RFC 3339 strings such as "2026-01-01T00:00:00Z" / "...+02:00").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace freshet {

// Units: ms, s, m, h, d, w; parts may be combined ("1h30m"). A bare integer is milliseconds.
// kInvalidArgument "duration '<text>' overflows" past INT64_MAX ms.
Result<int64_t> ParseDurationMs(std::string_view text);
// The shortest exact form: 600000 -> "10m", 5400000 -> "1h30m", 0 -> "0s".
std::string FormatDurationMs(int64_t ms);

// RFC 3339 date-time (fractional seconds to milliseconds, 'Z' or +hh:mm offsets) to epoch ms.
// Every field is range-checked (month 1-12, day within its month with leap years, hour 0-23,
// minute 0-59, offset within +-23:59); the error names the text and the field. Second 60 is a
// leap second, accepted only at 23:59 UTC and read as the next day's 00:00:00 (epoch time has
// no leap seconds). 't' and ' ' are accepted for 'T', 'z' for 'Z'.
Result<int64_t> ParseRfc3339Ms(std::string_view text);
// Epoch ms to "2026-01-01T00:00:00.000Z". Defined for every int64: years outside 0000-9999
// print in ISO 8601's expanded form ("-000001-12-31T23:00:00.000Z", "+292278994-08-17T...").
std::string FormatRfc3339Ms(int64_t ms);

}  // namespace freshet
