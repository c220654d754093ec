#include "pki.h"

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace ose::testing {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what);
}

void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert, cert, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  Check(ext != nullptr, value);
  Check(X509_add_ext(cert, ext.get(), -1) == 1, "add ext");
}

Asn1TimePtr Time(int64_t t) { return Asn1TimePtr(ASN1_TIME_set(nullptr, static_cast<time_t>(t))); }

}  // namespace

EvpPkeyPtr GenerateRsaKey() {
  EvpPkeyPtr key(EVP_RSA_gen(2048));
  Check(key != nullptr, "rsa keygen");
  return key;
}

std::string SubjectKeyIdHex(X509* cert) {
  const ASN1_OCTET_STRING* id = X509_get0_subject_key_id(cert);
  if (id == nullptr) return "";
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (int i = 0; i < ASN1_STRING_length(id); ++i) {
    unsigned char b = ASN1_STRING_get0_data(id)[i];
    if (!out.empty()) out += ':';
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

// An extension with an OID nobody knows, marked critical.
X509ExtensionPtr UnknownCriticalExtension() {
  ASN1_OBJECT* obj = OBJ_txt2obj("1.3.6.1.4.1.55555.1.1", 1);
  Check(obj != nullptr, "oid");
  ASN1_OCTET_STRING* data = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(data, reinterpret_cast<const unsigned char*>("\x05\x00"), 2);
  X509ExtensionPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj, 1, data));
  ASN1_OBJECT_free(obj);
  ASN1_OCTET_STRING_free(data);
  Check(ext != nullptr, "extension");
  return ext;
}

EvpPkeyPtr GenerateKey() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  Check(key != nullptr, "keygen");
  return key;
}

static GENERAL_NAMES* UriNames(const std::vector<std::string>& uris) {
  GENERAL_NAMES* names = GENERAL_NAMES_new();
  for (const auto& uri : uris) {
    GENERAL_NAME* n = GENERAL_NAME_new();
    ASN1_IA5STRING* s = ASN1_IA5STRING_new();
    ASN1_STRING_set(s, uri.data(), static_cast<int>(uri.size()));
    GENERAL_NAME_set0_value(n, GEN_URI, s);
    sk_GENERAL_NAME_push(names, n);
  }
  return names;
}

static ASN1_BIT_STRING* ReasonBits(const std::vector<int>& bits) {
  ASN1_BIT_STRING* b = ASN1_BIT_STRING_new();
  for (int n : bits) ASN1_BIT_STRING_set_bit(b, n, 1);
  return b;
}

X509Ptr IssueCert(const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer,
                  EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), spec.serial);
  Asn1TimePtr nb = Time(spec.not_before), na = Time(spec.not_after);
  X509_set1_notBefore(cert.get(), nb.get());
  X509_set1_notAfter(cert.get(), na.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(),
                       issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert.get(), subject_key);
  AddExt(cert.get(), issuer, NID_subject_key_identifier,
         spec.subject_key_id.empty() ? "hash" : spec.subject_key_id.c_str());
  if (issuer != nullptr) AddExt(cert.get(), issuer, NID_authority_key_identifier, "keyid");
  if (spec.ca) {
    AddExt(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  } else {
    AddExt(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE");
  }
  if (!spec.key_usage.empty()) AddExt(cert.get(), issuer, NID_key_usage, spec.key_usage.c_str());
  if (spec.must_staple) AddExt(cert.get(), issuer, NID_tlsfeature, "status_request");
  for (const std::string& f : spec.tls_features) {
    AddExt(cert.get(), issuer, NID_tlsfeature, f.c_str());
  }
  if (spec.ocsp_signing) AddExt(cert.get(), issuer, NID_ext_key_usage, "OCSPSigning");
  if (!spec.crl_url.empty() && spec.crl_reasons.empty() && !spec.crl_indirect) {
    std::string v = "URI:" + spec.crl_url;
    AddExt(cert.get(), issuer, NID_crl_distribution_points, v.c_str());
  } else if (!spec.crl_url.empty()) {
    std::unique_ptr<CRL_DIST_POINTS, decltype(&CRL_DIST_POINTS_free)> dps(
        sk_DIST_POINT_new_null(), CRL_DIST_POINTS_free);
    DIST_POINT* dp = DIST_POINT_new();
    dp->distpoint = DIST_POINT_NAME_new();
    dp->distpoint->type = 0;
    dp->distpoint->name.fullname = UriNames({spec.crl_url});
    if (!spec.crl_reasons.empty()) dp->reasons = ReasonBits(spec.crl_reasons);
    if (spec.crl_indirect) dp->CRLissuer = UriNames({"http://crl-issuer.test/"});
    sk_DIST_POINT_push(dps.get(), dp);
    Check(X509_add1_ext_i2d(cert.get(), NID_crl_distribution_points, dps.get(), 0, 0) == 1,
          "cert crldp");
  }
  if (!spec.ocsp_url.empty()) {
    std::string v = "OCSP;URI:" + spec.ocsp_url;
    AddExt(cert.get(), issuer, NID_info_access, v.c_str());
  }
  Check(X509_sign(cert.get(), issuer_key, EVP_sha256()) > 0, "sign cert");
  return cert;
}

std::vector<uint8_t> MakeResponse(const ResponseSpec& spec, X509* cert, X509* issuer,
                                  X509* signer_cert, EVP_PKEY* signer_key) {
  OcspResponsePtr resp;
  if (spec.response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    resp.reset(OCSP_response_create(spec.response_status, nullptr));
  } else {
    OcspBasicRespPtr bs(OCSP_BASICRESP_new());
    OCSP_CERTID* id = OCSP_cert_to_id(spec.cert_id_md ? spec.cert_id_md : EVP_sha1(), cert,
                                      issuer);
    Check(id != nullptr, "cert id");
    OcspCertIdPtr id_owner(id);
    Asn1TimePtr tu = Time(spec.this_update);
    Asn1TimePtr nu = spec.next_update ? Time(*spec.next_update) : nullptr;
    Asn1TimePtr rv = Time(spec.revoked_at);
    std::vector<int> statuses{spec.cert_status};
    statuses.insert(statuses.end(), spec.extra_statuses.begin(), spec.extra_statuses.end());
    for (size_t i = 0; i < statuses.size(); ++i) {
      const int status = statuses[i];
      Asn1TimePtr own_nu = i >= 1 && i - 1 < spec.extra_next_updates.size()
                               ? Time(spec.extra_next_updates[i - 1])
                               : nullptr;
      OCSP_SINGLERESP* single = OCSP_basic_add1_status(
          bs.get(), id, status, status == V_OCSP_CERTSTATUS_REVOKED ? spec.revocation_reason : 0,
          status == V_OCSP_CERTSTATUS_REVOKED ? rv.get() : nullptr, tu.get(),
          own_nu ? own_nu.get() : nu.get());
      Check(single != nullptr, "add status");
      if (spec.critical_single_extension) {
        Check(OCSP_SINGLERESP_add_ext(single, UnknownCriticalExtension().get(), -1) == 1,
              "single ext");
      }
    }
    if (spec.critical_response_extension) {
      Check(OCSP_BASICRESP_add_ext(bs.get(), UnknownCriticalExtension().get(), -1) == 1,
            "response ext");
    }
    for (X509* c : spec.leading_certs) Check(OCSP_basic_add1_cert(bs.get(), c) == 1, "cert");
    if (spec.copy_nonce_from != nullptr) {
      Check(OCSP_copy_nonce(bs.get(), spec.copy_nonce_from) == 1, "copy nonce");
    }
    unsigned long flags = 0;
    if (!spec.include_signer) flags |= OCSP_NOCERTS;
    if (spec.responder_id_by_key) flags |= OCSP_RESPID_KEY;
    Check(OCSP_basic_sign(bs.get(), signer_cert, signer_key,
                          spec.sign_md ? spec.sign_md : EVP_sha256(), nullptr, flags) == 1,
          "sign response");
    for (X509* c : spec.extra_certs) Check(OCSP_basic_add1_cert(bs.get(), c) == 1, "cert");
    resp.reset(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs.get()));
  }
  Check(resp != nullptr, "response");
  unsigned char* raw = nullptr;
  int len = i2d_OCSP_RESPONSE(resp.get(), &raw);
  OpensslBytesPtr der(raw);
  Check(len > 0, "encode");
  return std::vector<uint8_t>(der.get(), der.get() + len);
}

TestCa MakeTestCa(int64_t now, const std::string& cn) {
  TestCa ca;
  ca.key = GenerateKey();
  ca.cert = IssueCert({.common_name = cn, .serial = 1, .not_before = now - 86400,
                       .not_after = now + 365 * 86400, .ca = true},
                      ca.key.get(), nullptr, ca.key.get());
  return ca;
}

// GENERAL_NAMES of URIs (caller owns).
std::vector<uint8_t> MakeCrl(const CrlSpec& spec, X509* issuer, EVP_PKEY* issuer_key) {
  OsslPtr<X509_CRL, X509_CRL_free> crl(X509_CRL_new());
  Check(crl != nullptr, "crl");
  X509_CRL_set_version(crl.get(), 1);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer));
  Asn1TimePtr tu = Time(spec.this_update);
  X509_CRL_set1_lastUpdate(crl.get(), tu.get());
  if (spec.next_update) {
    Asn1TimePtr nu = Time(*spec.next_update);
    X509_CRL_set1_nextUpdate(crl.get(), nu.get());
  }
  for (const auto& e : spec.revoked) {
    X509_REVOKED* r = X509_REVOKED_new();
    Asn1IntegerPtr serial(ASN1_INTEGER_new());
    ASN1_INTEGER_set(serial.get(), e.serial);
    X509_REVOKED_set_serialNumber(r, serial.get());
    Asn1TimePtr at = Time(e.revoked_at);
    X509_REVOKED_set_revocationDate(r, at.get());
    if (e.reason >= 0) {
      Asn1EnumeratedPtr code(ASN1_ENUMERATED_new());
      ASN1_ENUMERATED_set(code.get(), e.reason);
      X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, code.get(), 0, 0);
    }
    if (!e.certificate_issuer_cn.empty()) {
      OsslPtr<GENERAL_NAMES, GENERAL_NAMES_free> names(sk_GENERAL_NAME_new_null());
      GENERAL_NAME* dir = GENERAL_NAME_new();
      X509_NAME* name = X509_NAME_new();
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(
                                     e.certificate_issuer_cn.c_str()),
                                 -1, -1, 0);
      GENERAL_NAME_set0_value(dir, GEN_DIRNAME, name);
      sk_GENERAL_NAME_push(names.get(), dir);
      Check(X509_REVOKED_add1_ext_i2d(r, NID_certificate_issuer, names.get(), 1, 0) == 1,
            "certificate issuer");
    }
    Check(X509_CRL_add0_revoked(crl.get(), r) == 1, "add revoked");
  }
  if (spec.bulk_entries > 0) {
    Asn1TimePtr at = Time(spec.bulk_revoked_at);
    Asn1EnumeratedPtr code(ASN1_ENUMERATED_new());
    ASN1_ENUMERATED_set(code.get(), 1);  // keyCompromise
    std::vector<unsigned char> octets(static_cast<size_t>(spec.bulk_serial_bytes));
    for (size_t i = 0; i < spec.bulk_entries; ++i) {
      X509_REVOKED* r = X509_REVOKED_new();
      Check(r != nullptr && RAND_bytes(octets.data(), static_cast<int>(octets.size())) == 1,
            "bulk entry");
      octets[0] = static_cast<unsigned char>((octets[0] & 0x7F) | 0x01);  // positive, full length
      BignumPtr bn(BN_bin2bn(octets.data(), static_cast<int>(octets.size()), nullptr));
      Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
      X509_REVOKED_set_serialNumber(r, serial.get());
      X509_REVOKED_set_revocationDate(r, at.get());
      if (i % 2 == 0) X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, code.get(), 0, 0);
      Check(X509_CRL_add0_revoked(crl.get(), r) == 1, "add revoked");
    }
  }
  Asn1IntegerPtr number(ASN1_INTEGER_new());
  ASN1_INTEGER_set(number.get(), spec.crl_number);
  if (!spec.crl_number_decimal.empty()) {
    BIGNUM* bn = nullptr;
    Check(BN_dec2bn(&bn, spec.crl_number_decimal.c_str()) > 0, "crl number");
    BignumPtr owned(bn);
    number.reset(BN_to_ASN1_INTEGER(bn, nullptr));
  }
  X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0);
  if (spec.delta_base) {
    Asn1IntegerPtr base(ASN1_INTEGER_new());
    ASN1_INTEGER_set(base.get(), *spec.delta_base);
    X509_CRL_add1_ext_i2d(crl.get(), NID_delta_crl, base.get(), 1, 0);
  }
  if (spec.critical_unknown_extension) {
    Check(X509_CRL_add_ext(crl.get(), UnknownCriticalExtension().get(), -1) == 1, "crl ext");
  }
  if (!spec.idp_uris.empty() || spec.idp_only_ca || spec.idp_only_user || spec.idp_only_attribute ||
      spec.idp_indirect || !spec.idp_only_some_reasons.empty()) {
    std::unique_ptr<ISSUING_DIST_POINT, decltype(&ISSUING_DIST_POINT_free)> idp(
        ISSUING_DIST_POINT_new(), ISSUING_DIST_POINT_free);
    if (!spec.idp_uris.empty()) {
      idp->distpoint = DIST_POINT_NAME_new();
      idp->distpoint->type = 0;
      idp->distpoint->name.fullname = UriNames(spec.idp_uris);
    }
    idp->onlyCA = spec.idp_only_ca ? 0xFF : 0;
    idp->onlyuser = spec.idp_only_user ? 0xFF : 0;
    idp->onlyattr = spec.idp_only_attribute ? 0xFF : 0;
    idp->indirectCRL = spec.idp_indirect ? 0xFF : 0;
    if (!spec.idp_only_some_reasons.empty()) {
      idp->onlysomereasons = ReasonBits(spec.idp_only_some_reasons);
    }
    Check(X509_CRL_add1_ext_i2d(crl.get(), NID_issuing_distribution_point, idp.get(), 1, 0) == 1,
          "crl idp");
  }
  if (!spec.freshest_uris.empty()) {
    std::unique_ptr<CRL_DIST_POINTS, decltype(&CRL_DIST_POINTS_free)> dps(
        sk_DIST_POINT_new_null(), CRL_DIST_POINTS_free);
    DIST_POINT* dp = DIST_POINT_new();
    dp->distpoint = DIST_POINT_NAME_new();
    dp->distpoint->type = 0;
    dp->distpoint->name.fullname = UriNames(spec.freshest_uris);
    sk_DIST_POINT_push(dps.get(), dp);
    Check(X509_CRL_add1_ext_i2d(crl.get(), NID_freshest_crl, dps.get(), 0, 0) == 1,
          "crl freshest");
  }
  X509_CRL_sort(crl.get());
  Check(X509_CRL_sign(crl.get(), issuer_key, spec.md ? spec.md : EVP_sha256()) > 0, "sign crl");
  unsigned char* raw = nullptr;
  int len = i2d_X509_CRL(crl.get(), &raw);
  OpensslBytesPtr der(raw);
  Check(len > 0, "encode crl");
  return std::vector<uint8_t>(der.get(), der.get() + len);
}

void WritePem(const std::string& path, const std::vector<X509*>& certs) {
  BioPtr bio(BIO_new_file(path.c_str(), "w"));
  Check(bio != nullptr, "open pem");
  for (X509* c : certs) Check(PEM_write_bio_X509(bio.get(), c) == 1, "write pem");
}

void WriteKeyPem(const std::string& path, EVP_PKEY* key) {
  BioPtr bio(BIO_new_file(path.c_str(), "w"));
  Check(bio != nullptr, "open key pem");
  Check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "write key pem");
}

}  // namespace ose::testing
