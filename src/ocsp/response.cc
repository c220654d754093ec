#include "ocsp_staple_exporter/ocsp/response.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <cstring>

#include "ocsp_staple_exporter/common/openssl_error.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"

namespace ose {
namespace {

OcspVerdict Invalid(OcspVerdict v, std::string_view reason, std::string detail) {
  v.state = ResponseState::kInvalid;
  v.invalid_reason = std::string(reason);
  std::string queue = DrainOpenSslErrors();
  v.detail = queue.empty() ? std::move(detail) : detail + ": " + queue;
  return v;
}

std::string_view StatusReason(int response_status) {
  switch (response_status) {
    case OCSP_RESPONSE_STATUS_MALFORMEDREQUEST: return invalid_reason::kMalformedRequest;
    case OCSP_RESPONSE_STATUS_INTERNALERROR: return invalid_reason::kInternalError;
    case OCSP_RESPONSE_STATUS_TRYLATER: return invalid_reason::kTryLater;
    case OCSP_RESPONSE_STATUS_SIGREQUIRED: return invalid_reason::kSigRequired;
    case OCSP_RESPONSE_STATUS_UNAUTHORIZED: return invalid_reason::kUnauthorized;
    default: return invalid_reason::kMalformed;
  }
}

// RFC 6960 §4.2.1 ResponderID: byName (subject) or byKey (SHA-1 of the
// subjectPublicKey BIT STRING contents).
bool MatchesResponderId(X509* cert, const ASN1_OCTET_STRING* key_id, const X509_NAME* name) {
  if (name != nullptr) return X509_NAME_cmp(name, X509_get_subject_name(cert)) == 0;
  if (key_id == nullptr) return false;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_pubkey_digest(cert, EVP_sha1(), md, &len) != 1) return false;
  return static_cast<int>(len) == ASN1_STRING_length(key_id) &&
         std::memcmp(md, ASN1_STRING_get0_data(key_id), len) == 0;
}

// Finds the SingleResponse whose CertID names `cert` issued by `issuer`,
// computing our CertID with the hash algorithm each SingleResponse used.
OCSP_SINGLERESP* FindSingle(OCSP_BASICRESP* bs, X509* cert, X509* issuer) {
  for (int i = 0; i < OCSP_resp_count(bs); ++i) {
    OCSP_SINGLERESP* single = OCSP_resp_get0(bs, i);
    const OCSP_CERTID* theirs = OCSP_SINGLERESP_get0_id(single);
    ASN1_OBJECT* md_oid = nullptr;
    if (OCSP_id_get0_info(nullptr, &md_oid, nullptr, nullptr,
                          const_cast<OCSP_CERTID*>(theirs)) != 1) {
      continue;
    }
    const EVP_MD* md = EVP_get_digestbyobj(md_oid);
    if (md == nullptr) continue;
    OcspCertIdPtr ours(OCSP_cert_to_id(md, cert, issuer));
    if (ours && OCSP_id_cmp(ours.get(), theirs) == 0) return single;
  }
  return nullptr;
}

bool VerifySignature(OCSP_BASICRESP* bs, EVP_PKEY* key) {
  const X509_ALGOR* alg = OCSP_resp_get0_tbs_sigalg(bs);
  const ASN1_OCTET_STRING* sig = OCSP_resp_get0_signature(bs);
  const OCSP_RESPDATA* data = OCSP_resp_get0_respdata(bs);
  if (alg == nullptr || sig == nullptr || data == nullptr || key == nullptr) return false;
  return ASN1_item_verify(ASN1_ITEM_rptr(OCSP_RESPDATA), alg, sig, data, key) == 1;
}

}  // namespace

std::string_view StateName(ResponseState s) {
  return kResponseStateNames[static_cast<int>(s)];
}

std::string_view RevocationReasonName(int crl_reason) {
  switch (crl_reason) {
    case OCSP_REVOKED_STATUS_KEYCOMPROMISE: return "key_compromise";
    case OCSP_REVOKED_STATUS_CACOMPROMISE: return "ca_compromise";
    case OCSP_REVOKED_STATUS_AFFILIATIONCHANGED: return "affiliation_changed";
    case OCSP_REVOKED_STATUS_SUPERSEDED: return "superseded";
    case OCSP_REVOKED_STATUS_CESSATIONOFOPERATION: return "cessation_of_operation";
    case OCSP_REVOKED_STATUS_CERTIFICATEHOLD: return "certificate_hold";
    case OCSP_REVOKED_STATUS_REMOVEFROMCRL: return "remove_from_crl";
    case 9: return "privilege_withdrawn";
    case 10: return "aa_compromise";
    default: return "unspecified";
  }
}

OcspVerdict VerifyOcspResponse(std::span<const uint8_t> der, X509* cert, X509* issuer,
                               const VerifyOptions& options, int64_t now) {
  OcspVerdict v;
  if (der.empty()) return Invalid(v, invalid_reason::kMalformed, "empty response");

  // §4.2.1: OCSPResponse ::= SEQUENCE { responseStatus, responseBytes OPTIONAL }
  const unsigned char* p = der.data();
  OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  if (!resp) return Invalid(v, invalid_reason::kMalformed, "not a DER OCSPResponse");
  if (p != der.data() + der.size()) {
    return Invalid(v, invalid_reason::kMalformed,
                   std::to_string(der.data() + der.size() - p) + " trailing bytes");
  }
  int status = OCSP_response_status(resp.get());
  if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    return Invalid(v, StatusReason(status),
                   std::string("responseStatus ") + OCSP_response_status_str(status));
  }
  OcspBasicRespPtr bs(OCSP_response_get1_basic(resp.get()));
  if (!bs) return Invalid(v, invalid_reason::kNotBasic, "not a BasicOCSPResponse");

  v.produced_at = Asn1TimeToUnix(OCSP_resp_get0_produced_at(bs.get()));

  // §4.1.1 / §3.2 (1): the response names the certificate we asked about.
  OCSP_SINGLERESP* single = FindSingle(bs.get(), cert, issuer);
  if (single == nullptr) {
    return Invalid(v, invalid_reason::kCertIdMismatch,
                   "no SingleResponse for this certificate and issuer among " +
                       std::to_string(OCSP_resp_count(bs.get())));
  }
  int reason = -1;
  ASN1_GENERALIZEDTIME* revtime = nullptr;
  ASN1_GENERALIZEDTIME* thisupd = nullptr;
  ASN1_GENERALIZEDTIME* nextupd = nullptr;
  int cert_status = OCSP_single_get0_status(single, &reason, &revtime, &thisupd, &nextupd);
  v.this_update = Asn1TimeToUnix(thisupd);
  v.next_update = Asn1TimeToUnix(nextupd);
  if (!v.this_update || (nextupd != nullptr && !v.next_update)) {
    return Invalid(v, invalid_reason::kMalformed, "unparsable thisUpdate or nextUpdate");
  }

  // §4.2.2.2: the signer is the CA itself or a responder it authorised.
  const ASN1_OCTET_STRING* key_id = nullptr;
  const X509_NAME* name = nullptr;
  if (OCSP_resp_get0_id(bs.get(), &key_id, &name) != 1) {
    return Invalid(v, invalid_reason::kMalformed, "no ResponderID");
  }
  X509* signer = nullptr;
  if (MatchesResponderId(issuer, key_id, name)) {
    signer = issuer;
  } else {
    const STACK_OF(X509)* certs = OCSP_resp_get0_certs(bs.get());
    for (int i = 0; i < sk_X509_num(certs); ++i) {
      X509* c = sk_X509_value(certs, i);
      if (MatchesResponderId(c, key_id, name)) {
        signer = c;
        break;
      }
    }
  }
  if (signer == nullptr) {
    return Invalid(v, invalid_reason::kSignerNotFound,
                   "ResponderID matches neither the issuer nor an included certificate");
  }
  if (signer != issuer) {
    v.delegated_signer = true;
    EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
    if (X509_check_issued(issuer, signer) != X509_V_OK || issuer_key == nullptr ||
        X509_verify(signer, issuer_key) != 1) {
      return Invalid(v, invalid_reason::kUnauthorizedSigner,
                     "responder certificate " + SubjectString(signer) +
                         " was not issued by the certificate's issuer");
    }
    // X509_get_extension_flags caches the extensions; EXFLAG_XKUSAGE says an
    // extendedKeyUsage is present at all.
    uint32_t flags = X509_get_extension_flags(signer);
    if ((flags & EXFLAG_XKUSAGE) == 0 ||
        (X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN) == 0) {
      return Invalid(v, invalid_reason::kUnauthorizedSigner,
                     "responder certificate " + SubjectString(signer) +
                         " lacks id-kp-OCSPSigning");
    }
    auto nb = Asn1TimeToUnix(X509_get0_notBefore(signer));
    auto na = Asn1TimeToUnix(X509_get0_notAfter(signer));
    v.signer_not_after = na;
    if (!nb || !na || *nb > now + options.skew_seconds || *na < now - options.skew_seconds) {
      return Invalid(v, invalid_reason::kSignerExpired,
                     "responder certificate " + SubjectString(signer) +
                         " is outside its validity period");
    }
  }
  if (!VerifySignature(bs.get(), X509_get0_pubkey(signer))) {
    return Invalid(v, invalid_reason::kSignature,
                   "signature does not verify with " + SubjectString(signer));
  }
  v.signature_verified = true;

  // §4.2.2.1: freshness.
  if (*v.this_update > now + options.skew_seconds) {
    return Invalid(v, invalid_reason::kNotYetValid, "thisUpdate is in the future");
  }
  v.valid_until =
      v.next_update ? *v.next_update : *v.this_update + options.default_validity_seconds;
  if (*v.valid_until < now - options.skew_seconds) {
    // Revocation is permanent (RFC 5280 §5.3.1): an authentic revoked
    // answer stays revoked past its nextUpdate, with a negative margin.
    // certificateHold is temporary, so an expired hold proves nothing.
    if (cert_status == V_OCSP_CERTSTATUS_REVOKED &&
        reason != OCSP_REVOKED_STATUS_CERTIFICATEHOLD) {
      v.state = ResponseState::kRevoked;
      v.revoked_at = Asn1TimeToUnix(revtime);
      v.revocation_reason = std::string(RevocationReasonName(reason));
      v.expired = true;
      v.detail = "revoked; the response's nextUpdate has passed";
      DrainOpenSslErrors();
      return v;
    }
    return Invalid(v, invalid_reason::kExpired,
                   v.next_update ? "nextUpdate has passed"
                                 : "no nextUpdate and thisUpdate is older than the default "
                                   "validity");
  }

  switch (cert_status) {
    case V_OCSP_CERTSTATUS_GOOD:
      v.state = ResponseState::kGood;
      break;
    case V_OCSP_CERTSTATUS_REVOKED:
      v.state = ResponseState::kRevoked;
      v.revoked_at = Asn1TimeToUnix(revtime);
      v.revocation_reason = std::string(RevocationReasonName(reason));
      break;
    case V_OCSP_CERTSTATUS_UNKNOWN:
      v.state = ResponseState::kUnknown;
      break;
    default:
      return Invalid(v, invalid_reason::kMalformed, "bad certStatus");
  }
  DrainOpenSslErrors();
  return v;
}

bool NonceMatches(std::span<const uint8_t> der, OCSP_REQUEST* request) {
  const unsigned char* p = der.data();
  OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  OcspBasicRespPtr bs(resp ? OCSP_response_get1_basic(resp.get()) : nullptr);
  bool ok = bs && OCSP_check_nonce(request, bs.get()) == 1;
  DrainOpenSslErrors();
  return ok;
}

}  // namespace ose
