#pragma once
// CRL revocation for leaves (`revocation = "crl" | "both"`): what the CRLs
// of a certificate's CRL Distribution Points say about it, RFC 5280 §6.3.
//
// Each URL's CRL is fetched once and shared by every certificate that names
// it, until its half-life (as `[[crl]]` targets); a failed fetch is retried
// after 60 s, not per lookup. A CRL is used only when authentic (VerifyCrl
// against the leaf's issuer, its Issuing Distribution Point naming the URL)
// and current (not expired). Its Freshest CRL extension names a delta CRL
// (§5.2.6), which is fetched the same way and applied when it verifies and
// its base CRL number is not newer than the full CRL's (§5.2.4): a delta
// entry revokes, and a delta removeFromCRL entry lifts the base's
// revocation. Thread-safe; Check blocks while it fetches (a pool thread).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ocsp_staple_exporter/common/result.h"
#include "ocsp_staple_exporter/crl/crl.h"

namespace ose {

/// The state set exported as `ocsp_cert_crl_status{status}`.
enum class LeafCrlState { kGood, kRevoked, kUnavailable };
inline constexpr std::string_view kLeafCrlStateNames[] = {"good", "revoked", "unavailable"};

struct LeafCrlStatus {
  LeafCrlState state = LeafCrlState::kUnavailable;
  std::optional<int64_t> revoked_at;  ///< Unix seconds, when revoked
  std::string reason;                 ///< RevocationReasonName, when revoked
  std::string url;                    ///< the CRL that decided (empty: none)
  bool from_delta = false;            ///< the delta CRL decided
  std::string detail;                 ///< why unavailable, for logs
  /// When unavailable because the last fetch failed: its probe_failure
  /// reason (resolve, connect, timeout, http, http_status, body_too_large).
  std::string failure_reason;
};

/// Fetches a URL's body, blocking. Errors carry a probe_failure reason.
using CrlFetcher = std::function<Result<std::string>(const std::string& url)>;

/// The http:// and https:// URIs of a CRL's Freshest CRL extension (§5.2.6).
std::vector<std::string> FreshestCrlUrls(X509_CRL* crl);

class CrlStore {
 public:
  /// `fetch` is called for URLs not held (or past their refresh time).
  CrlStore(CrlFetcher fetch, VerifyOptions verify);

  /// The status of `leaf` (issued by `issuer`; both borrowed, non-null) from
  /// the first of `urls` (its CRL Distribution Points, in order; only
  /// http:// and https:// ones are fetched) whose CRL is authentic and
  /// current, at Unix time `now`. kUnavailable when none is.
  LeafCrlStatus Check(const std::vector<std::string>& urls, X509* leaf, X509* issuer,
                      int64_t now);

  /// Replaces the verification options (a reload changed `[global] skew`):
  /// held CRLs are verified again with them on their next lookup.
  void SetVerifyOptions(VerifyOptions verify);

  /// Fetches made so far (not answered from what is held); for tests.
  uint64_t fetches() const;

 private:
  struct Held {
    std::shared_ptr<const std::string> bytes;  ///< as fetched
    std::optional<Error> error;                ///< the last fetch failed
    int64_t refresh_at = 0;                    ///< Unix seconds
    /// The last verification of `bytes` and the issuer it used. Reused while
    /// it read valid or expired (only the clock can change those, and
    /// CrlVerdictAt applies it); any other verdict is checked again.
    std::shared_ptr<const ParsedCrl> verified;
    X509Ptr verified_with;
    uint64_t verified_generation = 0;  ///< generation_ of the options used
  };
  struct Slot {
    std::mutex mu;  ///< one fetch per URL at a time; waiters share its result
    Held held;
  };
  /// The CRL at `url` verified against `issuer` at `now`, fetched when not
  /// held or stale; the verdict as it reads at `now`. Null with `error` set
  /// when the fetch failed.
  std::shared_ptr<const ParsedCrl> Get(const std::string& url, X509* issuer, int64_t now,
                                       std::optional<Error>* error);
  /// Holds `url`'s CRL until at least `until`.
  void HoldUntil(const std::string& url, int64_t until);
  std::shared_ptr<Slot> SlotOf(const std::string& url);

  CrlFetcher fetch_;
  mutable std::mutex mu_;
  VerifyOptions verify_;     ///< guarded by mu_
  uint64_t generation_ = 0;  ///< bumped by SetVerifyOptions; guarded by mu_
  std::map<std::string, std::shared_ptr<Slot>> slots_;
  uint64_t fetches_ = 0;
};

}  // namespace ose
