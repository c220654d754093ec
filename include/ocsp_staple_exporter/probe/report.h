#pragma once
// The human-readable report of `ocsp_staple_exporter probe HOST:PORT`, with
// monitoring-plugin exit codes.

#include <cstdint>
#include <string>

#include "ocsp_staple_exporter/probe/probe_result.h"

namespace ose {

/// Exit codes of the probe command (Nagios plugin conventions).
enum class ProbeExit { kOk = 0, kWarning = 1, kCritical = 2, kUnknown = 3 };

struct ProbeReport {
  ProbeExit exit = ProbeExit::kUnknown;
  std::string text;  ///< multi-line report, first line "<LEVEL>: <summary>"
};

/// Judges one result at Unix time `now`:
///  - UNKNOWN: the server could not be reached or the handshake failed;
///  - CRITICAL: revoked, invalid (incl. expired), or a Must-Staple
///    certificate served without a staple;
///  - WARNING: no staple (no Must-Staple), status unknown, or less than
///    `warning_margin_seconds` left before nextUpdate;
///  - OK otherwise.
ProbeReport BuildProbeReport(const std::string& address, const ProbeResult& r, int64_t now,
                             int64_t warning_margin_seconds);

}  // namespace ose
