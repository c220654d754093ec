#pragma once
// The outcome of one probe: plain data, shared with the result store and
// read by the metrics collector and the landing page. Sections only some
// targets have (HTTP exchange, CRL, leaf CRL status) are Boxed: a result
// held for each of 50,000 targets should cost what its target uses.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/common/boxed.h"
#include "ocsp_staple_exporter/common/shared.h"
#include "ocsp_staple_exporter/crl/crl.h"
#include "ocsp_staple_exporter/crl/crl_store.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"
#include "ocsp_staple_exporter/ocsp/response.h"
#include "ocsp_staple_exporter/probe/starttls.h"

namespace ose {

/// Bounded reasons a probe failed to reach its server or get an answer;
/// label values of `ocsp_probe_failures_total{reason}`.
namespace probe_failure {
inline constexpr std::string_view kResolve = "resolve";
inline constexpr std::string_view kConnect = "connect";
inline constexpr std::string_view kTimeout = "timeout";
inline constexpr std::string_view kTlsHandshake = "tls_handshake";
inline constexpr std::string_view kNoCertificate = "no_certificate";
inline constexpr std::string_view kHttp = "http";                  ///< other HTTP transport error
inline constexpr std::string_view kHttpStatus = "http_status";     ///< not 200 OK
inline constexpr std::string_view kContentType = "content_type";   ///< not application/ocsp-response
inline constexpr std::string_view kBodyTooLarge = "body_too_large";  ///< over 1 MiB
/// Refused by a policy: `[probe]` for /probe (TlsProbeRequest::admit; never
/// counted there), `[fetch]` for a CRL distribution point (a CRL-only
/// [[responder]] fails with it).
inline constexpr std::string_view kForbidden = "forbidden";
/// STARTTLS (`starttls`): the server does not offer the upgrade or refuses
/// it (greeting, EHLO without STARTTLS, "454", "-ERR", resultCode ≠ 0, 'N').
inline constexpr std::string_view kStartTlsRefused = "starttls_refused";
/// STARTTLS: an answer that breaks the protocol, exceeds a bound (line
/// length, lines, bytes) or brings bytes after the go-ahead.
inline constexpr std::string_view kStartTlsProtocol = "starttls_protocol";
}  // namespace probe_failure

/// The reasons only a target with `starttls` can fail with: its counters
/// start at zero beside the first kTlsFailureReasons.
inline constexpr std::string_view kStartTlsFailureReasons[] = {probe_failure::kStartTlsRefused,
                                                               probe_failure::kStartTlsProtocol};

/// Every probe_failure reason, for counters that start at zero. A TLS
/// target can fail for the first kTlsFailureReasons of them only.
inline constexpr std::string_view kProbeFailureReasons[] = {
    probe_failure::kResolve, probe_failure::kConnect, probe_failure::kTimeout,
    probe_failure::kTlsHandshake, probe_failure::kNoCertificate, probe_failure::kHttp,
    probe_failure::kHttpStatus,   probe_failure::kContentType,   probe_failure::kBodyTooLarge};
inline constexpr size_t kTlsFailureReasons = 5;

/// A responder's Cache-Control max-age above this is clamped (7 days).
inline constexpr int64_t kMaxAgeCapSeconds = 7 * 86400;

struct ProbeResult {
  /// True when the server was reached and answered (for TLS: the handshake
  /// completed); `ocsp_probe_success`.
  bool success = false;
  std::string failure_reason;  ///< one of probe_failure::*, when !success
  std::string detail;          ///< human-readable cause, for logs and the landing page
  /// The protocol upgraded with STARTTLS before the handshake (kNone: TLS
  /// from the first byte); its failure counters start at zero too.
  StartTls starttls = StartTls::kNone;
  double duration_seconds = 0;
  int64_t finished_at = 0;  ///< Unix seconds

  // Facts below are meaningful only when success is true.
  bool staple_present = false;  ///< the handshake carried a CertificateStatus
  bool must_staple = false;     ///< leaf has TLS Feature status_request (RFC 7633)
  /// The leaf names an OCSP responder (AIA id-ad-ocsp) /
  /// a CRL Distribution Point (`ocsp_cert_ocsp_url_present`,
  /// `ocsp_cert_crl_url_present`).
  bool ocsp_url_present = false;
  bool crl_url_present = false;
  std::optional<int64_t> not_after;  ///< leaf notAfter, Unix seconds
  std::string tls_version;           ///< e.g. "TLSv1.3"
  /// Leaf subject (RFC 2253) and serial, issuer, fingerprint
  /// (`ocsp_cert_info`). TLS targets: shared with the verification cache
  /// entry of the handshake input (see Shared), as are chain_error and
  /// verdict while it reads the same as there.
  Shared<std::string> subject;
  Shared<CertIdentity> identity;
  /// TLS targets: the served chain validates to a trust anchor (the system
  /// store, or a certificate of ca_file) at the time of the probe
  /// (`ocsp_tls_chain_verified`); chain_error says why not.
  bool chain_verified = false;
  Shared<std::string> chain_error;
  /// TLS targets: the leaf matches the SNI name (RFC 6125), or the IP
  /// address probed when no name was sent (`ocsp_tls_name_matched`).
  bool name_matched = false;
  /// The verified staple; state kAbsent when there was none (or when the
  /// probe failed).
  Shared<OcspVerdict> verdict;

  /// `[[responder]]` only: the HTTP exchange that produced the answer (or
  /// the last one tried).
  struct Http {
    std::string url;
    std::string method;          ///< "GET" or "POST"
    long status = 0;             ///< HTTP status code; 0 without a response
    double request_seconds = 0;  ///< that request alone
    std::optional<int64_t> max_age;  ///< Cache-Control max-age, seconds
  };
  Boxed<Http> http;

  /// `[[crl]]` only: the CRL fetched (or read) and its verdict.
  struct Crl {
    CrlVerdict verdict;         ///< as verified at finished_at (see CrlVerdictAt)
    int64_t size_bytes = 0;     ///< of the CRL as fetched
    double fetch_seconds = 0;   ///< the transfer (or file read) alone
    /// A URL's conditional refetch was answered 304: the verdict is the one
    /// of the CRL fetched before, which still stands.
    bool not_modified = false;
    uint64_t bytes_received = 0;  ///< body bytes of this fetch (0 for a 304 or a file)
  };
  Boxed<Crl> crl;
  /// `revocation = "crl" | "both"`: the leaf's status from the CRLs of its
  /// CRL Distribution Points (`ocsp_cert_crl_*`); unset for "ocsp".
  Boxed<LeafCrlStatus> leaf_crl;
  /// `[[responder]]` with `revocation = "crl"`: no OCSP request was sent,
  /// so the result has no OCSP verdict to export.
  bool ocsp_skipped = false;
  /// Transient, TLS targets with `revocation = "crl" | "both"`: the served
  /// leaves (one per distinct leaf seen over the handshakes and addresses
  /// of the probe) and their issuers (from the served chain or ca_file;
  /// null when neither holds it), whose CRL status is still to be looked
  /// up. Cleared once looked up, so the result store never holds
  /// certificates.
  struct CrlSubject {
    X509Ptr leaf;
    X509Ptr issuer;
    std::vector<std::string> urls;  ///< the leaf's CRL Distribution Points
  };
  /// Transient, TLS targets with `revocation_scope = "chain"`: the
  /// certificates above the leaf, position 1 its issuer, up to (not
  /// including) the trust anchor, each with its own issuer (null when
  /// neither the served chain, ca_file nor the system store holds it).
  /// Cleared once looked up (ChainRevocation), like crl_subjects.
  struct ChainSubject {
    int position = 0;
    X509Ptr cert;
    X509Ptr issuer;
    std::vector<std::string> crl_urls;   ///< its CRL Distribution Points
    std::vector<std::string> ocsp_urls;  ///< its AIA OCSP URLs
  };
  /// `revocation_scope = "chain"`: each certificate above the leaf
  /// (`ocsp_chain_cert_*{position}`), looked up as the target's
  /// `revocation` says. Empty with scope "leaf", or when the probe failed.
  struct ChainCert {
    int position = 0;  ///< 1 = the leaf's issuer, upward
    std::string subject, issuer;  ///< RFC 2253 names
    std::string serial;           ///< decimal, as ocsp_cert_info's
    std::optional<int64_t> not_after;  ///< Unix seconds
    LeafCrlState state = LeafCrlState::kUnavailable;  ///< good | revoked | unavailable
    std::optional<int64_t> revoked_at;  ///< Unix seconds, when revoked
    std::string reason;                 ///< RevocationReasonName, when revoked
    std::string source;                 ///< "crl" or "ocsp": what decided; "" when unavailable
    std::string detail;                 ///< why unavailable
  };
  /// TLS targets: the address the handshake reached, "IP:port" (IPv6 in
  /// brackets); empty when no connection was made (or for the summary of
  /// `addresses = "all"`).
  std::string address;
  /// TLS targets with `handshakes` > 1 (RFC 6066 §8 asks nothing of a
  /// server across connections: each handshake is checked on its own).
  struct Handshakes {
    int requested = 1;  ///< `handshakes`
    int completed = 0;  ///< handshakes that completed (`ocsp_probe_handshakes`)
    int stapled = 0;    ///< of those, carrying a staple (`ocsp_staple_present_handshakes`)
  };
  /// TLS targets with `addresses = "all"`: this result summarises
  /// per_address (see CombineAddresses in fleet.h), which holds one result
  /// per resolved address in the resolver's order (empty when resolution
  /// failed or was refused).
  bool every_address = false;

  /// What only some results have: one pointer (empty) for a plain TLS
  /// result, which is most of a fleet (~170 bytes a target less).
  struct Extras {
    /// `[[file]]` only: modification time of the staple file, Unix seconds.
    std::optional<int64_t> file_modified;
    /// Earliest Unix time the next probe may run (a responder's max-age).
    std::optional<int64_t> not_before;
    /// Unix time after which this result is stale and the target should be
    /// probed again, if that comes before its interval (a CRL's half-life).
    std::optional<int64_t> refresh_at;
    std::vector<std::shared_ptr<const CrlSubject>> crl_subjects;      ///< see CrlSubject
    std::vector<std::shared_ptr<const ChainSubject>> chain_subjects;  ///< see ChainSubject
    std::vector<ChainCert> chain;                                     ///< see ChainCert
    std::optional<Handshakes> handshakes;                             ///< see Handshakes
    std::vector<ProbeResult> per_address;                             ///< see every_address
    /// `[[responder]]` and the stapling engine: the DER body of the answer,
    /// when one came (whatever its verdict).
    std::shared_ptr<const std::vector<uint8_t>> der;
  };
  /// The extras, read: empty ones (a static instance) when there are none.
  const Extras& extras() const;
  /// The extras, to write: made (empty) when there are none.
  Extras& extras_mut() {
    if (!extras_) extras_.emplace();
    return *extras_;
  }
  /// The extras to write if there are any, else null (nothing made).
  Extras* extras_if() { return extras_ ? &*extras_ : nullptr; }
  Boxed<Extras> extras_;  ///< through extras() / extras_mut()
};

/// Until when a responder's Cache-Control max-age (RFC 5019 §6.2) defers
/// the next probe of a `[[responder]]` target: r.finished_at + max-age
/// (clamped to kMaxAgeCapSeconds), but never past the answer's half-life
/// (thisUpdate + (validity end - thisUpdate) / 2, the validity end being
/// nextUpdate, or thisUpdate + default validity): max-age only defers
/// queries that would come earlier than that. nullopt, so that nothing
/// is deferred, when the exchange failed, was not HTTP 200, carried no
/// positive max-age, or its answer is neither good, revoked nor unknown.
std::optional<int64_t> MaxAgeDeferral(const ProbeResult& r);

/// The rule MaxAgeDeferral and CRL fetches share: `from` + `max_age`
/// (clamped to kMaxAgeCapSeconds), never past `limit` when set; nullopt when
/// that is not after `from` (nothing to defer).
std::optional<int64_t> CappedMaxAge(int64_t from, int64_t max_age,
                                    std::optional<int64_t> limit);

/// One word for a result, used for state-change logs: "good", "revoked",
/// "unknown", "absent", "invalid:<reason>", or "failed:<reason>"; for a
/// CRL "crl_valid", "crl_expired", "crl_absent" or "crl_invalid:<reason>".
/// A leaf's CRL status other than good is appended ("good+crl_revoked",
/// "absent+crl_unavailable"); without OCSP (`revocation = "crl"` on a
/// responder) it is the word: "crl_good", "crl_revoked", "crl_unavailable".
std::string StateLabel(const ProbeResult& r);

}  // namespace ose
