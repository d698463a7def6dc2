#include "format/parse_error.h"

#include <fmt/format.h>

namespace freshet {

std::string ParseError::ToString() const {
  std::string out;
  if (!file.empty()) {
    out = line > 0 ? fmt::format("{}:{}", file, line) : file;
    if (line == 0 && record > 0) out += fmt::format(": record {}", record);
  } else if (line > 0) {
    out = fmt::format("line {}", line);
  } else if (record > 0) {
    out = fmt::format("record {}", record);
  }
  if (!field.empty()) out += fmt::format("{}field '{}'", out.empty() ? "" : ": ", field);
  out += out.empty() ? reason : ": " + reason;
  return out;
}

}  // namespace freshet
