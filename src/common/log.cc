#include "ocsp_staple_exporter/common/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <cstdio>

#include "ocsp_staple_exporter/common/text.h"

namespace ose::log {
namespace {

std::atomic<Format> g_format{Format::kLogfmt};

// JSON string escaping (also logfmt's quoting), with invalid UTF-8 from
// the network replaced by U+FFFD.
void AppendJsonString(std::string& out, std::string_view v) { out += JsonQuote(v); }

}  // namespace

std::string LogfmtValue(std::string_view v) {
  bool quote = v.empty();
  for (unsigned char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) {
      quote = true;
      break;
    }
  }
  if (!quote) return std::string(v);
  std::string out;
  AppendJsonString(out, v);  // logfmt quoting follows the same escapes
  return out;
}

std::string FormatBody(std::string_view msg, const std::vector<Field>& fields) {
  std::string out;
  if (g_format.load() == Format::kJson) {
    out += "\"msg\":";
    AppendJsonString(out, msg);
    for (const auto& [k, v] : fields) {
      out += ',';
      AppendJsonString(out, k);
      out += ':';
      AppendJsonString(out, v);
    }
  } else {
    out += "msg=";
    out += LogfmtValue(msg);
    for (const auto& [k, v] : fields) {
      out += ' ';
      out += k;
      out += '=';
      out += LogfmtValue(v);
    }
  }
  return out;
}

bool Setup(std::string_view level, Format format) {
  spdlog::level::level_enum lvl;
  if (level == "debug") {
    lvl = spdlog::level::debug;
  } else if (level == "info") {
    lvl = spdlog::level::info;
  } else if (level == "warn") {
    lvl = spdlog::level::warn;
  } else if (level == "error") {
    lvl = spdlog::level::err;
  } else {
    return false;
  }
  g_format = format;
  spdlog::drop("ocsp_staple_exporter");
  auto logger = spdlog::stderr_logger_mt("ocsp_staple_exporter");
  spdlog::set_default_logger(logger);
  // %l prints "warning"/"error"; logfmt consumers accept both spellings.
  if (format == Format::kJson) {
    spdlog::set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})",
                        spdlog::pattern_time_type::utc);
  } else {
    spdlog::set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v",
                        spdlog::pattern_time_type::utc);
  }
  spdlog::set_level(lvl);
  spdlog::flush_on(spdlog::level::info);
  return true;
}

void Log(spdlog::level::level_enum level, std::string_view msg,
         const std::vector<Field>& fields) {
  try {
    auto logger = spdlog::default_logger_raw();
    if (!logger->should_log(level)) return;
    logger->log(level, "{}", FormatBody(msg, fields));
  } catch (...) {
    // Logging never throws into the caller.
  }
}

}  // namespace ose::log
