// The event-time watermark rule, shared by the engine, the backfill and the tests so online
// and offline drop exactly the same late events: walking a source's events in arrival order,
// the watermark is the newest event time seen minus the source's allowed lateness (no
// watermark before the first event), and an event whose time is below it is late.
// Thread-safety: pure functions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "core/int_math.h"

namespace freshet {

// The newest event time of a source that has seen none.
inline constexpr int64_t kNoEventMs = std::numeric_limits<int64_t>::min();

// The watermark after events up to `max_event_ms` (saturating: never wraps).
inline int64_t WatermarkMs(int64_t max_event_ms, int64_t lateness_ms) {
  return max_event_ms == kNoEventMs ? kNoEventMs : SaturatingSub(max_event_ms, lateness_ms);
}

// Walks one source's events: Accept(ts) says whether the next event is on time and, when it
// is, advances the newest event time.
class WatermarkTracker {
 public:
  explicit WatermarkTracker(int64_t lateness_ms, int64_t max_event_ms = kNoEventMs)
      : lateness_ms_(lateness_ms), max_event_ms_(max_event_ms) {}

  bool Accept(int64_t ts_ms) {
    if (ts_ms < WatermarkMs(max_event_ms_, lateness_ms_)) return false;
    max_event_ms_ = std::max(max_event_ms_, ts_ms);
    return true;
  }
  int64_t max_event_ms() const { return max_event_ms_; }
  int64_t watermark_ms() const { return WatermarkMs(max_event_ms_, lateness_ms_); }

 private:
  int64_t lateness_ms_;
  int64_t max_event_ms_;
};

}  // namespace freshet
