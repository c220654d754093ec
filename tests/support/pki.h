#pragma once
// Test PKI built with the OpenSSL API: keys, certificates and OCSP
// responses generated relative to a given "now", so nothing ever expires.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/common/ossl_ptr.h"

namespace ose::testing {

/// A fresh EC P-256 key.
EvpPkeyPtr GenerateKey();

struct CertSpec {
  std::string common_name = "leaf.test";
  long serial = 1;
  int64_t not_before = 0;  ///< Unix seconds
  int64_t not_after = 0;   ///< Unix seconds
  bool ca = false;
  bool must_staple = false;
  bool ocsp_signing = false;
  std::string ocsp_url;  ///< AIA OCSP URL, optional
  std::string crl_url;   ///< CRL Distribution Point URI, optional
  /// The distribution point's reasons (ReasonFlags bit numbers, 1 =
  /// keyCompromise ... 8 = aACompromise); none: every reason.
  std::vector<int> crl_reasons;
  bool crl_indirect = false;  ///< the distribution point names a cRLIssuer
  /// subjectKeyIdentifier as hex ("AB:CD:..."); default: hash of the key.
  /// A rogue CA copies the real one's to impersonate it.
  std::string subject_key_id;
  /// TLS Feature extension values instead of must_staple's, e.g.
  /// "status_request_v2" or "status_request,status_request_v2"; each string
  /// adds one extension (two strings: two TLS Feature extensions).
  std::vector<std::string> tls_features;
  /// keyUsage for a non-CA certificate, e.g. "digitalSignature" (none when empty).
  std::string key_usage;
};

/// A fresh RSA-2048 key (for MD5-based signatures, which ECDSA lacks).
EvpPkeyPtr GenerateRsaKey();

/// The subjectKeyIdentifier of `cert` as hex ("AB:CD:..."); "" when none.
std::string SubjectKeyIdHex(X509* cert);

/// Issues a certificate for `subject_key`; self-signed when `issuer` is null.
X509Ptr IssueCert(const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer,
                  EVP_PKEY* issuer_key);

struct ResponseSpec {
  int cert_status = V_OCSP_CERTSTATUS_GOOD;
  int revocation_reason = -1;  ///< OCSP_REVOKED_STATUS_*, -1 for none
  int64_t revoked_at = 0;
  int64_t produced_at = 0;  ///< unused: OpenSSL stamps producedAt with the real time
  int64_t this_update = 0;
  std::optional<int64_t> next_update;
  const EVP_MD* cert_id_md = nullptr;  ///< default SHA-1
  bool include_signer = true;          ///< put the signer cert in `certs`
  bool responder_id_by_key = false;
  int response_status = OCSP_RESPONSE_STATUS_SUCCESSFUL;
  OCSP_REQUEST* copy_nonce_from = nullptr;  ///< echo this request's nonce (RFC 8954)
  /// More SingleResponses for the same CertID, with these certStatus values
  /// (revoked ones with the spec's reason and time) and the spec's times.
  std::vector<int> extra_statuses;
  /// nextUpdate of the i-th extra SingleResponse (beyond its size: the spec's).
  std::vector<int64_t> extra_next_updates;
  bool critical_response_extension = false;  ///< an unknown critical responseExtension
  bool critical_single_extension = false;    ///< an unknown critical singleExtension
  const EVP_MD* sign_md = nullptr;           ///< signature digest; default SHA-256
  std::vector<X509*> extra_certs;  ///< appended to `certs` after the signer (decoys, renewals)
  std::vector<X509*> leading_certs;  ///< put in `certs` before the signer
};

/// A DER OCSPResponse about `cert` (issued by `issuer`) signed by
/// `signer_cert` / `signer_key`. For a non-successful response_status only
/// the status is encoded.
std::vector<uint8_t> MakeResponse(const ResponseSpec& spec, X509* cert, X509* issuer,
                                  X509* signer_cert, EVP_PKEY* signer_key);

struct CrlSpec {
  int64_t this_update = 0;
  std::optional<int64_t> next_update;
  long crl_number = 1;
  /// Overrides crl_number with a decimal of any length (20-octet numbers).
  std::string crl_number_decimal;
  std::optional<long> delta_base;  ///< set: a delta CRL (deltaCRLIndicator)
  struct Entry {
    long serial = 0;
    int64_t revoked_at = 0;
    int reason = -1;  ///< CRLReason code; -1 for none
    /// certificateIssuer (RFC 5280 §5.3.3) as a directoryName with this CN;
    /// empty: no extension (the entry inherits the previous one's).
    std::string certificate_issuer_cn;
  };
  std::vector<Entry> revoked;
  /// A public CA's CRL in bulk: this many more entries with random serials
  /// of `bulk_serial_bytes` octets (as CAs issue them: 16-20), revoked at
  /// `bulk_revoked_at`, every other one with reasonCode keyCompromise.
  size_t bulk_entries = 0;
  int bulk_serial_bytes = 18;
  int64_t bulk_revoked_at = 0;
  bool critical_unknown_extension = false;
  const EVP_MD* md = nullptr;  ///< default SHA-256
  /// issuingDistributionPoint fullName URIs (critical); none: no extension.
  std::vector<std::string> idp_uris;
  /// issuingDistributionPoint scope flags; any set adds the extension.
  bool idp_only_ca = false;
  bool idp_only_user = false;
  bool idp_only_attribute = false;
  bool idp_indirect = false;
  std::vector<int> idp_only_some_reasons;  ///< ReasonFlags bit numbers
  /// Freshest CRL (delta CRL) distribution point URIs; none: no extension.
  std::vector<std::string> freshest_uris;
};

/// A self-signed CA certificate (CN `cn`, serial 1, keyUsage of a CA)
/// valid from a day before `now` for a year, with its new key.
struct TestCa {
  EvpPkeyPtr key;
  X509Ptr cert;
};
TestCa MakeTestCa(int64_t now, const std::string& cn = "CRL CA");

/// A DER X.509 v2 CRL issued by `issuer`, signed with `issuer_key`.
std::vector<uint8_t> MakeCrl(const CrlSpec& spec, X509* issuer, EVP_PKEY* issuer_key);

/// Writes PEM of `certs` to `path`.
void WritePem(const std::string& path, const std::vector<X509*>& certs);

/// Writes `key` as an unencrypted PKCS#8 PEM private key to `path`.
void WriteKeyPem(const std::string& path, EVP_PKEY* key);

}  // namespace ose::testing
