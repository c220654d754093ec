#pragma once
// Pushing the stapling engine's fatal events straight to Alertmanager's v2
// API (POST /api/v2/alerts), so a revoked `must` certificate pages without
// waiting for a rule evaluation.

#include <chrono>
#include <cstdint>
#include <string>

#include "ocsp_staple_exporter/common/result.h"
#include "ocsp_staple_exporter/stapler/engine.h"

namespace ose {

/// The JSON body for one certificate: a list with one alert named
/// OCSPStaplerFatal (labels alertname, certificate, severity=critical,
/// mode, status; annotations summary and description), startsAt `since`,
/// and endsAt `now` when `resolved` (Unix seconds, RFC 3339 in the JSON).
std::string FatalAlertJson(const StaplerCertState& state, int64_t since, int64_t now,
                           bool resolved);

/// POSTs `json` to `base_url` + "/api/v2/alerts" with libcurl. Error
/// reason "alertmanager" with the HTTP status or transport error.
Result<Ok> PostAlerts(const std::string& base_url, const std::string& json,
                      std::chrono::milliseconds timeout);

}  // namespace ose
