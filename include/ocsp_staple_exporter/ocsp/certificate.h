#pragma once
// Certificate facts the exporter needs: loading PEM files, finding a leaf's
// issuer, Must-Staple detection (RFC 7633) and time conversion.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/common/ossl_ptr.h"
#include "ocsp_staple_exporter/common/result.h"
#include "ocsp_staple_exporter/common/shared.h"

namespace ose {

/// PEM files larger than this are refused (8 MiB: a bundle of thousands).
inline constexpr size_t kMaxPemBytes = 8 << 20;

/// Reads every certificate of a PEM file, in file order. Errors: reason
/// "file" when it cannot be read (missing, unreadable, not a regular file,
/// over kMaxPemBytes), "malformed" when it holds no certificate or a PEM
/// block fails to parse (detail names the path and the drained OpenSSL
/// error queue).
Result<std::vector<X509Ptr>> LoadPemCertificates(const std::string& path);

/// The same from bytes in memory; `name` is used in error details.
Result<std::vector<X509Ptr>> ParsePemCertificates(std::span<const uint8_t> pem,
                                                  const std::string& name);

/// True when `cert` carries the TLS Feature extension (id-pe-tlsfeature,
/// 1.3.6.1.5.5.7.1.24, RFC 7633 §4) listing status_request (5) or
/// status_request_v2 (17, RFC 6961): the "Must-Staple" marker. Every TLS
/// Feature extension counts when there are several. False when absent or
/// unparsable.
bool HasMustStaple(X509* cert);

/// Returns the first of `candidates` that issued `leaf`: its subject equals
/// the leaf's issuer name, its key identifiers agree and its key verifies
/// the leaf's signature. Non-owning; nullptr when none did.
X509* FindIssuer(X509* leaf, std::span<X509* const> candidates);

/// Converts an ASN1_TIME (UTCTime or GeneralizedTime) to Unix seconds.
std::optional<int64_t> Asn1TimeToUnix(const ASN1_TIME* t);

/// The leaf's notAfter in Unix seconds, or nullopt when unparsable.
std::optional<int64_t> NotAfterUnix(X509* cert);

/// A certificate with the issuer that signed it.
struct CertAndIssuer {
  X509Ptr cert;
  X509Ptr issuer;
};

/// Loads the first certificate of `cert_file` and finds its issuer among the
/// rest of `cert_file` and every certificate of `issuer_file` (optional,
/// "" for none). Errors: those of LoadPemCertificates, or reason
/// "issuer_unknown" when no candidate signed the certificate.
Result<CertAndIssuer> LoadCertAndIssuer(const std::string& cert_file,
                                        const std::string& issuer_file);

/// The OCSP responder URLs of the Authority Information Access extension
/// (RFC 5280 §4.2.2.1, id-ad-ocsp), in certificate order; empty if none.
std::vector<std::string> OcspUrls(X509* cert);

/// The URIs of the CRL Distribution Points extension (RFC 5280 §4.2.1.13,
/// fullName entries), in certificate order; empty if none.
std::vector<std::string> CrlUrls(X509* cert);

/// The URIs among `names` (a distribution point's fullName), in order.
std::vector<std::string> GeneralNameUris(const GENERAL_NAMES* names);

/// The fullName URIs of every distribution point of `dps` (the CRL
/// Distribution Points of a certificate, or a CRL's Freshest CRL, §5.2.6),
/// in order; empty for null.
std::vector<std::string> DistributionPointUris(const CRL_DIST_POINTS* dps);

/// The subject as a one-line string (RFC 2253), for logs and reports.
std::string SubjectString(X509* cert);

/// The labels of `ocsp_cert_info`: the certificate's serial (decimal, as
/// x509-certificate-exporter's serial_number), issuer name (RFC 2253) and
/// SHA-256 fingerprint of its DER (lower-case hex, no colons).
/// The issuer is interned (InternedString): a fleet's leaves have few
/// issuers, held once.
struct CertIdentity {
  std::string serial;
  Shared<std::string> issuer;
  std::string sha256_fingerprint;
};
CertIdentity IdentityOf(X509* cert);

}  // namespace ose
