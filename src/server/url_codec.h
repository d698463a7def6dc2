// Decoding of request targets: percent escapes in path segments and query strings.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "server/http_types.h"

namespace freshet {

// Decodes %XX escapes, and '+' as a space when `plus_is_space` (query strings only; in a path
// '+' is itself). A '%' not followed by two hex digits is kInvalidArgument.
Result<std::string> PercentDecode(std::string_view text, bool plus_is_space);

// Parses "a=1&b=x%20y" into decoded pairs. A key without '=' has an empty value, empty pieces
// ("a=1&&b=2") are skipped, and for a repeated key the first value wins.
Result<StringMap> ParseQuery(std::string_view query);

}  // namespace freshet
