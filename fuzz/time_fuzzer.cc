// Durations ("1h30m"), RFC 3339 timestamps and checked integers. What parses must print and
// parse back to the same value; printing any int64 must be defined.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/parse_int.h"
#include "core/time_util.h"
#include "fuzz_spec.h"

using namespace freshet;

namespace {

// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: what FormatRfc3339Ms prints as RFC 3339.
constexpr int64_t kMinRfc3339Ms = -62'167'219'200'000;
constexpr int64_t kMaxRfc3339Ms = 253'402'300'799'999;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto d = ParseDurationMs(text); d.ok()) {
    FUZZ_CHECK(*d >= 0);
    auto back = ParseDurationMs(FormatDurationMs(*d));
    FUZZ_CHECK(back.ok() && *back == *d);
  }

  if (auto t = ParseRfc3339Ms(text); t.ok() && *t >= kMinRfc3339Ms && *t <= kMaxRfc3339Ms) {
    auto back = ParseRfc3339Ms(FormatRfc3339Ms(*t));
    FUZZ_CHECK(back.ok() && *back == *t);
  }

  if (auto i = ParseInt64(text, "n"); i.ok()) {
    auto back = ParseInt64(std::to_string(*i), "n");
    FUZZ_CHECK(back.ok() && *back == *i);
  }

  if (size >= 8) {
    int64_t ms;
    std::memcpy(&ms, data, 8);
    FormatDurationMs(ms);
    FormatRfc3339Ms(ms);
    if (ms >= kMinRfc3339Ms && ms <= kMaxRfc3339Ms) {
      auto back = ParseRfc3339Ms(FormatRfc3339Ms(ms));
      FUZZ_CHECK(back.ok() && *back == ms);
    }
  }
  return 0;
}
