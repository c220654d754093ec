#pragma once
// Wall-clock helpers. Logic that must be testable takes "now" as a
// parameter instead of calling these.

#include <cstdint>
#include <optional>
#include <string>

namespace ose {

/// The current Unix time in seconds (system clock).
int64_t NowUnix();

/// Formats Unix seconds in UTC with strftime `format`, e.g.
/// "%Y-%m-%dT%H:%M:%SZ" (RFC 3339, the default).
std::string FormatUnixTime(int64_t t, const char* format = "%Y-%m-%dT%H:%M:%SZ");

/// FormatUnixTime of `t` (RFC 3339), or "none" when absent; for logs.
std::string FormatUnixTimeOrNone(std::optional<int64_t> t);

}  // namespace ose
