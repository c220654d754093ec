#pragma once
// Wall-clock helpers. Logic that must be testable takes "now" as a
// parameter instead of calling these.

#include <cstdint>
#include <climits>
#include <optional>
#include <string>

namespace ose {

/// a + b for Unix seconds and durations, clamped to the int64_t range
/// instead of overflowing (a nextUpdate of 9999 plus a skew, a duration of
/// years added to now).
constexpr int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) return b > 0 ? INT64_MAX : INT64_MIN;
  return out;
}

/// The current Unix time in seconds (system clock).
int64_t NowUnix();

/// Formats Unix seconds in UTC with strftime `format`, e.g.
/// "%Y-%m-%dT%H:%M:%SZ" (RFC 3339, the default).
std::string FormatUnixTime(int64_t t, const char* format = "%Y-%m-%dT%H:%M:%SZ");

/// FormatUnixTime of `t` (RFC 3339), or "none" when absent; for logs.
std::string FormatUnixTimeOrNone(std::optional<int64_t> t);

}  // namespace ose
