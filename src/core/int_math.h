// Overflow-safe int64 arithmetic for timestamps and durations (epoch ms): the one place that
// decides what happens at the ends of the range, so windows, TTLs, lateness and durations read
// by user input never hit signed overflow (undefined behaviour).
//
// Saturating*: clamp to INT64_MIN / INT64_MAX, for bounds that only compare ("everything older
// than t - window"): a clamped bound still orders correctly. Checked*: false on overflow, for
// values that must be exact (a parsed duration, a decoded timestamp). Thread-safety: pure
// functions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

namespace freshet {

inline constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// *out = a + b; false (and *out unspecified) when the sum does not fit.
inline bool CheckedAdd(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}
inline bool CheckedSub(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_sub_overflow(a, b, out);
}
inline bool CheckedMul(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  if (CheckedAdd(a, b, &r)) return r;
  return b > 0 ? kInt64Max : kInt64Min;
}
inline int64_t SaturatingSub(int64_t a, int64_t b) {
  int64_t r;
  if (CheckedSub(a, b, &r)) return r;
  return b < 0 ? kInt64Max : kInt64Min;
}

// A retry's delay: base * 2^(attempt-1) for attempt >= 1 (base for attempt <= 1), at most `max`,
// without overflow. REQUIRES: 0 <= base <= max.
inline int64_t CappedBackoff(int64_t base, int64_t max, int attempt) {
  int64_t delay = base;
  for (int i = 1; i < attempt && delay < max; ++i) delay = delay > max / 2 ? max : delay * 2;
  return std::min(delay, max);
}

}  // namespace freshet
