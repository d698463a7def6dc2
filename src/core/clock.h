// Clock: the source of "now" for windows, watermarks, TTLs and schedules. Injected everywhere
// so tests set time instead of sleeping. Implementations are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

namespace freshet {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMs() const = 0;
};

// Wall-clock time.
class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
  // A process-wide instance; never destroyed.
  static SystemClock* Default();
};

// Time that moves only when told: for tests and replays.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms = 0) : now_ms_(now_ms) {}
  int64_t NowMs() const override { return now_ms_.load(std::memory_order_relaxed); }
  void Set(int64_t now_ms) { now_ms_.store(now_ms, std::memory_order_relaxed); }
  void Advance(int64_t delta_ms) { now_ms_.fetch_add(delta_ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace freshet
