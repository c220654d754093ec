#pragma once
// Parsing and verification of X.509 CRLs (RFC 5280 §5, §6.3), the
// building block of `[[crl]]` targets and CRL revocation (CrlStore).
//
// Like VerifyOcspResponse, a pure function of (bytes, issuer, options,
// now): no I/O, no clock, never throws. A CRL that fails any check is
// CrlState::kInvalid with a bounded reason and never reports a serial as
// good.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/x509v3.h>

#include "ocsp_staple_exporter/common/ossl_ptr.h"
#include "ocsp_staple_exporter/ocsp/response.h"

namespace ose {

using X509CrlPtr = OsslPtr<X509_CRL, X509_CRL_free>;

/// The state set exported as `ocsp_crl_status{status}`.
enum class CrlState {
  kValid,    ///< verified and within thisUpdate..nextUpdate (± skew)
  kExpired,  ///< verified, but nextUpdate + skew has passed
  kInvalid,  ///< failed a check; see invalid_reason
  kAbsent,   ///< nothing fetched yet, or nothing at the URL
};
inline constexpr std::string_view kCrlStateNames[] = {"valid", "expired", "invalid", "absent"};
std::string_view CrlStateName(CrlState s);

/// RFC 5280 §4.2.1.13 ReasonFlags as a mask: bit n is the flag named n
/// (keyCompromise = 1 ... aACompromise = 8); bit 0 (unused) is never set.
inline constexpr uint16_t kAllCrlReasons = 0x1FE;

/// Bounded reasons of `ocsp_crl_invalid_reason{reason}`.
namespace crl_invalid {
inline constexpr std::string_view kMalformed = "malformed";  ///< neither DER nor PEM X509_CRL
inline constexpr std::string_view kIssuerMismatch = "issuer_mismatch";
inline constexpr std::string_view kNotCrlSigner = "issuer_not_crl_signer";  ///< no cRLSign
inline constexpr std::string_view kSignature = "signature";
inline constexpr std::string_view kNotYetValid = "not_yet_valid";
inline constexpr std::string_view kUnsupportedCriticalExtension = "unsupported_critical_extension";
inline constexpr std::string_view kWeakAlgorithm = "weak_algorithm";  ///< MD5-based signature
inline constexpr std::string_view kUnreadable = "unreadable";  ///< `path` cannot be read
/// The Issuing Distribution Point names URIs, none of them the URL fetched.
inline constexpr std::string_view kIdpMismatch = "idp_mismatch";
}  // namespace crl_invalid

struct CrlVerdict {
  CrlState state = CrlState::kAbsent;
  std::string invalid_reason;  ///< one of crl_invalid::*, when kInvalid
  std::string detail;
  std::optional<int64_t> this_update;  ///< Unix seconds
  std::optional<int64_t> next_update;  ///< Unix seconds; nullopt when absent
  /// nextUpdate, or thisUpdate + default_validity when the CRL has none
  /// (as OCSP responses), saturating.
  std::optional<int64_t> valid_until;
  std::optional<std::string> crl_number;       ///< decimal, RFC 5280 §5.2.3
  std::optional<std::string> base_crl_number;  ///< delta CRLs (§5.2.4)
  size_t revoked_certificates = 0;
  bool signature_verified = false;
  /// valid_until + skew (Unix seconds): past it a valid CRL reads expired
  /// (CrlVerdictAt). Set when the signature verified.
  std::optional<int64_t> fresh_until;
  /// Scope from the Issuing Distribution Point (RFC 5280 §5.2.5): which
  /// certificates and which reasons the CRL answers for.
  struct Scope {
    bool only_user_certs = false;
    bool only_ca_certs = false;
    bool only_attribute_certs = false;
    bool indirect = false;                ///< indirectCRL: entries of other issuers
    uint16_t reasons = kAllCrlReasons;    ///< onlySomeReasons, else all
  } scope;
};

/// Orders two cRLNumbers (RFC 5280 §5.2.3: up to 20 octets) given as
/// decimal strings: <0, 0 or >0 as a is less than, equal to or greater
/// than b. Exact at any length (no integer conversion).
int CompareCrlNumbers(std::string_view a, std::string_view b);

/// A ReasonFlags BIT STRING as a mask (kAllCrlReasons when null).
uint16_t ReasonMask(const ASN1_BIT_STRING* flags);

/// The longest a CRL is held without a refetch, whatever its half-life (a
/// CRL valid until 9999 is still asked for daily).
inline constexpr int64_t kMaxCrlHoldSeconds = 86400;

/// When a CRL verified as `v` at Unix time `now` should be fetched again:
/// its half-life, thisUpdate + (valid_until - thisUpdate) / 2, at least 60 s
/// and at most kMaxCrlHoldSeconds ahead. nullopt without an authentic
/// thisUpdate and a later valid_until.
std::optional<int64_t> CrlHalfLife(const CrlVerdict& v, int64_t now);

/// `v` as it reads at Unix time `now`: a valid CRL past fresh_until is
/// kExpired (authentic, but stale). Everything else is unchanged.
CrlVerdict CrlVerdictAt(CrlVerdict v, int64_t now);

/// What a verified CRL says about a certificate.
struct CrlEntryStatus {
  /// The serial has an entry, whatever its reason (a delta CRL's
  /// removeFromCRL entry lifts a revocation of its base, RFC 5280 §5.2.4).
  bool listed = false;
  bool revoked = false;
  std::optional<int64_t> revoked_at;     ///< revocationDate, Unix seconds
  std::string reason = "unspecified";    ///< RevocationReasonName of the entry's reason code
};

/// The revokedCertificates of an authentic CRL (RFC 5280 §5.1.2.6), held
/// compactly and sorted by serial so a lookup is a binary search: 16 bytes
/// per entry plus the serial's octets, where OpenSSL's X509_CRL holds
/// several allocations per entry (figures: bench/crl_bench.cc,
/// docs/performance.md). Immutable once built, so lookups need no lock.
class RevokedIndex {
 public:
  RevokedIndex() = default;
  /// Indexes the entries of `crl` (borrowed, non-null) that speak for the
  /// CRL's own issuer (§5.3.3: an entry whose certificateIssuer names
  /// another CA, and the entries after it that inherit it, are left out),
  /// with each entry's revocationDate and reasonCode (§5.3.1).
  static RevokedIndex Build(const X509_CRL* crl);
  /// The entry of `serial`, `listed` false when none. Among entries of one
  /// serial (a CRL should have one), a revocation outranks removeFromCRL.
  CrlEntryStatus Find(const ASN1_INTEGER* serial) const;
  size_t size() const { return entries_.size(); }
  /// Heap bytes held, for the benchmark.
  size_t HeapBytes() const {
    return entries_.capacity() * sizeof(Entry) + serials_.capacity();
  }

 private:
  struct Entry {
    int64_t revoked_at = 0;   ///< Unix seconds; valid when has_time
    uint32_t offset = 0;      ///< of the serial's magnitude octets in serials_
    uint16_t length = 0;      ///< octets
    int8_t reason = -1;       ///< CRLReason code; -1 when the entry has none
    uint8_t flags = 0;        ///< kNegative | kHasTime
  };
  static constexpr uint8_t kNegative = 1, kHasTime = 2;
  std::string_view SerialOf(const Entry& e) const {
    return {reinterpret_cast<const char*>(serials_.data()) + e.offset, e.length};
  }
  std::vector<Entry> entries_;
  std::vector<uint8_t> serials_;
};

/// The http:// and https:// URIs of a CRL's Freshest CRL extension (§5.2.6).
std::vector<std::string> FreshestCrlUrls(const X509_CRL* crl);

/// A parsed CRL with its verdict. Nothing of OpenSSL's X509_CRL is kept: an
/// authentic CRL (valid or expired) carries its entries as a RevokedIndex
/// and its Freshest CRL URLs; any other has neither.
struct ParsedCrl {
  CrlVerdict verdict;
  RevokedIndex revoked;
  std::vector<std::string> freshest_urls;  ///< http(s) only, §5.2.6
};

/// Parses `data` (DER, or PEM "X509 CRL") and verifies it against `issuer`
/// (borrowed, non-null) at Unix time `now` (RFC 5280 §6.3.3): the CRL's
/// issuer name equals the issuer's subject; the issuer's keyUsage, when
/// present, allows cRLSign; the signature verifies with the issuer's key
/// and is not MD5-based; no critical extension other than those understood
/// (CRL number, delta CRL indicator, issuing distribution point, authority
/// key identifier) in the CRL or an entry; thisUpdate <= now + skew; and
/// nextUpdate >= now - skew, else kExpired (the CRL is authentic, only
/// stale). A CRL without nextUpdate is fresh for
/// `options.default_validity_seconds` after thisUpdate. With `fetched_url` set, a CRL whose issuingDistributionPoint
/// names URIs must name that one (RFC 5280 §5.2.5, §6.3.3 (b)(2)): a
/// sharded CRL served in place of another shard is kInvalid
/// "idp_mismatch". The OpenSSL error queue is drained into `detail`.
ParsedCrl VerifyCrl(std::span<const uint8_t> data, X509* issuer, const VerifyOptions& options,
                    int64_t now, std::string_view fetched_url = {});

/// Looks `cert`'s serial up in `crl` (which must have verified: callers
/// check the verdict first), O(log n). A certificate listed with reason
/// removeFromCRL is not revoked.
CrlEntryStatus LookupInCrl(const ParsedCrl& crl, X509* cert);

}  // namespace ose
