#include "ocsp_staple_exporter/crl/crl.h"

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <memory>
#include <vector>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/common/curl_body.h"
#include "ocsp_staple_exporter/common/openssl_error.h"
#include "ocsp_staple_exporter/ocsp/extensions.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"

namespace ose {
namespace {

ParsedCrl Invalid(ParsedCrl p, std::string_view reason, std::string detail) {
  p.verdict.state = CrlState::kInvalid;
  p.verdict.invalid_reason = std::string(reason);
  std::string queue = DrainOpenSslErrors();
  p.verdict.detail = queue.empty() ? std::move(detail) : detail + ": " + queue;
  return p;
}

std::optional<std::string> IntegerExtension(X509_CRL* crl, int nid) {
  int crit = 0;
  Asn1IntegerPtr n(static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, nid, &crit, nullptr)));
  if (!n) return std::nullopt;
  BignumPtr bn(ASN1_INTEGER_to_BN(n.get(), nullptr));
  if (!bn) return std::nullopt;
  char* dec = BN_bn2dec(bn.get());
  if (dec == nullptr) return std::nullopt;
  std::string out(dec);
  OPENSSL_free(dec);
  return out;
}

using IdpPtr = OsslPtr<ISSUING_DIST_POINT, ISSUING_DIST_POINT_free>;

IdpPtr Idp(X509_CRL* crl) {
  int crit = 0;
  IdpPtr idp(static_cast<ISSUING_DIST_POINT*>(
      X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit, nullptr)));
  DrainOpenSslErrors();
  return idp;
}

// The URIs of an issuingDistributionPoint's fullName (none when absent).
std::vector<std::string> IdpUris(const ISSUING_DIST_POINT* idp) {
  if (idp == nullptr || idp->distpoint == nullptr || idp->distpoint->type != 0) return {};
  return GeneralNameUris(idp->distpoint->name.fullname);
}

CrlVerdict::Scope IdpScope(const ISSUING_DIST_POINT* idp) {
  CrlVerdict::Scope s;
  if (idp == nullptr) return s;
  s.only_user_certs = idp->onlyuser > 0;
  s.only_ca_certs = idp->onlyCA > 0;
  s.only_attribute_certs = idp->onlyattr > 0;
  s.indirect = idp->indirectCRL > 0;
  s.reasons = ReasonMask(idp->onlysomereasons);
  return s;
}

// `data` as one DER CRL (nothing after it) or a PEM "X509 CRL"; null with
// why in `why` otherwise (the OpenSSL error queue is left for the caller).
X509CrlPtr ParseDerOrPem(std::span<const uint8_t> data, std::string* why) {
  X509CrlPtr crl;
  if (data.empty()) {
    *why = "empty CRL";
    return crl;
  }
  const unsigned char* d = data.data();
  crl.reset(d2i_X509_CRL(nullptr, &d, static_cast<long>(data.size())));
  if (crl && d != data.data() + data.size()) {
    *why = std::to_string(data.data() + data.size() - d) + " trailing bytes";
    return nullptr;
  }
  if (!crl && data.size() < (1u << 31)) {
    DrainOpenSslErrors();
    BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    if (bio) crl.reset(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  }
  if (!crl) *why = "not a DER or PEM X.509 CRL";
  return crl;
}

}  // namespace

uint16_t ReasonMask(const ASN1_BIT_STRING* flags) {
  if (flags == nullptr) return kAllCrlReasons;
  uint16_t mask = 0;
  for (int n = 1; n <= 8; ++n) {
    if (ASN1_BIT_STRING_get_bit(flags, n) == 1) mask |= static_cast<uint16_t>(1u << n);
  }
  return mask;
}

int CompareCrlNumbers(std::string_view a, std::string_view b) {
  const bool neg_a = !a.empty() && a.front() == '-', neg_b = !b.empty() && b.front() == '-';
  if (neg_a != neg_b) return neg_a ? -1 : 1;
  auto digits = [](std::string_view s) {
    if (!s.empty() && s.front() == '-') s.remove_prefix(1);
    while (s.size() > 1 && s.front() == '0') s.remove_prefix(1);
    return s;
  };
  std::string_view da = digits(a), db = digits(b);
  int c = da.size() != db.size() ? (da.size() < db.size() ? -1 : 1) : da.compare(db);
  c = c < 0 ? -1 : (c > 0 ? 1 : 0);
  return neg_a ? -c : c;
}

std::string_view CrlStateName(CrlState s) { return kCrlStateNames[static_cast<int>(s)]; }

ParsedCrl VerifyCrl(std::span<const uint8_t> data, X509* issuer, const VerifyOptions& options,
                    int64_t now, std::string_view fetched_url) {
  ParsedCrl p;
  // Held only while verifying: what is kept is the verdict and the index.
  std::string malformed;
  X509CrlPtr parsed = ParseDerOrPem(data, &malformed);
  if (!parsed) return Invalid(std::move(p), crl_invalid::kMalformed, std::move(malformed));
  X509_CRL* crl = parsed.get();
  CrlVerdict& v = p.verdict;
  v.this_update = Asn1TimeToUnix(X509_CRL_get0_lastUpdate(crl));
  if (X509_CRL_get0_nextUpdate(crl) != nullptr) {
    v.next_update = Asn1TimeToUnix(X509_CRL_get0_nextUpdate(crl));
    if (!v.next_update) {
      return Invalid(std::move(p), crl_invalid::kMalformed, "unparsable nextUpdate");
    }
  }
  if (!v.this_update) return Invalid(std::move(p), crl_invalid::kMalformed, "unparsable thisUpdate");
  if (v.next_update && *v.next_update < *v.this_update) {
    return Invalid(std::move(p), crl_invalid::kMalformed, "nextUpdate is earlier than thisUpdate");
  }
  v.crl_number = IntegerExtension(crl, NID_crl_number);
  v.base_crl_number = IntegerExtension(crl, NID_delta_crl);
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  v.revoked_certificates = static_cast<size_t>(std::max(0, sk_X509_REVOKED_num(revoked)));
  DrainOpenSslErrors();

  // §6.3.3 (b): the issuer named is the CA we check against.
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0) {
    return Invalid(std::move(p), crl_invalid::kIssuerMismatch,
                   "CRL issuer is not " + SubjectString(issuer));
  }
  // §4.2.1.3: keyUsage, when present, must allow cRLSign.
  uint32_t flags = X509_get_extension_flags(issuer);
  if ((flags & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(issuer) & KU_CRL_SIGN) == 0) {
    return Invalid(std::move(p), crl_invalid::kNotCrlSigner,
                   SubjectString(issuer) + " may not sign CRLs (keyUsage lacks cRLSign)");
  }
  int sig_nid = X509_CRL_get_signature_nid(crl), md_nid = NID_undef, pk_nid = NID_undef;
  if (OBJ_find_sigid_algs(sig_nid, &md_nid, &pk_nid) == 1 &&
      (md_nid == NID_md5 || md_nid == NID_md4 || md_nid == NID_md2)) {
    return Invalid(std::move(p), crl_invalid::kWeakAlgorithm, "signature algorithm uses MD5");
  }
  std::string unknown = UnknownCriticalExtension(
      X509_CRL_get_ext_count(crl), [crl](int i) { return X509_CRL_get_ext(crl, i); },
      {NID_crl_number, NID_delta_crl, NID_issuing_distribution_point,
       NID_authority_key_identifier});
  for (int i = 0; unknown.empty() && i < sk_X509_REVOKED_num(revoked); ++i) {
    X509_REVOKED* r = sk_X509_REVOKED_value(revoked, i);
    unknown = UnknownCriticalExtension(X509_REVOKED_get_ext_count(r),
                              [r](int j) { return X509_REVOKED_get_ext(r, j); },
                              {NID_crl_reason, NID_invalidity_date, NID_certificate_issuer});
  }
  if (!unknown.empty()) {
    return Invalid(std::move(p), crl_invalid::kUnsupportedCriticalExtension,
                   "unrecognised critical extension " + unknown);
  }
  EVP_PKEY* key = X509_get0_pubkey(issuer);
  if (key == nullptr || X509_CRL_verify(crl, key) != 1) {
    return Invalid(std::move(p), crl_invalid::kSignature,
                   "signature does not verify with " + SubjectString(issuer));
  }
  v.signature_verified = true;
  v.valid_until = v.next_update
                      ? *v.next_update
                      : SaturatingAdd(*v.this_update, options.default_validity_seconds);
  v.fresh_until = SaturatingAdd(*v.valid_until, options.skew_seconds);
  IdpPtr idp = Idp(crl);
  v.scope = IdpScope(idp.get());
  if (!fetched_url.empty()) {
    std::vector<std::string> uris = IdpUris(idp.get());
    if (!uris.empty() && std::find(uris.begin(), uris.end(), fetched_url) == uris.end()) {
      return Invalid(std::move(p), crl_invalid::kIdpMismatch,
                     "issuingDistributionPoint names " + uris.front() + ", not " +
                         std::string(fetched_url));
    }
  }
  if (*v.this_update > SaturatingAdd(now, options.skew_seconds)) {
    return Invalid(std::move(p), crl_invalid::kNotYetValid, "thisUpdate is in the future");
  }
  if (now > *v.fresh_until) {
    v.state = CrlState::kExpired;
    v.detail = v.next_update ? "nextUpdate has passed"
                             : "no nextUpdate, and default_validity after thisUpdate has passed";
  } else {
    v.state = CrlState::kValid;
  }
  p.revoked = RevokedIndex::Build(crl);
  p.freshest_urls = FreshestCrlUrls(crl);
  DrainOpenSslErrors();
  return p;
}

std::optional<int64_t> CrlHalfLife(const CrlVerdict& v, int64_t now) {
  if (!v.signature_verified || !v.this_update || !v.valid_until ||
      *v.valid_until <= *v.this_update) {
    return std::nullopt;
  }
  // Halve before adding: (valid_until - thisUpdate) cannot overflow for
  // times OpenSSL parses (years 0..9999), and the sum stays below both.
  const int64_t half_life = *v.this_update + (*v.valid_until - *v.this_update) / 2;
  return std::clamp(half_life, now + 60, now + kMaxCrlHoldSeconds);
}

CrlVerdict CrlVerdictAt(CrlVerdict v, int64_t now) {
  if (v.state == CrlState::kValid && v.fresh_until && now > *v.fresh_until) {
    v.state = CrlState::kExpired;
    v.detail = v.next_update ? "nextUpdate has passed"
                             : "no nextUpdate, and default_validity after thisUpdate has passed";
  }
  return v;
}

namespace {

// The reasonCode of a CRL entry (§5.3.1), -1 when it has none.
int EntryReason(const X509_REVOKED* entry) {
  int crit = 0;
  Asn1EnumeratedPtr reason(static_cast<ASN1_ENUMERATED*>(
      X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, &crit, nullptr)));
  const long code = reason ? ASN1_ENUMERATED_get(reason.get()) : -1;
  return code >= 0 && code <= 127 ? static_cast<int>(code) : -1;
}

// Whether an entry's certificateIssuer (§5.3.3) names `issuer`; nullopt
// when the entry has none (it inherits the previous entry's).
std::optional<bool> CertificateIssuerIs(const X509_REVOKED* entry, const X509_NAME* issuer) {
  int crit = 0;
  OsslPtr<GENERAL_NAMES, GENERAL_NAMES_free> names(static_cast<GENERAL_NAMES*>(
      X509_REVOKED_get_ext_d2i(entry, NID_certificate_issuer, &crit, nullptr)));
  if (!names) return std::nullopt;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
    if (n->type == GEN_DIRNAME && X509_NAME_cmp(n->d.directoryName, issuer) == 0) return true;
  }
  return false;
}

}  // namespace

RevokedIndex RevokedIndex::Build(const X509_CRL* crl) {
  RevokedIndex index;
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(const_cast<X509_CRL*>(crl));
  const int n = std::max(0, sk_X509_REVOKED_num(revoked));
  const X509_NAME* crl_issuer = X509_CRL_get_issuer(crl);
  index.entries_.reserve(static_cast<size_t>(n));
  bool own_issuer = true;  // §5.3.3: the first entry's default is the CRL issuer
  for (int i = 0; i < n; ++i) {
    const X509_REVOKED* r = sk_X509_REVOKED_value(revoked, i);
    if (std::optional<bool> is = CertificateIssuerIs(r, crl_issuer)) own_issuer = *is;
    if (!own_issuer) continue;
    const ASN1_INTEGER* serial = X509_REVOKED_get0_serialNumber(r);
    const int length = ASN1_STRING_length(serial);
    if (length < 0 || length > UINT16_MAX || index.serials_.size() + length > UINT32_MAX) continue;
    Entry e;
    e.offset = static_cast<uint32_t>(index.serials_.size());
    e.length = static_cast<uint16_t>(length);
    e.reason = static_cast<int8_t>(EntryReason(r));
    if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER) e.flags |= kNegative;
    if (std::optional<int64_t> at = Asn1TimeToUnix(X509_REVOKED_get0_revocationDate(r))) {
      e.revoked_at = *at;
      e.flags |= kHasTime;
    }
    const unsigned char* octets = ASN1_STRING_get0_data(serial);
    index.serials_.insert(index.serials_.end(), octets, octets + length);
    index.entries_.push_back(e);
  }
  DrainOpenSslErrors();
  // Order: sign, then length, then octets (any total order consistent with
  // equality serves a binary search); a revocation before removeFromCRL.
  auto key = [&index](const Entry& e) {
    return std::tuple(e.flags & kNegative, e.length, index.SerialOf(e));
  };
  std::sort(index.entries_.begin(), index.entries_.end(), [&](const Entry& a, const Entry& b) {
    auto ka = key(a), kb = key(b);
    if (ka != kb) return ka < kb;
    return (a.reason == OCSP_REVOKED_STATUS_REMOVEFROMCRL) <
           (b.reason == OCSP_REVOKED_STATUS_REMOVEFROMCRL);
  });
  index.entries_.shrink_to_fit();
  index.serials_.shrink_to_fit();
  return index;
}

CrlEntryStatus RevokedIndex::Find(const ASN1_INTEGER* serial) const {
  CrlEntryStatus s;
  if (serial == nullptr) return s;
  const int length = ASN1_STRING_length(serial);
  if (length < 0 || length > UINT16_MAX) return s;
  const auto wanted = std::tuple(
      static_cast<int>(ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER ? kNegative : 0),
      static_cast<uint16_t>(length),
      std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(serial)),
                       static_cast<size_t>(length)));
  auto it = std::lower_bound(entries_.begin(), entries_.end(), wanted,
                             [this](const Entry& e, const auto& w) {
                               return std::tuple(static_cast<int>(e.flags & kNegative), e.length,
                                                 SerialOf(e)) < w;
                             });
  if (it == entries_.end() ||
      std::tuple(static_cast<int>(it->flags & kNegative), it->length, SerialOf(*it)) != wanted) {
    return s;
  }
  s.listed = true;
  s.reason = std::string(RevocationReasonName(it->reason));
  if (it->reason == OCSP_REVOKED_STATUS_REMOVEFROMCRL) return s;  // §5.3.1: no longer revoked
  s.revoked = true;
  if ((it->flags & kHasTime) != 0) s.revoked_at = it->revoked_at;
  return s;
}

std::vector<std::string> FreshestCrlUrls(const X509_CRL* crl) {
  int crit = 0;
  OsslPtr<CRL_DIST_POINTS, CRL_DIST_POINTS_free> dps(static_cast<CRL_DIST_POINTS*>(
      X509_CRL_get_ext_d2i(crl, NID_freshest_crl, &crit, nullptr)));
  DrainOpenSslErrors();
  std::vector<std::string> out;
  for (std::string& uri : DistributionPointUris(dps.get())) {
    if (IsHttpUrl(uri)) out.push_back(std::move(uri));
  }
  return out;
}

CrlEntryStatus LookupInCrl(const ParsedCrl& crl, X509* cert) {
  return crl.revoked.Find(X509_get0_serialNumber(cert));
}

}  // namespace ose
