#include "ocsp_staple_exporter/ocsp/response.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/common/openssl_error.h"
#include "ocsp_staple_exporter/ocsp/extensions.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"

namespace ose {
namespace {

// A step of the verification that rejects the response: the
// invalid_reason and the detail (the OpenSSL error queue is appended).
struct Rejection {
  std::string_view reason;
  std::string detail;
};
// Each step returns nothing when the response passes it.
using Step = std::optional<Rejection>;

OcspVerdict Invalid(OcspVerdict v, Rejection r) {
  v.state = ResponseState::kInvalid;
  v.invalid_reason = std::string(r.reason);
  std::string queue = DrainOpenSslErrors();
  v.detail = queue.empty() ? std::move(r.detail) : r.detail + ": " + queue;
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

// Every SingleResponse whose CertID names `cert` issued by `issuer`,
// computing our CertID with the hash algorithm each SingleResponse used.
// `weak` is set when a matching one uses MD5 (RFC 6151: no longer fit).
std::vector<OCSP_SINGLERESP*> FindSingles(OCSP_BASICRESP* bs, X509* cert, X509* issuer,
                                          bool* weak) {
  std::vector<OCSP_SINGLERESP*> out;
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
    if (ours && OCSP_id_cmp(ours.get(), theirs) == 0) {
      int nid = OBJ_obj2nid(md_oid);
      if (nid == NID_md5 || nid == NID_md4 || nid == NID_md2) *weak = true;
      out.push_back(single);
    }
  }
  return out;
}


// True when the response's signature algorithm hashes with MD5 (or older).
bool WeakSignatureAlgorithm(OCSP_BASICRESP* bs) {
  const X509_ALGOR* alg = OCSP_resp_get0_tbs_sigalg(bs);
  if (alg == nullptr) return false;
  const ASN1_OBJECT* obj = nullptr;
  X509_ALGOR_get0(&obj, nullptr, nullptr, alg);
  int md_nid = NID_undef, pk_nid = NID_undef;
  if (OBJ_find_sigid_algs(OBJ_obj2nid(obj), &md_nid, &pk_nid) != 1) return false;
  return md_nid == NID_md5 || md_nid == NID_md4 || md_nid == NID_md2;
}

bool VerifySignature(OCSP_BASICRESP* bs, EVP_PKEY* key) {
  const X509_ALGOR* alg = OCSP_resp_get0_tbs_sigalg(bs);
  const ASN1_OCTET_STRING* sig = OCSP_resp_get0_signature(bs);
  const OCSP_RESPDATA* data = OCSP_resp_get0_respdata(bs);
  if (alg == nullptr || sig == nullptr || data == nullptr || key == nullptr) return false;
  return ASN1_item_verify(ASN1_ITEM_rptr(OCSP_RESPDATA), alg, sig, data, key) == 1;
}

// §4.2.1: OCSPResponse ::= SEQUENCE { responseStatus, responseBytes
// OPTIONAL }: exactly the DER given, successful, a BasicOCSPResponse.
Step DecodeBasicResponse(std::span<const uint8_t> der, OcspBasicRespPtr& out) {
  if (der.empty()) return Rejection{invalid_reason::kMalformed, "empty response"};
  const unsigned char* p = der.data();
  OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  if (!resp) return Rejection{invalid_reason::kMalformed, "not a DER OCSPResponse"};
  if (p != der.data() + der.size()) {
    return Rejection{invalid_reason::kMalformed,
                     std::to_string(der.data() + der.size() - p) + " trailing bytes"};
  }
  int status = OCSP_response_status(resp.get());
  if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    return Rejection{StatusReason(status),
                     std::string("responseStatus ") + OCSP_response_status_str(status)};
  }
  out.reset(OCSP_response_get1_basic(resp.get()));
  if (!out) return Rejection{invalid_reason::kNotBasic, "not a BasicOCSPResponse"};
  return std::nullopt;
}

// §4.1.1 / §3.2 (1): the response names the certificate we asked about,
// with no hash of MD5's age in the CertID or the signature (RFC 6151).
Step FindOurSingleResponses(OCSP_BASICRESP* bs, X509* cert, X509* issuer,
                            std::vector<OCSP_SINGLERESP*>& singles) {
  bool weak_cert_id = false;
  singles = FindSingles(bs, cert, issuer, &weak_cert_id);
  if (singles.empty()) {
    return Rejection{invalid_reason::kCertIdMismatch,
                     "no SingleResponse for this certificate and issuer among " +
                         std::to_string(OCSP_resp_count(bs))};
  }
  if (weak_cert_id) return Rejection{invalid_reason::kWeakAlgorithm, "CertID hashed with MD5"};
  if (WeakSignatureAlgorithm(bs)) {
    return Rejection{invalid_reason::kWeakAlgorithm, "signature algorithm uses MD5"};
  }
  return std::nullopt;
}

// What the SingleResponses for our CertID say, as one answer.
struct CertAnswer {
  int status = -1;  ///< V_OCSP_CERTSTATUS_*
  int reason = -1;  ///< CRLReason when revoked, else -1
  ASN1_GENERALIZEDTIME* revoked_at = nullptr;
  ASN1_GENERALIZEDTIME* this_update = nullptr;
  ASN1_GENERALIZEDTIME* next_update = nullptr;  ///< null: none given
  bool disagree = false;  ///< several SingleResponses with different statuses
};

// Several SingleResponses for our CertID (§4.2.2.3 allows a responder to
// say more than once): any revoked wins; good wins only when they all
// agree; otherwise unknown. The chosen one provides the times; among
// agreeing answers, the one that expires first.
CertAnswer ChooseAnswer(const std::vector<OCSP_SINGLERESP*>& singles) {
  auto rank = [](int status) {
    return status == V_OCSP_CERTSTATUS_REVOKED ? 2 : status == V_OCSP_CERTSTATUS_UNKNOWN ? 1 : 0;
  };
  CertAnswer a;
  bool chosen = false;
  for (OCSP_SINGLERESP* s : singles) {
    CertAnswer x;
    x.status = OCSP_single_get0_status(s, &x.reason, &x.revoked_at, &x.this_update,
                                       &x.next_update);
    if (chosen && x.status != a.status) a.disagree = true;
    const bool earlier_expiry =
        x.status == a.status && x.next_update != nullptr &&
        (a.next_update == nullptr || ASN1_TIME_compare(x.next_update, a.next_update) < 0);
    if (!chosen || rank(x.status) > rank(a.status) || earlier_expiry) {
      x.disagree = a.disagree;
      a = x;
      chosen = true;
    }
  }
  if (a.disagree && a.status == V_OCSP_CERTSTATUS_GOOD) a.status = V_OCSP_CERTSTATUS_UNKNOWN;
  return a;
}

// §4.2.2.1: thisUpdate and nextUpdate readable and in order.
Step ReadUpdateTimes(const CertAnswer& a, OcspVerdict& v) {
  v.this_update = Asn1TimeToUnix(a.this_update);
  v.next_update = Asn1TimeToUnix(a.next_update);
  if (!v.this_update || (a.next_update != nullptr && !v.next_update)) {
    return Rejection{invalid_reason::kMalformed, "unparsable thisUpdate or nextUpdate"};
  }
  if (v.next_update && *v.next_update < *v.this_update) {
    return Rejection{invalid_reason::kMalformed, "nextUpdate is earlier than thisUpdate"};
  }
  return std::nullopt;
}

// RFC 5280 §4.2: a critical extension we do not understand rejects the
// response. Known: the nonce (RFC 8954) in responseExtensions; CRL
// references, archive cutoff, invalidity date and hold instruction in a
// SingleResponse.
Step CheckCriticalExtensions(OCSP_BASICRESP* b, const std::vector<OCSP_SINGLERESP*>& singles) {
  std::string unknown = UnknownCriticalExtension(
      OCSP_BASICRESP_get_ext_count(b), [b](int i) { return OCSP_BASICRESP_get_ext(b, i); },
      {NID_id_pkix_OCSP_Nonce});
  for (OCSP_SINGLERESP* s : singles) {
    if (!unknown.empty()) break;
    unknown = UnknownCriticalExtension(
        OCSP_SINGLERESP_get_ext_count(s), [s](int i) { return OCSP_SINGLERESP_get_ext(s, i); },
        {NID_id_pkix_OCSP_CrlID, NID_id_pkix_OCSP_archiveCutoff, NID_invalidity_date,
         NID_hold_instruction_code});
  }
  if (!unknown.empty()) {
    return Rejection{invalid_reason::kUnsupportedCriticalExtension,
                     "unrecognised critical extension " + unknown};
  }
  return std::nullopt;
}

// §4.2.1 ResponderID: the issuer and every included certificate it names.
std::vector<X509*> ResponderCandidates(OCSP_BASICRESP* bs, X509* issuer,
                                       const ASN1_OCTET_STRING* key_id, const X509_NAME* name) {
  std::vector<X509*> candidates;
  if (MatchesResponderId(issuer, key_id, name)) candidates.push_back(issuer);
  const STACK_OF(X509)* certs = OCSP_resp_get0_certs(bs);
  for (int i = 0; i < sk_X509_num(certs); ++i) {
    X509* c = sk_X509_value(certs, i);
    if (X509_cmp(c, issuer) != 0 && MatchesResponderId(c, key_id, name)) candidates.push_back(c);
  }
  return candidates;
}

// A rejection of one signer candidate, ranked by how far it got.
struct SignerRejection {
  int rank;
  Rejection rejection;
};

// §4.2.2.2: a delegated responder certificate is issued by the CA that
// issued the certificate, carries id-kp-OCSPSigning and is within its
// validity (± skew; its notAfter goes into v either way).
std::optional<SignerRejection> AuthoriseDelegate(X509* c, X509* issuer,
                                                 const VerifyOptions& options, int64_t now,
                                                 OcspVerdict& v) {
  EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
  if (X509_check_issued(issuer, c) != X509_V_OK || issuer_key == nullptr ||
      X509_verify(c, issuer_key) != 1) {
    return SignerRejection{0, {invalid_reason::kUnauthorizedSigner,
                               "responder certificate " + SubjectString(c) +
                                   " was not issued by the certificate's issuer"}};
  }
  // X509_get_extension_flags caches the extensions; EXFLAG_XKUSAGE says an
  // extendedKeyUsage is present at all.
  uint32_t flags = X509_get_extension_flags(c);
  if ((flags & EXFLAG_XKUSAGE) == 0 || (X509_get_extended_key_usage(c) & XKU_OCSP_SIGN) == 0) {
    return SignerRejection{1, {invalid_reason::kUnauthorizedSigner,
                               "responder certificate " + SubjectString(c) +
                                   " lacks id-kp-OCSPSigning"}};
  }
  auto nb = Asn1TimeToUnix(X509_get0_notBefore(c));
  auto na = Asn1TimeToUnix(X509_get0_notAfter(c));
  if (!nb || !na || *nb > now + options.skew_seconds || *na < now - options.skew_seconds) {
    v.signer_not_after = na;
    return SignerRejection{2, {invalid_reason::kSignerExpired,
                               "responder certificate " + SubjectString(c) +
                                   " is outside its validity period"}};
  }
  return std::nullopt;
}

// §4.2.2.2 and §3.2 (2)-(4): the signer is the CA itself or a responder it
// authorised, and the signature verifies with its key. Every certificate
// matching the ResponderID is tried (a renewed responder certificate with
// the same name, decoys in the unsigned `certs` field) before giving up;
// the failure reported is the one that got furthest. On success records
// in v whether the signer was delegated and until when it is valid.
Step FindAuthorisedSigner(OCSP_BASICRESP* bs, X509* issuer, const VerifyOptions& options,
                          int64_t now, OcspVerdict& v) {
  const ASN1_OCTET_STRING* key_id = nullptr;
  const X509_NAME* name = nullptr;
  if (OCSP_resp_get0_id(bs, &key_id, &name) != 1) {
    return Rejection{invalid_reason::kMalformed, "no ResponderID"};
  }
  std::vector<X509*> candidates = ResponderCandidates(bs, issuer, key_id, name);
  if (candidates.empty()) {
    return Rejection{invalid_reason::kSignerNotFound,
                     "ResponderID matches neither the issuer nor an included certificate"};
  }
  std::optional<SignerRejection> best;
  auto fail = [&](SignerRejection r) {
    if (!best || r.rank > best->rank) best = std::move(r);
    DrainOpenSslErrors();
  };
  for (X509* c : candidates) {
    if (c != issuer) {
      if (auto r = AuthoriseDelegate(c, issuer, options, now, v)) {
        fail(*std::move(r));
        continue;
      }
    }
    if (!VerifySignature(bs, X509_get0_pubkey(c))) {
      fail({3, {invalid_reason::kSignature, "signature does not verify with " + SubjectString(c)}});
      continue;
    }
    v.delegated_signer = c != issuer;
    v.signer_not_after.reset();
    if (v.delegated_signer) {
      v.signer_not_after = Asn1TimeToUnix(X509_get0_notAfter(c));
      if (v.signer_not_after) {
        v.signer_fresh_until = SaturatingAdd(*v.signer_not_after, options.skew_seconds);
      }
    }
    return std::nullopt;
  }
  return best->rejection;
}

// §4.2.2.1: the answer as it reads at `now`. Revocation is permanent (RFC
// 5280 §5.3.1): an authentic revoked answer stays revoked past its
// nextUpdate, with a negative margin; certificateHold is temporary, so an
// expired hold proves nothing.
OcspVerdict JudgeAt(OcspVerdict v, const CertAnswer& a, const VerifyOptions& options,
                    int64_t now) {
  if (*v.this_update > now + options.skew_seconds) {
    return Invalid(v, {invalid_reason::kNotYetValid, "thisUpdate is in the future"});
  }
  v.valid_until =
      v.next_update ? *v.next_update : *v.this_update + options.default_validity_seconds;
  v.fresh_until = *v.valid_until + options.skew_seconds;
  const bool expired = *v.valid_until < now - options.skew_seconds;
  const bool final_revocation =
      a.status == V_OCSP_CERTSTATUS_REVOKED && a.reason != OCSP_REVOKED_STATUS_CERTIFICATEHOLD;
  if (expired && !final_revocation) {
    return Invalid(v, {invalid_reason::kExpired,
                       v.next_update ? "nextUpdate has passed"
                                     : "no nextUpdate and thisUpdate is older than the default "
                                       "validity"});
  }
  switch (a.status) {
    case V_OCSP_CERTSTATUS_GOOD:
      v.state = ResponseState::kGood;
      break;
    case V_OCSP_CERTSTATUS_REVOKED:
      v.state = ResponseState::kRevoked;
      v.revoked_at = Asn1TimeToUnix(a.revoked_at);
      v.revocation_reason = std::string(RevocationReasonName(a.reason));
      if (expired) {
        v.expired = true;
        v.detail = "revoked; the response's nextUpdate has passed";
      }
      break;
    case V_OCSP_CERTSTATUS_UNKNOWN:
      v.state = ResponseState::kUnknown;
      break;
    default:
      return Invalid(v, {invalid_reason::kMalformed, "bad certStatus"});
  }
  DrainOpenSslErrors();
  return v;
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
  OcspBasicRespPtr bs;
  if (auto r = DecodeBasicResponse(der, bs)) return Invalid(v, *std::move(r));
  v.produced_at = Asn1TimeToUnix(OCSP_resp_get0_produced_at(bs.get()));
  std::vector<OCSP_SINGLERESP*> singles;
  if (auto r = FindOurSingleResponses(bs.get(), cert, issuer, singles)) {
    return Invalid(v, *std::move(r));
  }
  const CertAnswer answer = ChooseAnswer(singles);
  if (answer.disagree && answer.status == V_OCSP_CERTSTATUS_UNKNOWN) {
    v.detail = std::to_string(singles.size()) +
               " SingleResponses for this certificate disagree; read as unknown";
  }
  if (auto r = ReadUpdateTimes(answer, v)) return Invalid(v, *std::move(r));
  if (auto r = CheckCriticalExtensions(bs.get(), singles)) return Invalid(v, *std::move(r));
  if (auto r = FindAuthorisedSigner(bs.get(), issuer, options, now, v)) {
    return Invalid(v, *std::move(r));
  }
  v.signature_verified = true;
  return JudgeAt(std::move(v), answer, options, now);
}

namespace {

// How a verdict reads differently at `now` than when it was made (see
// VerdictAt), decided in one place for VerdictAt and VerdictLapsesAt.
enum class Lapse { kNone, kSignerExpired, kRevocationExpired, kExpired };

Lapse LapseAt(const OcspVerdict& v, int64_t now) {
  const bool hold = v.revocation_reason == "certificate_hold";
  const bool good_or_unknown =
      v.state == ResponseState::kGood || v.state == ResponseState::kUnknown;
  if (v.signer_fresh_until && now > *v.signer_fresh_until &&
      (good_or_unknown || (v.state == ResponseState::kRevoked && hold))) {
    return Lapse::kSignerExpired;
  }
  if (!v.fresh_until || now <= *v.fresh_until) return Lapse::kNone;
  if (v.state == ResponseState::kRevoked && !hold) {
    return v.expired ? Lapse::kNone : Lapse::kRevocationExpired;
  }
  return good_or_unknown || v.state == ResponseState::kRevoked ? Lapse::kExpired : Lapse::kNone;
}

}  // namespace

bool VerdictLapsesAt(const OcspVerdict& v, int64_t now) { return LapseAt(v, now) != Lapse::kNone; }

Shared<OcspVerdict> VerdictAt(Shared<OcspVerdict> v, int64_t now) {
  if (!VerdictLapsesAt(*v, now)) return v;
  return VerdictAt(*v, now);
}

OcspVerdict VerdictAt(OcspVerdict v, int64_t now) {
  switch (LapseAt(v, now)) {
    case Lapse::kNone:
      break;
    case Lapse::kSignerExpired:
      v.state = ResponseState::kInvalid;
      v.invalid_reason = std::string(invalid_reason::kSignerExpired);
      v.detail = "the delegated responder certificate that signed it expired at " +
                 FormatUnixTime(*v.signer_not_after);
      break;
    case Lapse::kRevocationExpired:
      v.expired = true;  // a revocation is permanent: still revoked, no longer fit to staple
      break;
    case Lapse::kExpired:
      v.state = ResponseState::kInvalid;
      v.invalid_reason = std::string(invalid_reason::kExpired);
      v.detail = v.next_update ? "nextUpdate has passed"
                               : "no nextUpdate and thisUpdate is older than the default validity";
      break;
  }
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
