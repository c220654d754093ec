#pragma once
// CRL revocation for leaves (`revocation = "crl" | "both"`): what the CRLs
// of a certificate's CRL Distribution Points say about it, RFC 5280 §6.3.
//
// Each URL's CRL is fetched once and shared by every certificate that names
// it, and fetched again at its half-life (at most a day later) however
// often it is looked up. A CRL is used only when authentic (VerifyCrl
// against the leaf's issuer, its Issuing Distribution Point naming the URL)
// and current (not past nextUpdate + skew).
//
// What is held is replaced only by something better: a failed refetch, an
// unauthentic CRL, or one older than the held one (lower cRLNumber or
// earlier thisUpdate: a rollback) keeps the held CRL and its verdicts until
// its own nextUpdate (+ skew); the failure is counted and retried with
// backoff (60 s doubling to an hour). A leaf once seen revoked in an
// authentic CRL for any reason but certificateHold stays revoked, with its
// reason and time, after that CRL expires and when a later one omits it
// (RFC 5280 §3.3, §5.3.1).
//
// Scope (§5.2.5, §6.3.3): a CRL whose Issuing Distribution Point says
// onlyContainsCACerts or onlyContainsAttributeCerts does not answer for a
// leaf (nor onlyContainsUserCerts for a CA certificate: CertKind); onlySomeReasons and a distribution point's reasons answer for
// those reasons only, and a leaf reads good only when its CRLs together
// cover every reason; indirect CRLs (indirectCRL, or a distribution point
// with cRLIssuer) read unavailable. The Freshest CRL extension names a delta
// CRL (§5.2.6), applied when it verifies, its base is not newer than the
// full CRL and its own number exceeds the full CRL's (§5.2.4): a delta entry
// revokes, and a delta removeFromCRL entry lifts a base certificateHold,
// never a final reason. Thread-safe; Check blocks while it fetches (a pool
// thread).

#include <cstdint>
#include <atomic>
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

/// HTTP validators of a CRL as fetched (RFC 9110 §8.8.2 Last-Modified,
/// §8.8.3 ETag), sent back on the next fetch of the same URL as
/// If-Modified-Since / If-None-Match. Values as the server sent them, at
/// most 256 bytes of printable ASCII (others are not kept).
struct CrlValidators {
  std::string etag;
  std::string last_modified;
  bool empty() const { return etag.empty() && last_modified.empty(); }
};

/// One answer to a CRL fetch.
struct CrlDownload {
  std::string body;           ///< the CRL as sent (DER or PEM); empty when not_modified
  bool not_modified = false;  ///< 304: the CRL the validators name is still current
  /// This answer's validators (a 304 without any keeps the request's).
  CrlValidators validators;
  uint64_t bytes = 0;  ///< body bytes received
};

/// Fetches a URL, blocking, conditionally when `since` holds validators.
/// Errors carry a probe_failure reason.
using CrlFetcher =
    std::function<Result<CrlDownload>(const std::string& url, const CrlValidators& since)>;

/// What a leaf's CRL Distribution Points say of one URL: the reasons its
/// distribution point covers (RFC 5280 §4.2.1.13), and whether it names a
/// cRLIssuer (an indirect CRL).
struct CrlDistributionPointScope {
  uint16_t reasons = kAllCrlReasons;
  bool indirect = false;
};

/// Fetch counters of one CRL URL: `ocsp_crl_fetches_total{url,result}` and
/// `ocsp_crl_fetch_bytes_total{url}`.
struct CrlFetchCounts {
  std::string url;
  uint64_t fetched = 0;  ///< a new CRL was taken
  uint64_t failed = 0;   ///< the fetch failed (network, HTTP, size)
  /// refused by `[fetch]`, or fetched but kept out: unauthentic or a rollback
  uint64_t refused = 0;
  uint64_t not_modified = 0;  ///< 304: the held CRL is still current
  uint64_t bytes = 0;         ///< body bytes received, every answer
};

/// What is looked up: a leaf, or a CA certificate of a chain
/// (`revocation_scope = "chain"`). A CRL whose Issuing Distribution Point
/// says onlyContainsCACerts answers for CA certificates only,
/// onlyContainsUserCerts for leaves only (RFC 5280 §5.2.5).
enum class CertKind { kLeaf, kCa };

class CrlStore {
 public:
  /// `fetch` is called for URLs not held (or past their refresh time).
  CrlStore(CrlFetcher fetch, VerifyOptions verify);

  /// The status of `leaf` (issued by `issuer`; both borrowed, non-null) from
  /// the CRLs of `urls` (its CRL Distribution Points, in order; only
  /// http:// and https:// ones are fetched) that are authentic, current and
  /// in scope, at Unix time `now`. kRevoked as soon as one lists it (or an
  /// earlier authentic CRL did, for a final reason); kGood when they cover
  /// every reason; else kUnavailable.
  LeafCrlStatus Check(const std::vector<std::string>& urls, X509* leaf, X509* issuer,
                      int64_t now, CertKind kind = CertKind::kLeaf);

  /// Replaces the verification options (a reload changed `[global] skew`):
  /// held CRLs are verified again with them on their next lookup.
  void SetVerifyOptions(VerifyOptions verify);

  /// Bounds what is held: a URL no lookup asked for in `idle_seconds` is
  /// forgotten with its CRL, and past `max_bytes` (of CRLs as fetched) the
  /// least recently used are, never the most recent one. Applied by the
  /// next lookup. The memory of final revocations is kept.
  void SetLimits(int64_t max_bytes, int64_t idle_seconds);

  /// Fetches made so far (not answered from what is held); for tests.
  uint64_t fetches() const;

  /// Per-URL fetch counters, sorted by URL. Never blocks on a fetch.
  std::vector<CrlFetchCounts> FetchCounts() const;

 private:
  struct Held {
    std::shared_ptr<const std::string> bytes;  ///< the CRL in use, as fetched
    CrlValidators validators;                  ///< of `bytes`, sent on refetch
    /// The last refetch failed or was refused (with bytes: still held).
    std::optional<Error> error;
    int64_t refresh_at = 0;  ///< Unix seconds
    int failures = 0;        ///< consecutive failed or refused refetches
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
    std::atomic<uint64_t> fetched{0}, failed{0}, refused{0}, not_modified{0}, received{0};
    std::atomic<int64_t> last_used{0};  ///< Unix seconds of the last lookup
    std::atomic<size_t> bytes{0};       ///< of held.bytes
  };
  /// What Get found for one URL.
  struct Got {
    std::shared_ptr<const ParsedCrl> crl;  ///< null when nothing is held
    std::optional<Error> error;            ///< the last fetch's failure, if any
  };
  /// The CRL at `url` verified against `issuer` at `now`, fetched when not
  /// held or due.
  Got Get(const std::string& url, X509* issuer, int64_t now);
  /// Fetches `url` into `slot` (its mutex held), keeping what is held unless
  /// the new CRL is better.
  void Refresh(const std::string& url, Slot& slot, X509* issuer, const VerifyOptions& verify,
               uint64_t generation, int64_t now);
  /// The status from the distribution points alone, without the memory of
  /// earlier revocations.
  LeafCrlStatus CheckDistributionPoints(const std::vector<std::string>& urls, X509* leaf,
                                        X509* issuer, int64_t now, CertKind kind);
  std::shared_ptr<Slot> SlotOf(const std::string& url, int64_t now);
  void Prefetch(const std::vector<std::string>& urls,
                const std::map<std::string, CrlDistributionPointScope>& dps, X509* issuer,
                int64_t now);
  std::shared_ptr<const ParsedCrl> CurrentDelta(const ParsedCrl& base, X509* issuer, int64_t now,
                                                std::string* url);
  /// Forgets idle URLs and, past max_bytes_, the least recently used.
  void Sweep(int64_t now);

  CrlFetcher fetch_;
  mutable std::mutex mu_;
  VerifyOptions verify_;     ///< guarded by mu_
  uint64_t generation_ = 0;  ///< bumped by SetVerifyOptions; guarded by mu_
  std::map<std::string, std::shared_ptr<Slot>> slots_;
  uint64_t fetches_ = 0;
  int64_t max_bytes_ = int64_t{512} << 20;  ///< guarded by mu_
  int64_t idle_seconds_ = INT64_MAX;        ///< guarded by mu_; SetLimits sets it
  int64_t swept_at_ = 0;                    ///< guarded by mu_
  /// Final revocations seen, by issuer and serial; guarded by mu_.
  std::map<std::string, LeafCrlStatus> revoked_;
};

}  // namespace ose
