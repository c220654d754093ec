#pragma once
// The landing page `/`, an on-call overview: a summary line of counts that
// link to their rows, then every target worst first (revoked, invalid,
// Must-Staple without staple, failed, absent, unknown, good), each group
// ordered by the margin to nextUpdate, smallest first, with times relative
// to now. Plain HTML and one inline stylesheet: no script, no external
// resource, so it works offline and under the strict
// Content-Security-Policy of LandingPageCsp(). Every text is HTML-escaped.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ocsp_staple_exporter/scheduler/result_store.h"
#include "ocsp_staple_exporter/stapler/engine.h"

namespace ose {

/// Row groups of the target table, worst first; the summary counts them.
enum class RowGroup {
  kRevoked,            ///< a verified revoked response, or revoked in a CRL
  kInvalid,            ///< a response (or CRL) that failed verification or expired
  kMustStapleMissing,  ///< TLS: Must-Staple certificate served without a staple
  kFailed,             ///< the probe could not reach its server or get an answer
  kAbsent,             ///< no response (no staple, no staple file, no CRL)
  kUnknown,            ///< the responder does not know the certificate
  kGood,
  kPending,            ///< not probed yet
};
/// Anchor ids and words of the groups ("revoked", "must-staple", ...).
inline constexpr std::string_view kRowGroupIds[] = {
    "revoked", "invalid", "must-staple", "failed", "absent", "unknown", "good", "pending"};
inline constexpr std::string_view kRowGroupNames[] = {
    "revoked", "invalid", "Must-Staple without staple", "failed", "absent", "unknown", "good",
    "pending"};

/// The group of a target as it reads at Unix time `now` (VerdictAt and
/// CrlVerdictAt: a staple past its validity is invalid now).
RowGroup GroupOf(const TargetSnapshot& target, int64_t now);

/// `seconds` (>= 0) as on-call engineers say it: "45 s", "12 min",
/// "6 h 12 min", "2 d 3 h".
std::string HumanDuration(int64_t seconds);

/// The page for `targets` and the stapling engine's `stapled` certificates
/// at Unix time `now`. Times of a response whose signature did not verify
/// are not shown.
std::string LandingPage(const std::vector<TargetSnapshot>& targets,
                        const std::vector<StaplerCertState>& stapled, int64_t now,
                        std::string_view telemetry_path = "/metrics");

/// The Content-Security-Policy the page is served with: nothing may load or
/// run but its own stylesheet (by SHA-256 hash) and the /probe form.
const std::string& LandingPageCsp();

/// Escapes text for HTML element content and attribute values; invalid
/// UTF-8 is replaced with U+FFFD.
std::string HtmlEscape(std::string_view s);

}  // namespace ose
