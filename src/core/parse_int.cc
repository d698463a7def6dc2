#include "core/parse_int.h"

#include <fmt/format.h>

#include <charconv>
#include <system_error>

namespace freshet {

Result<int64_t> ParseInt64(std::string_view text, std::string_view field) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec == std::errc::result_out_of_range) {
    return Status::InvalidArgument(
        fmt::format("{}: '{}' is out of range for a 64-bit integer", field, text));
  }
  if (ec != std::errc() || ptr != end) {
    return Status::InvalidArgument(fmt::format("{}: '{}' is not an integer", field, text));
  }
  return value;
}

Result<int64_t> ParseInt64InRange(std::string_view text, std::string_view field, int64_t min,
                                  int64_t max) {
  ASSIGN_OR_RETURN(int64_t value, ParseInt64(text, field));
  if (value < min || value > max) {
    return Status::InvalidArgument(fmt::format("{}: {} is not in {}-{}", field, value, min, max));
  }
  return value;
}

}  // namespace freshet
