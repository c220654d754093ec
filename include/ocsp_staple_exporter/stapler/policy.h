#pragma once
// The stapling engine's decisions as pure functions of their inputs: what a
// mode staples, whether the held response may be served, when the engine is
// in its fail-closed ("fatal") state, and when to fetch next. No clock, no
// I/O: tests move time freely.

#include <cstdint>
#include <optional>
#include <string_view>

#include "ocsp_staple_exporter/ocsp/response.h"
#include "ocsp_staple_exporter/probe/probe_result.h"

namespace ose {

/// NATS-style stapling modes (`mode` of `[[stapler.certificate]]`).
enum class StaplerMode {
  kAuto,    ///< staple certificates with Must-Staple only
  kMust,    ///< as auto; revocation or losing a valid staple is fatal
  kAlways,  ///< staple every certificate; fatal like must
  kNever,   ///< fetch nothing; warn when the certificate has Must-Staple
};

inline constexpr std::string_view kStaplerModeNames[] = {"auto", "must", "always", "never"};
std::string_view ModeName(StaplerMode m);

/// A staple is withdrawn this long before its nextUpdate: never served
/// stale, and HAProxy stops stapling 300 s before nextUpdate anyway.
inline constexpr int64_t kWithdrawBeforeSeconds = 300;

/// What the engine holds for a certificate.
struct HeldStaple {
  ResponseState state = ResponseState::kAbsent;  ///< of the held response
  std::optional<int64_t> valid_until;            ///< nextUpdate (or default validity)
  /// The certificate's CRL lists it as revoked (`revocation = "crl" |
  /// "both"`): a good staple is not served, and must/always are fatal.
  bool crl_revoked = false;
};

/// Whether `held` may be served at `now`: good or revoked, and now before
/// valid_until - kWithdrawBeforeSeconds.
bool Servable(const HeldStaple& held, int64_t now);

struct StapleDecision {
  bool staple = false;  ///< the mode wants this certificate stapled (fetch it)
  bool serve = false;   ///< publish the held response now
  bool fatal = false;   ///< the mode's fail-closed condition holds
  bool warn = false;    ///< `never` on a Must-Staple certificate
};

/// Whether `mode` staples a certificate at all: always, or auto/must with
/// Must-Staple. The engine fetches only for these.
bool ModeStaples(StaplerMode mode, bool must_staple);

/// The staple decision. `attempted`: at least one fetch has finished (or a
/// cache entry was loaded), so a missing staple is a loss, not a start-up.
///  - staple: always, or auto/must with Must-Staple; never: no;
///  - serve: staple, the held response is good or revoked, and now is
///    before valid_until - kWithdrawBeforeSeconds; never a good one the
///    certificate's CRL contradicts (crl_revoked);
///  - fatal: must/always, staple, attempted, and the held response is
///    revoked, the CRL lists the certificate, or nothing can be served.
StapleDecision Decide(StaplerMode mode, bool must_staple, const HeldStaple& held, int64_t now,
                      bool attempted);

/// Whether a verified answer may replace the held one (the engine's
/// monotonic freshness rule).
enum class ReplaceVerdict {
  kAccept,
  kOlder,            ///< its thisUpdate is older than what the engine has held
  kAfterRevocation,  ///< good after a revocation that is not certificateHold
};

/// The replacement rule for a verified `incoming` answer (good or revoked)
/// against the `held` one and `newest_this_update`, the latest thisUpdate
/// (Unix seconds) of any answer the engine accepted for this certificate
/// (0 when none):
///  - a held revocation (RFC 5280 §5.3.1: permanent) is replaced by a newer
///    or equal revocation only; by `good` only when its reason is
///    certificate_hold and the good answer's thisUpdate is later;
///  - an authentic revocation other than certificate_hold replaces a good
///    staple whatever its thisUpdate: revocation is never hidden;
///  - otherwise an answer whose thisUpdate is older than
///    `newest_this_update` is refused (a replayed or cached older answer).
ReplaceVerdict MayReplace(const OcspVerdict& held, int64_t newest_this_update,
                          const OcspVerdict& incoming);

/// Refresh settings (`[stapler]` min_refresh / max_refresh).
struct RefreshPolicy {
  int64_t min_refresh = 300;    ///< seconds from now
  int64_t max_refresh = 3600;   ///< seconds from now
  double jitter = 0.10;         ///< +-fraction of the delay
  int64_t backoff_base = 60;    ///< first retry after a failure
  int64_t backoff_cap = 3600;
};

/// When to fetch after a verified answer: the midpoint between thisUpdate
/// and the effective end of validity (the earliest of nextUpdate, the
/// responder certificate's notAfter and the leaf's notAfter), clamped to
/// [now + min_refresh, now + max_refresh], then scaled by (1 + `jitter01`
/// mapped to [-jitter, +jitter]). A responder's `max_age` (Cache-Control,
/// seconds; clamped to kMaxAgeCapSeconds) may defer the fetch, but never
/// past the withdrawal point (valid_until - kWithdrawBeforeSeconds) minus
/// one retry interval (backoff_base). `jitter01` is a uniform sample in
/// [0, 1).
int64_t NextRefresh(const RefreshPolicy& p, int64_t now, int64_t this_update, int64_t valid_until,
                    std::optional<int64_t> signer_not_after, std::optional<int64_t> leaf_not_after,
                    std::optional<int64_t> max_age, double jitter01);

/// When to retry after `failures` failed fetches in a row (>= 1):
/// backoff_base * 2^(failures-1), capped at backoff_cap.
int64_t RetryAfterFailure(const RefreshPolicy& p, int64_t now, int failures);

}  // namespace ose
