#pragma once
// Durations in the Prometheus notation used by the config file.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ose {

using Duration = std::chrono::milliseconds;

/// Parses a Prometheus-style duration: one or more <integer><unit> groups,
/// units from largest to smallest among y (365d), w, d, h, m, s, ms, e.g.
/// "30s", "5m", "1h30m", "250ms". Returns nullopt for anything else,
/// including "", "0.5s", "-1s", "10" (no unit), repeated or unordered units,
/// and values that overflow.
std::optional<Duration> ParseDuration(std::string_view text);

/// Formats a duration in the same notation ("1h30m", "250ms", "0s").
std::string FormatDuration(Duration d);

}  // namespace ose
