#include "core/time_util.h"

#include <fmt/format.h>

#include <chrono>

#include "core/int_math.h"

namespace freshet {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian civil date (Howard Hinnant's algorithm, as
// std::chrono::sys_days does; written out because libstdc++ 12 lacks chrono::parse).
// REQUIRES: a valid date (DaysInMonth).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  using namespace std::chrono;
  return sys_days(year(static_cast<int>(y)) / month(m) / day(d)).time_since_epoch().count();
}

bool IsLeapYear(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

int64_t DaysInMonth(int64_t y, int64_t m) {
  static constexpr int64_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// Exactly `n` ASCII digits at *pos.
bool ReadDigits(std::string_view s, size_t* pos, size_t n, int64_t* out) {
  if (*pos + n > s.size()) return false;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool Expect(std::string_view s, size_t* pos, char c) {
  if (*pos < s.size() && (s[*pos] == c || (c == 'T' && (s[*pos] == 't' || s[*pos] == ' ')))) {
    ++*pos;
    return true;
  }
  return false;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Milliseconds per unit; 0 for an unknown unit.
int64_t UnitMs(std::string_view unit) {
  if (unit.empty() || unit == "ms") return 1;
  if (unit == "s") return 1000;
  if (unit == "m" || unit == "min") return 60'000;
  if (unit == "h") return 3'600'000;
  if (unit == "d") return 86'400'000;
  if (unit == "w") return 7 * 86'400'000LL;
  return 0;
}

}  // namespace

Result<int64_t> ParseDurationMs(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("empty duration");
  auto overflows = [&] {
    return Status::InvalidArgument(fmt::format("duration '{}' overflows", text));
  };
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    int64_t n = 0;
    for (; i < text.size() && IsDigit(text[i]); ++i) {
      if (!CheckedMul(n, 10, &n) || !CheckedAdd(n, text[i] - '0', &n)) return overflows();
    }
    if (i == start) {
      return Status::InvalidArgument(
          fmt::format("bad duration '{}': expected a number at column {}", text, i + 1));
    }
    size_t unit_start = i;
    while (i < text.size() && IsAlpha(text[i])) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t mult = UnitMs(unit);
    if (mult == 0) {
      return Status::InvalidArgument(
          fmt::format("bad duration '{}': unknown unit '{}' (use ms, s, m, h, d, w)", text, unit));
    }
    int64_t part;
    if (!CheckedMul(n, mult, &part) || !CheckedAdd(total, part, &total)) return overflows();
  }
  return total;
}

std::string FormatDurationMs(int64_t ms) {
  if (ms == 0) return "0s";
  static constexpr struct {
    uint64_t mult;
    const char* unit;
  } kUnits[] = {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  std::string out;
  // The magnitude as unsigned, so INT64_MIN has one too.
  uint64_t rest = static_cast<uint64_t>(ms);
  if (ms < 0) {
    out = "-";
    rest = ~rest + 1;
  }
  for (const auto& u : kUnits) {
    if (rest >= u.mult) {
      out += fmt::format("{}{}", rest / u.mult, u.unit);
      rest %= u.mult;
    }
  }
  return out;
}

Result<int64_t> ParseRfc3339Ms(std::string_view s) {
  auto bad = [&] {
    return Status::InvalidArgument(
        fmt::format("bad timestamp '{}': expected RFC 3339 like 2026-01-01T00:00:00Z", s));
  };
  auto out_of_range = [&](std::string_view what) {
    return Status::InvalidArgument(fmt::format("bad timestamp '{}': {}", s, what));
  };
  size_t p = 0;
  int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!ReadDigits(s, &p, 4, &y) || !Expect(s, &p, '-') || !ReadDigits(s, &p, 2, &mo) ||
      !Expect(s, &p, '-') || !ReadDigits(s, &p, 2, &d) || !Expect(s, &p, 'T') ||
      !ReadDigits(s, &p, 2, &h) || !Expect(s, &p, ':') || !ReadDigits(s, &p, 2, &mi) ||
      !Expect(s, &p, ':') || !ReadDigits(s, &p, 2, &sec)) {
    return bad();
  }
  int64_t frac_ms = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    int digits = 0;
    for (; p < s.size() && IsDigit(s[p]); ++p, ++digits) {
      if (digits < 3) frac_ms = frac_ms * 10 + (s[p] - '0');
    }
    if (digits == 0) return bad();
    for (int k = digits; k < 3; ++k) frac_ms *= 10;
  }
  int64_t offset_min = 0;
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    int sign = s[p] == '-' ? -1 : 1;
    ++p;
    int64_t oh = 0, om = 0;
    if (!ReadDigits(s, &p, 2, &oh) || !Expect(s, &p, ':') || !ReadDigits(s, &p, 2, &om)) {
      return bad();
    }
    if (oh > 23 || om > 59) {
      return out_of_range(fmt::format("offset {:02d}:{:02d} is outside -23:59..+23:59", oh, om));
    }
    offset_min = sign * (oh * 60 + om);
  } else {
    return bad();
  }
  if (p != s.size()) return bad();
  if (mo < 1 || mo > 12) return out_of_range(fmt::format("month {} is not 1-12", mo));
  if (d < 1 || d > DaysInMonth(y, mo)) {
    return out_of_range(
        fmt::format("day {} is not 1-{} in {:04d}-{:02d}", d, DaysInMonth(y, mo), y, mo));
  }
  if (h > 23) return out_of_range(fmt::format("hour {} is not 0-23", h));
  if (mi > 59) return out_of_range(fmt::format("minute {} is not 0-59", mi));
  // A leap second (RFC 3339 5.7) is only ever the last second of a UTC day; epoch time has no
  // leap seconds, so 23:59:60.250Z reads as the next day's 00:00:00.250Z.
  const int64_t minute_of_utc_day = ((h * 60 + mi - offset_min) % 1440 + 1440) % 1440;
  if (sec > 60 || (sec == 60 && minute_of_utc_day != 1439)) {
    return out_of_range(fmt::format("second {} is not 0-59 (60 only at 23:59 UTC)", sec));
  }
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return ((days * 24 + h) * 60 + mi - offset_min) * 60'000 + sec * 1000 + frac_ms;
}

std::string FormatRfc3339Ms(int64_t ms) {
  constexpr int64_t kDayMs = 86'400'000;
  // Floor division without forming days * kDayMs, which overflows near INT64_MIN.
  int64_t days = ms / kDayMs;
  int64_t ms_of_day = ms % kDayMs;
  if (ms_of_day < 0) {
    --days;
    ms_of_day += kDayMs;
  }
  // Civil date of `days` (Howard Hinnant's civil_from_days), in int64: exact for every int64
  // of milliseconds, where std::chrono's year_month_day wraps past +-32767 years.
  const int64_t z = days + 719'468;
  const int64_t era = (z >= 0 ? z : z - 146'096) / 146'097;
  const int64_t doe = z - era * 146'097;                                        // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                  // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                       // [0, 11]
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2);
  // Years outside 0000-9999 take ISO 8601's expanded form (a sign and at least six digits, as
  // JavaScript prints them); RFC 3339 has no way to write them.
  std::string year_text =
      year >= 0 && year <= 9999 ? fmt::format("{:04d}", year) : fmt::format("{:+07d}", year);
  return fmt::format("{}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", year_text, month, day,
                     ms_of_day / 3'600'000, ms_of_day / 60'000 % 60, ms_of_day / 1000 % 60,
                     ms_of_day % 1000);
}

}  // namespace freshet
