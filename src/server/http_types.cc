#include "server/http_types.h"

#include <strings.h>

namespace freshet {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

const std::string* HttpHeaders::Get(std::string_view name) const {
  for (const auto& [field, value] : entries_) {
    if (EqualsIgnoreCase(field, name)) return &value;
  }
  return nullptr;
}

}  // namespace freshet
