#include "ocsp_staple_exporter/ocsp/certificate.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <ctime>

#include "ocsp_staple_exporter/common/file.h"
#include "ocsp_staple_exporter/common/openssl_error.h"

namespace ose {

Result<std::vector<X509Ptr>> ParsePemCertificates(std::span<const uint8_t> pem,
                                                  const std::string& name) {
  if (pem.size() > static_cast<size_t>(INT32_MAX)) {
    return Error{"malformed", name + ": too large"};
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Error{"malformed", name + ": " + DrainOpenSslErrors()};
  std::vector<X509Ptr> certs;
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      unsigned long err = ERR_peek_last_error();
      if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
        ERR_clear_error();  // normal end of file
        break;
      }
      return Error{"malformed", name + ": bad certificate #" +
                                    std::to_string(certs.size() + 1) + ": " +
                                    DrainOpenSslErrors()};
    }
    certs.push_back(std::move(cert));
  }
  if (certs.empty()) return Error{"malformed", name + ": no PEM certificate found"};
  return certs;
}

Result<std::vector<X509Ptr>> LoadPemCertificates(const std::string& path) {
  // Bounded and regular files only: a cert_file of /dev/zero or a FIFO
  // must not hang the exporter at start or reload.
  auto bytes = ReadFileLimited(path, kMaxPemBytes);
  if (!bytes) return Error{"file", bytes.error().detail};
  return ParsePemCertificates(bytes.value(), path);
}

bool HasMustStaple(X509* cert) {
  // Every TLS Feature extension, not only the first: X509_get_ext_d2i
  // gives up (NULL) when a certificate carries two.
  bool found = false;
  for (int i = X509_get_ext_by_NID(cert, NID_tlsfeature, -1); i >= 0 && !found;
       i = X509_get_ext_by_NID(cert, NID_tlsfeature, i)) {
    TlsFeaturePtr features(
        static_cast<TLS_FEATURE*>(X509V3_EXT_d2i(X509_get_ext(cert, i))));
    if (!features) continue;
    for (int j = 0; j < sk_ASN1_INTEGER_num(features.get()); ++j) {
      long v = ASN1_INTEGER_get(sk_ASN1_INTEGER_value(features.get(), j));
      // status_request (5, RFC 6066) or status_request_v2 (17, RFC 6961).
      if (v == TLSEXT_TYPE_status_request || v == 17) found = true;
    }
  }
  DrainOpenSslErrors();
  return found;
}

X509* FindIssuer(X509* leaf, std::span<X509* const> candidates) {
  for (X509* c : candidates) {
    if (c == nullptr || c == leaf) continue;
    // Name, key identifiers and key usage first; then the signature itself.
    if (X509_check_issued(c, leaf) != X509_V_OK) continue;
    EVP_PKEY* key = X509_get0_pubkey(c);
    if (key != nullptr && X509_verify(leaf, key) == 1) return c;
  }
  DrainOpenSslErrors();
  return nullptr;
}

std::optional<int64_t> Asn1TimeToUnix(const ASN1_TIME* t) {
  if (t == nullptr) return std::nullopt;
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) {
    DrainOpenSslErrors();
    return std::nullopt;
  }
  return static_cast<int64_t>(timegm(&tm));
}

std::optional<int64_t> NotAfterUnix(X509* cert) { return Asn1TimeToUnix(X509_get0_notAfter(cert)); }

Result<CertAndIssuer> LoadCertAndIssuer(const std::string& cert_file,
                                        const std::string& issuer_file) {
  auto certs = LoadPemCertificates(cert_file);
  if (!certs) return certs.error();
  std::vector<X509Ptr> pool;
  if (!issuer_file.empty()) {
    auto issuers = LoadPemCertificates(issuer_file);
    if (!issuers) return issuers.error();
    pool = std::move(issuers).value();
  }
  std::vector<X509*> candidates;
  for (size_t i = 1; i < certs->size(); ++i) candidates.push_back(certs.value()[i].get());
  for (const auto& c : pool) candidates.push_back(c.get());
  X509* leaf = certs.value()[0].get();
  X509* issuer = FindIssuer(leaf, candidates);
  if (issuer == nullptr) {
    return Error{"issuer_unknown", "the issuer of " + SubjectString(leaf) + " is in neither " +
                                       cert_file +
                                       (issuer_file.empty() ? "" : " nor " + issuer_file)};
  }
  return CertAndIssuer{ShareX509(leaf), ShareX509(issuer)};
}

std::vector<std::string> OcspUrls(X509* cert) {
  std::vector<std::string> out;
  OpensslStringStackPtr urls(X509_get1_ocsp(cert));
  for (int i = 0; i < sk_OPENSSL_STRING_num(urls.get()); ++i) {
    out.emplace_back(sk_OPENSSL_STRING_value(urls.get(), i));
  }
  return out;
}

std::vector<std::string> GeneralNameUris(const GENERAL_NAMES* names) {
  std::vector<std::string> out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = n->d.uniformResourceIdentifier;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                     static_cast<size_t>(ASN1_STRING_length(uri)));
  }
  return out;
}

std::vector<std::string> DistributionPointUris(const CRL_DIST_POINTS* dps) {
  std::vector<std::string> out;
  for (int i = 0; dps != nullptr && i < sk_DIST_POINT_num(dps); ++i) {
    const DIST_POINT* dp = sk_DIST_POINT_value(dps, i);
    if (dp->distpoint == nullptr || dp->distpoint->type != 0) continue;  // fullName only
    for (std::string& uri : GeneralNameUris(dp->distpoint->name.fullname)) {
      out.push_back(std::move(uri));
    }
  }
  return out;
}

std::vector<std::string> CrlUrls(X509* cert) {
  int crit = 0;
  using DistPoints = OsslPtr<CRL_DIST_POINTS, CRL_DIST_POINTS_free>;
  DistPoints dps(static_cast<CRL_DIST_POINTS*>(
      X509_get_ext_d2i(cert, NID_crl_distribution_points, &crit, nullptr)));
  DrainOpenSslErrors();
  return DistributionPointUris(dps.get());
}

std::string SubjectString(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return "";
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

CertIdentity IdentityOf(X509* cert) {
  CertIdentity id;
  BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (bn) {
    if (char* dec = BN_bn2dec(bn.get())) {
      id.serial = dec;
      OPENSSL_free(dec);
    }
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio) {
    X509_NAME_print_ex(bio.get(), X509_get_issuer_name(cert), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    if (len > 0) id.issuer = InternedString(std::string_view(data, static_cast<size_t>(len)));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert, EVP_sha256(), md, &n) == 1) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < n; ++i) {
      id.sha256_fingerprint += kHex[md[i] >> 4];
      id.sha256_fingerprint += kHex[md[i] & 0xF];
    }
  }
  DrainOpenSslErrors();
  return id;
}

}  // namespace ose
