#pragma once
// Parsing and verification of OCSP responses (RFC 6960).
//
// VerifyOcspResponse is a pure function of (DER bytes, certificate, issuer,
// options, now): it performs no I/O and reads no clock, so tests can move
// time freely. It never throws; a response that fails any check is
// ResponseState::kInvalid with a bounded reason, never kGood.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ocsp_staple_exporter/common/ossl_ptr.h"
#include "ocsp_staple_exporter/common/shared.h"

namespace ose {

/// The state set exported as `ocsp_response_status{status}`: exactly one
/// holds for a target.
enum class ResponseState {
  kGood,     ///< verified, certStatus good (RFC 6960 §2.2)
  kRevoked,  ///< verified, certStatus revoked
  kUnknown,  ///< verified, certStatus unknown
  kAbsent,   ///< no response at all (e.g. the server stapled nothing)
  kInvalid,  ///< a response that failed a check; see invalid_reason
};

/// All state names, in the order they are exported.
inline constexpr std::string_view kResponseStateNames[] = {"good", "revoked", "unknown",
                                                           "absent", "invalid"};

/// The label value for a state ("good", "revoked", ...).
std::string_view StateName(ResponseState s);

/// RFC 5280 §5.3.1 CRLReason as exported in
/// `ocsp_response_revocation_reason{reason}` (k6's names): "unspecified",
/// "key_compromise", ..., "aa_compromise". Unknown codes and an absent
/// reason map to "unspecified".
std::string_view RevocationReasonName(int crl_reason);

/// Bounded reasons a response is kInvalid for. Each is a label value of
/// `ocsp_probe_failures_total{reason}` as well.
namespace invalid_reason {
inline constexpr std::string_view kMalformed = "malformed";  ///< not DER OCSPResponse
inline constexpr std::string_view kMalformedRequest = "malformed_request";
inline constexpr std::string_view kInternalError = "internal_error";
inline constexpr std::string_view kTryLater = "try_later";
inline constexpr std::string_view kSigRequired = "sig_required";
inline constexpr std::string_view kUnauthorized = "unauthorized";
inline constexpr std::string_view kNotBasic = "not_basic";  ///< not id-pkix-ocsp-basic
inline constexpr std::string_view kCertIdMismatch = "cert_id_mismatch";
inline constexpr std::string_view kSignerNotFound = "signer_not_found";
inline constexpr std::string_view kUnauthorizedSigner = "unauthorized_signer";
inline constexpr std::string_view kSignerExpired = "signer_expired";
inline constexpr std::string_view kSignature = "signature";
inline constexpr std::string_view kNotYetValid = "not_yet_valid";
inline constexpr std::string_view kExpired = "expired";
inline constexpr std::string_view kIssuerUnknown = "issuer_unknown";
inline constexpr std::string_view kNonceMismatch = "nonce_mismatch";  ///< RFC 8954
inline constexpr std::string_view kUnreadable = "unreadable";  ///< a staple file we cannot read
/// A critical extension (response or SingleResponse) this verifier does
/// not understand (RFC 5280 §4.2).
inline constexpr std::string_view kUnsupportedCriticalExtension =
    "unsupported_critical_extension";
/// An MD5 (or MD4/MD2) CertID or signature (RFC 6151).
inline constexpr std::string_view kWeakAlgorithm = "weak_algorithm";
/// A staple file path that is a folder, FIFO, device or socket.
inline constexpr std::string_view kNotRegularFile = "not_regular_file";
}  // namespace invalid_reason

/// Options of the verification.
struct VerifyOptions {
  int64_t skew_seconds = 300;  ///< tolerance on thisUpdate / nextUpdate / signer validity
  /// Freshness window after thisUpdate when nextUpdate is absent.
  int64_t default_validity_seconds = 3600;
};

/// What a response says, and whether it may be believed. Times are Unix
/// seconds and are filled in whenever the response could be parsed that
/// far, even when it is kInvalid (an expired response still shows its
/// nextUpdate).
struct OcspVerdict {
  ResponseState state = ResponseState::kAbsent;
  std::string invalid_reason;  ///< one of invalid_reason::*, when kInvalid
  std::string detail;          ///< human-readable explanation for logs
  std::optional<int64_t> this_update;
  std::optional<int64_t> next_update;  ///< nullopt when the response has none
  std::optional<int64_t> produced_at;
  /// Until when the response counts as fresh: nextUpdate, or without it
  /// thisUpdate + default_validity. Basis of the next_update margin.
  std::optional<int64_t> valid_until;
  std::optional<int64_t> revoked_at;            ///< when kRevoked
  std::optional<std::string> revocation_reason;  ///< when kRevoked
  bool delegated_signer = false;  ///< signed by a delegated responder certificate
  std::optional<int64_t> signer_not_after;  ///< the delegated responder certificate's notAfter
  /// signer_not_after + skew, for a response that verified with a delegated
  /// responder certificate: past it the response reads kInvalid
  /// (`signer_expired`, see VerdictAt).
  std::optional<int64_t> signer_fresh_until;
  /// The signature verified, so the times above are authentic even when the
  /// response is kInvalid for freshness (expired / not_yet_valid).
  bool signature_verified = false;
  /// valid_until + skew (Unix seconds): past it the response reads expired
  /// (see VerdictAt). Set whenever valid_until is.
  std::optional<int64_t> fresh_until;
  /// kRevoked only: the response is past its validity (nextUpdate + skew).
  /// Revocation is permanent, so it still reads revoked (RFC 5280 §5.3.1),
  /// but it is no longer fit to be stapled.
  bool expired = false;
};

/// Verifies a DER-encoded OCSPResponse for `cert` issued by `issuer` at Unix
/// time `now`, as RFC 6960 §3.2 and §4.2.2.2 require:
///  1. responseStatus is successful (§4.2.1), else kInvalid with the status
///     name as reason;
///  2. responseBytes is a BasicOCSPResponse (§4.2.1);
///  3. a SingleResponse's CertID (SHA-1, SHA-256, ... as the response chose)
///     matches `cert` and `issuer` (§4.1.1);
///  4. the signature verifies with the issuer's key, or with a delegated
///     responder certificate included in the response that `issuer` signed,
///     that carries id-kp-OCSPSigning and is currently valid (§4.2.2.2);
///  5. thisUpdate <= now + skew, and nextUpdate >= now - skew (or, without
///     nextUpdate, thisUpdate + default_validity >= now - skew) (§4.2.2.1).
///     Exception: an authentic `revoked` answer past its validity stays
///     kRevoked with `expired` set, unless its reason is certificateHold.
/// `cert` and `issuer` are borrowed and must be non-null. Never throws.
/// The OpenSSL error queue is drained into `detail` on failure.
OcspVerdict VerifyOcspResponse(std::span<const uint8_t> der, X509* cert, X509* issuer,
                               const VerifyOptions& options, int64_t now);

/// The verdict `v` as it reads at Unix time `now`. Freshness (RFC 6960
/// §4.2.2.1) is evaluated when a verdict is read (scrape, /probe, landing
/// page, JSON API, `probe`), not only when it was fetched: past
/// `fresh_until`, a kGood or kUnknown verdict reads kInvalid with reason
/// `expired`, and a kRevoked one stays kRevoked with `expired` set (a
/// revocation is permanent), unless its reason is certificate_hold, which
/// reads kInvalid (`expired`) too. Likewise past `signer_fresh_until` (the
/// delegated responder certificate has expired, RFC 6960 §4.2.2.2): a kGood,
/// kUnknown or held verdict reads kInvalid with reason `signer_expired`; a
/// final revocation, authentic when it was signed, stays. Every other
/// verdict is returned as is.
OcspVerdict VerdictAt(OcspVerdict v, int64_t now);

/// True when VerdictAt(v, now) reads differently from `v` (it lapsed: past
/// fresh_until or signer_fresh_until, as described there).
bool VerdictLapsesAt(const OcspVerdict& v, int64_t now);

/// VerdictAt for a shared verdict: `v` itself (still shared, no copy) when
/// nothing lapsed at `now`, else a new verdict of its own.
Shared<OcspVerdict> VerdictAt(Shared<OcspVerdict> v, int64_t now);

/// RFC 8954 / RFC 6960 §4.4.1: true when the BasicOCSPResponse in `der`
/// echoes the nonce of `request` (OCSP_check_nonce returns 1). False for a
/// missing or different nonce, or an unparsable response.
bool NonceMatches(std::span<const uint8_t> der, OCSP_REQUEST* request);

}  // namespace ose
