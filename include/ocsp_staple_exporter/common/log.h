#pragma once
// Structured logging on top of spdlog: every line is logfmt
// (`ts=... level=info msg="..." key=value`) or one JSON object, chosen once
// at start-up. Logging never throws into the caller.

#include <spdlog/spdlog.h>

#include <vector>
#include <string>
#include <string_view>
#include <utility>

namespace ose::log {

enum class Format { kLogfmt, kJson };

using Field = std::pair<std::string_view, std::string>;

/// Configures the default spdlog logger (stderr, UTC timestamps) with the
/// given level ("debug", "info", "warn", "error") and format. Returns false
/// and leaves the logger unchanged when `level` is not one of those.
bool Setup(std::string_view level, Format format);

/// Formats `msg` and `fields` as the body of one line in the configured
/// format (without ts/level, which the pattern adds). Exposed for tests.
std::string FormatBody(std::string_view msg, const std::vector<Field>& fields);

/// Escapes and quotes a value for logfmt when it holds spaces, quotes, '='
/// or control characters; returns it unchanged otherwise.
std::string LogfmtValue(std::string_view v);

void Log(spdlog::level::level_enum level, std::string_view msg,
         const std::vector<Field>& fields = {});

inline void Debug(std::string_view msg, const std::vector<Field>& f = {}) {
  Log(spdlog::level::debug, msg, f);
}
inline void Info(std::string_view msg, const std::vector<Field>& f = {}) {
  Log(spdlog::level::info, msg, f);
}
inline void Warn(std::string_view msg, const std::vector<Field>& f = {}) {
  Log(spdlog::level::warn, msg, f);
}
inline void Error(std::string_view msg, const std::vector<Field>& f = {}) {
  Log(spdlog::level::err, msg, f);
}

}  // namespace ose::log
