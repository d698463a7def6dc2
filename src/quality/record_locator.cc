#include "quality/record_locator.h"

namespace freshet {
namespace {

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

void LocateRecord(std::string_view body, size_t count, size_t index, ParseError* at,
                  uint64_t first_line) {
  size_t start = body.find_first_not_of(" \t\r\n");
  // A JSON array, or a lone object (RecordParser reads one object as record 1).
  if (start == std::string_view::npos || body[start] == '[' || count == 1) {
    at->record = index + 1;
    return;
  }
  // NDJSON: one record per non-blank line.
  uint64_t line = first_line;
  size_t seen = 0;
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) end = body.size();
    if (!IsBlank(body.substr(pos, end - pos)) && seen++ == index) {
      at->line = line;
      return;
    }
    pos = end + 1;
    ++line;
  }
  at->record = index + 1;
}

}  // namespace freshet
