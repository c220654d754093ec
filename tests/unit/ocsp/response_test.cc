// Truth table of OCSP response verification (RFC 6960 §3.2, §4.2.2.2) over
// responses generated relative to a fixed "now".
#include "ocsp_staple_exporter/ocsp/response.h"

#include <gtest/gtest.h>

#include <ctime>
#include <random>

#include "ocsp_staple_exporter/ocsp/certificate.h"
#include "pki.h"

namespace ose {
namespace {

using testing::CertSpec;
using testing::GenerateKey;
using testing::IssueCert;
using testing::MakeResponse;
using testing::ResponseSpec;

constexpr int64_t kDay = 86400;

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ = static_cast<int64_t>(std::time(nullptr));
    ca_key_ = GenerateKey();
    ca_ = IssueCert({.common_name = "Test CA", .serial = 1, .not_before = now_ - kDay,
                     .not_after = now_ + 365 * kDay, .ca = true},
                    ca_key_.get(), nullptr, ca_key_.get());
    leaf_key_ = GenerateKey();
    leaf_ = IssueCert({.common_name = "leaf.test", .serial = 4242, .not_before = now_ - kDay,
                       .not_after = now_ + 90 * kDay, .must_staple = true},
                      leaf_key_.get(), ca_.get(), ca_key_.get());
  }

  ResponseSpec Fresh() const {
    ResponseSpec s;
    s.this_update = now_ - 3600;
    s.next_update = now_ + 3 * kDay;
    return s;
  }

  OcspVerdict Verify(const std::vector<uint8_t>& der) {
    return VerifyOcspResponse(der, leaf_.get(), ca_.get(), VerifyOptions{}, now_);
  }

  OcspVerdict SignedByCa(const ResponseSpec& spec) {
    return Verify(MakeResponse(spec, leaf_.get(), ca_.get(), ca_.get(), ca_key_.get()));
  }

  // A delegated responder certificate issued by `issuer`.
  X509Ptr Responder(EVP_PKEY* key, bool eku, X509* issuer, EVP_PKEY* issuer_key,
                    int64_t not_after_offset = 30 * kDay) {
    return IssueCert({.common_name = "OCSP Responder", .serial = 77,
                      .not_before = now_ - kDay, .not_after = now_ + not_after_offset,
                      .ocsp_signing = eku},
                     key, issuer, issuer_key);
  }

  int64_t now_ = 0;
  EvpPkeyPtr ca_key_, leaf_key_;
  X509Ptr ca_, leaf_;
};

TEST_F(VerifyTest, GoodResponseSignedByIssuer) {
  auto v = SignedByCa(Fresh());
  EXPECT_EQ(v.state, ResponseState::kGood) << v.detail;
  EXPECT_EQ(v.this_update, now_ - 3600);
  EXPECT_EQ(v.next_update, now_ + 3 * kDay);
  EXPECT_EQ(v.valid_until, now_ + 3 * kDay);
  ASSERT_TRUE(v.produced_at.has_value());
  EXPECT_NEAR(static_cast<double>(*v.produced_at), static_cast<double>(now_), 120);
  EXPECT_FALSE(v.delegated_signer);
  EXPECT_TRUE(v.signature_verified);
}

TEST_F(VerifyTest, GoodWithSha256CertIdAndResponderIdByKey) {
  auto spec = Fresh();
  spec.cert_id_md = EVP_sha256();
  spec.responder_id_by_key = true;
  spec.include_signer = false;
  auto v = SignedByCa(spec);
  EXPECT_EQ(v.state, ResponseState::kGood) << v.detail;
}

TEST_F(VerifyTest, RevokedWithReason) {
  auto spec = Fresh();
  spec.cert_status = V_OCSP_CERTSTATUS_REVOKED;
  spec.revocation_reason = OCSP_REVOKED_STATUS_KEYCOMPROMISE;
  spec.revoked_at = now_ - 2 * kDay;
  auto v = SignedByCa(spec);
  EXPECT_EQ(v.state, ResponseState::kRevoked) << v.detail;
  EXPECT_EQ(v.revoked_at, now_ - 2 * kDay);
  EXPECT_EQ(v.revocation_reason, "key_compromise");
}

TEST_F(VerifyTest, RevokedWithoutReasonIsUnspecified) {
  auto spec = Fresh();
  spec.cert_status = V_OCSP_CERTSTATUS_REVOKED;
  spec.revoked_at = now_ - 60;
  auto v = SignedByCa(spec);
  EXPECT_EQ(v.state, ResponseState::kRevoked) << v.detail;
  EXPECT_EQ(v.revocation_reason, "unspecified");
}

TEST_F(VerifyTest, Unknown) {
  auto spec = Fresh();
  spec.cert_status = V_OCSP_CERTSTATUS_UNKNOWN;
  EXPECT_EQ(SignedByCa(spec).state, ResponseState::kUnknown);
}

TEST_F(VerifyTest, Expired) {
  auto spec = Fresh();
  spec.this_update = now_ - 3 * kDay;
  spec.next_update = now_ - kDay;
  auto v = SignedByCa(spec);
  EXPECT_EQ(v.state, ResponseState::kInvalid);
  EXPECT_EQ(v.invalid_reason, invalid_reason::kExpired);
  // Authenticated times stay visible so the margin shows how late it is.
  EXPECT_EQ(v.next_update, now_ - kDay);
  EXPECT_TRUE(v.signature_verified);
}

// A revocation (with `reason`) whose nextUpdate passed a day ago.
testing::ResponseSpec ExpiredRevocation(testing::ResponseSpec spec, int reason, int64_t now) {
  spec.cert_status = V_OCSP_CERTSTATUS_REVOKED;
  spec.revocation_reason = reason;
  spec.revoked_at = now - 5 * kDay;
  spec.this_update = now - 3 * kDay;
  spec.next_update = now - kDay;
  return spec;
}

TEST_F(VerifyTest, ExpiredRevokedStaysRevoked) {
  // Revocation is permanent: past nextUpdate an authentic revocation still
  // reads revoked, marked expired, with its reason and time.
  auto spec = ExpiredRevocation(Fresh(), OCSP_REVOKED_STATUS_KEYCOMPROMISE, now_);
  auto v = SignedByCa(spec);
  EXPECT_EQ(v.state, ResponseState::kRevoked) << v.detail;
  EXPECT_TRUE(v.expired);
  EXPECT_EQ(v.revocation_reason, "key_compromise");
  EXPECT_EQ(v.revoked_at, now_ - 5 * kDay);
  EXPECT_EQ(v.valid_until, now_ - kDay);
  // A fresh revocation is not marked expired.
  spec.next_update = now_ + kDay;
  EXPECT_FALSE(SignedByCa(spec).expired);
}

TEST_F(VerifyTest, ExpiredCertificateHoldIsInvalid) {
  // certificateHold is temporary: once expired it proves nothing.
  auto v = SignedByCa(ExpiredRevocation(Fresh(), OCSP_REVOKED_STATUS_CERTIFICATEHOLD, now_));
  EXPECT_EQ(v.state, ResponseState::kInvalid);
  EXPECT_EQ(v.invalid_reason, invalid_reason::kExpired);
}

TEST_F(VerifyTest, ExpiredWithinSkewIsStillValid) {
  auto spec = Fresh();
  spec.next_update = now_ - 200;  // skew is 300 s
  EXPECT_EQ(SignedByCa(spec).state, ResponseState::kGood);
  spec.next_update = now_ - 400;
  EXPECT_EQ(SignedByCa(spec).invalid_reason, invalid_reason::kExpired);
}

TEST_F(VerifyTest, NotYetValid) {
  auto spec = Fresh();
  spec.this_update = now_ + 3600;
  spec.next_update = now_ + 2 * kDay;
  auto v = SignedByCa(spec);
  EXPECT_EQ(v.state, ResponseState::kInvalid);
  EXPECT_EQ(v.invalid_reason, invalid_reason::kNotYetValid);
}

TEST_F(VerifyTest, MissingNextUpdateUsesDefaultValidity) {
  auto spec = Fresh();
  spec.next_update.reset();
  spec.this_update = now_ - 600;
  auto v = SignedByCa(spec);
  EXPECT_EQ(v.state, ResponseState::kGood) << v.detail;
  EXPECT_FALSE(v.next_update.has_value());
  EXPECT_EQ(v.valid_until, now_ - 600 + 3600);

  spec.this_update = now_ - 3600 - 301;  // default 1 h + skew 300 s
  v = SignedByCa(spec);
  EXPECT_EQ(v.invalid_reason, invalid_reason::kExpired);

  VerifyOptions longer;
  longer.default_validity_seconds = 2 * 3600;
  v = VerifyOcspResponse(MakeResponse(spec, leaf_.get(), ca_.get(), ca_.get(), ca_key_.get()),
                         leaf_.get(), ca_.get(), longer, now_);
  EXPECT_EQ(v.state, ResponseState::kGood) << v.detail;
}

TEST_F(VerifyTest, SignedByAKeyThatIsNotTheIssuers) {
  // Same subject name as the CA, different key: the ResponderID byName
  // matches the issuer, the signature must not.
  auto rogue_key = GenerateKey();
  auto rogue = IssueCert({.common_name = "Test CA", .serial = 9, .not_before = now_ - kDay,
                          .not_after = now_ + kDay, .ca = true},
                         rogue_key.get(), nullptr, rogue_key.get());
  auto spec = Fresh();
  spec.include_signer = false;
  auto v = Verify(MakeResponse(spec, leaf_.get(), ca_.get(), rogue.get(), rogue_key.get()));
  EXPECT_EQ(v.state, ResponseState::kInvalid);
  EXPECT_EQ(v.invalid_reason, invalid_reason::kSignature);
  EXPECT_FALSE(v.signature_verified);
}

TEST_F(VerifyTest, SignerNotFound) {
  auto other_key = GenerateKey();
  auto other = IssueCert({.common_name = "Somebody", .serial = 9, .not_before = now_ - kDay,
                          .not_after = now_ + kDay},
                         other_key.get(), nullptr, other_key.get());
  auto spec = Fresh();
  spec.include_signer = false;
  auto v = Verify(MakeResponse(spec, leaf_.get(), ca_.get(), other.get(), other_key.get()));
  EXPECT_EQ(v.invalid_reason, invalid_reason::kSignerNotFound);
}

TEST_F(VerifyTest, DelegatedResponderWithOcspSigning) {
  auto key = GenerateKey();
  auto responder = Responder(key.get(), true, ca_.get(), ca_key_.get());
  auto v = Verify(MakeResponse(Fresh(), leaf_.get(), ca_.get(), responder.get(), key.get()));
  EXPECT_EQ(v.state, ResponseState::kGood) << v.detail;
  EXPECT_TRUE(v.delegated_signer);
}

TEST_F(VerifyTest, DelegatedResponderWithoutOcspSigning) {
  auto key = GenerateKey();
  auto responder = Responder(key.get(), false, ca_.get(), ca_key_.get());
  auto v = Verify(MakeResponse(Fresh(), leaf_.get(), ca_.get(), responder.get(), key.get()));
  EXPECT_EQ(v.state, ResponseState::kInvalid);
  EXPECT_EQ(v.invalid_reason, invalid_reason::kUnauthorizedSigner);
}

TEST_F(VerifyTest, DelegatedResponderIssuedByAnotherCa) {
  auto other_ca_key = GenerateKey();
  auto other_ca = IssueCert({.common_name = "Other CA", .serial = 2, .not_before = now_ - kDay,
                             .not_after = now_ + kDay, .ca = true},
                            other_ca_key.get(), nullptr, other_ca_key.get());
  auto key = GenerateKey();
  auto responder = Responder(key.get(), true, other_ca.get(), other_ca_key.get());
  auto v = Verify(MakeResponse(Fresh(), leaf_.get(), ca_.get(), responder.get(), key.get()));
  EXPECT_EQ(v.invalid_reason, invalid_reason::kUnauthorizedSigner);
}

TEST_F(VerifyTest, DelegatedResponderExpired) {
  auto key = GenerateKey();
  auto responder = Responder(key.get(), true, ca_.get(), ca_key_.get(), -kDay / 2);
  auto v = Verify(MakeResponse(Fresh(), leaf_.get(), ca_.get(), responder.get(), key.get()));
  EXPECT_EQ(v.invalid_reason, invalid_reason::kSignerExpired);
}

// #9.4: several SingleResponses for our CertID: any revoked wins; good
// never wins over a disagreeing entry.
TEST_F(VerifyTest, SeveralSingleResponsesForTheSameCertificate) {
  auto spec = Fresh();
  spec.extra_statuses = {V_OCSP_CERTSTATUS_GOOD};
  EXPECT_EQ(SignedByCa(spec).state, ResponseState::kGood);
  spec.extra_statuses = {V_OCSP_CERTSTATUS_REVOKED};
  spec.revocation_reason = OCSP_REVOKED_STATUS_SUPERSEDED;
  spec.revoked_at = now_ - kDay;
  auto revoked = SignedByCa(spec);
  EXPECT_EQ(revoked.state, ResponseState::kRevoked) << revoked.detail;
  EXPECT_EQ(revoked.revocation_reason, "superseded");
  spec.extra_statuses = {V_OCSP_CERTSTATUS_UNKNOWN};
  auto mixed = SignedByCa(spec);
  EXPECT_EQ(mixed.state, ResponseState::kUnknown);
  EXPECT_NE(mixed.detail.find("disagree"), std::string::npos) << mixed.detail;
  // A revocation first and good after it: still revoked.
  spec.cert_status = V_OCSP_CERTSTATUS_REVOKED;
  spec.extra_statuses = {V_OCSP_CERTSTATUS_GOOD, V_OCSP_CERTSTATUS_GOOD};
  EXPECT_EQ(SignedByCa(spec).state, ResponseState::kRevoked);
}

// Among SingleResponses that agree, the times are those of the one that
// expires first: the staple is only as fresh as its stalest answer.
TEST_F(VerifyTest, AgreeingSingleResponsesGiveTheEarliestNextUpdate) {
  auto spec = Fresh();  // nextUpdate now + 3 days
  spec.extra_statuses = {V_OCSP_CERTSTATUS_GOOD, V_OCSP_CERTSTATUS_GOOD};
  spec.extra_next_updates = {now_ + 5 * kDay, now_ + kDay};
  auto v = SignedByCa(spec);
  EXPECT_EQ(v.state, ResponseState::kGood) << v.detail;
  ASSERT_TRUE(v.next_update.has_value());
  EXPECT_EQ(*v.next_update, now_ + kDay);
  // One of them already past its nextUpdate: the answer has expired.
  spec.extra_next_updates = {now_ + 5 * kDay, now_ - 1800};  // after thisUpdate, past skew
  auto stale = SignedByCa(spec);
  EXPECT_EQ(stale.state, ResponseState::kInvalid);
  EXPECT_EQ(stale.invalid_reason, invalid_reason::kExpired) << stale.detail;
  // A revoked answer wins over an earlier-expiring good one, with its own times.
  spec.cert_status = V_OCSP_CERTSTATUS_REVOKED;
  spec.revocation_reason = OCSP_REVOKED_STATUS_KEYCOMPROMISE;
  spec.revoked_at = now_ - kDay;
  spec.extra_next_updates = {now_ + kDay, now_ + 2 * kDay};
  auto revoked = SignedByCa(spec);
  EXPECT_EQ(revoked.state, ResponseState::kRevoked) << revoked.detail;
  ASSERT_TRUE(revoked.next_update.has_value());
  EXPECT_EQ(*revoked.next_update, now_ + 3 * kDay);
}

// #9.5: every certificate matching the ResponderID is tried.
TEST_F(VerifyTest, SignerSearchTriesEveryMatchingCertificate) {
  auto old_key = GenerateKey(), new_key = GenerateKey(), decoy_key = GenerateKey();
  // Old and renewed responder certificates share the name.
  auto old_responder = Responder(old_key.get(), true, ca_.get(), ca_key_.get());
  auto renewed = Responder(new_key.get(), true, ca_.get(), ca_key_.get());
  // A decoy with the same name, self-issued.
  auto decoy = IssueCert({.common_name = "OCSP Responder", .serial = 78, .not_before = now_ - kDay,
                          .not_after = now_ + kDay, .ocsp_signing = true},
                         decoy_key.get(), nullptr, decoy_key.get());
  auto spec = Fresh();
  spec.leading_certs = {decoy.get(), old_responder.get()};
  auto v = Verify(MakeResponse(spec, leaf_.get(), ca_.get(), renewed.get(), new_key.get()));
  EXPECT_EQ(v.state, ResponseState::kGood) << v.detail;
  EXPECT_TRUE(v.delegated_signer);
  // Only the old and the decoy: the failure that got furthest is reported.
  auto only = Fresh();
  only.include_signer = false;
  only.leading_certs = {decoy.get(), old_responder.get()};
  auto bad = Verify(MakeResponse(only, leaf_.get(), ca_.get(), renewed.get(), new_key.get()));
  EXPECT_EQ(bad.state, ResponseState::kInvalid);
  EXPECT_EQ(bad.invalid_reason, invalid_reason::kSignature) << bad.detail;
}

// #9.6: critical extensions, time order, weak algorithms.
TEST_F(VerifyTest, UnknownCriticalExtensionsAreRefused) {
  auto spec = Fresh();
  spec.critical_response_extension = true;
  auto a = SignedByCa(spec);
  EXPECT_EQ(a.state, ResponseState::kInvalid);
  EXPECT_EQ(a.invalid_reason, invalid_reason::kUnsupportedCriticalExtension);
  EXPECT_NE(a.detail.find("1.3.6.1.4.1.55555.1.1"), std::string::npos) << a.detail;
  spec = Fresh();
  spec.critical_single_extension = true;
  EXPECT_EQ(SignedByCa(spec).invalid_reason, invalid_reason::kUnsupportedCriticalExtension);
  // The nonce may be critical-free or not: a known extension is fine.
  spec = Fresh();
  OcspRequestPtr req(OCSP_REQUEST_new());
  ASSERT_EQ(OCSP_request_add1_nonce(req.get(), nullptr, 16), 1);
  spec.copy_nonce_from = req.get();
  EXPECT_EQ(SignedByCa(spec).state, ResponseState::kGood);
}

TEST_F(VerifyTest, NextUpdateBeforeThisUpdateIsMalformed) {
  auto spec = Fresh();
  spec.this_update = now_ - 60;
  spec.next_update = now_ - 120;
  auto v = SignedByCa(spec);
  EXPECT_EQ(v.invalid_reason, invalid_reason::kMalformed);
  EXPECT_NE(v.detail.find("earlier than thisUpdate"), std::string::npos) << v.detail;
}

TEST_F(VerifyTest, Md5CertIdAndMd5SignatureAreWeak) {
  auto spec = Fresh();
  spec.cert_id_md = EVP_md5();
  auto v = SignedByCa(spec);
  EXPECT_EQ(v.invalid_reason, invalid_reason::kWeakAlgorithm) << v.detail;
  // md5WithRSAEncryption by an RSA CA.
  auto rsa_key = testing::GenerateRsaKey();
  auto rsa_ca = IssueCert({.common_name = "RSA CA", .serial = 9, .not_before = now_ - kDay,
                           .not_after = now_ + kDay, .ca = true},
                          rsa_key.get(), nullptr, rsa_key.get());
  auto rsa_leaf = IssueCert({.common_name = "rsa.test", .serial = 10, .not_before = now_ - kDay,
                             .not_after = now_ + kDay},
                            leaf_key_.get(), rsa_ca.get(), rsa_key.get());
  auto md5 = Fresh();
  md5.sign_md = EVP_md5();
  auto der = MakeResponse(md5, rsa_leaf.get(), rsa_ca.get(), rsa_ca.get(), rsa_key.get());
  auto w = VerifyOcspResponse(der, rsa_leaf.get(), rsa_ca.get(), {}, now_);
  EXPECT_EQ(w.invalid_reason, invalid_reason::kWeakAlgorithm) << w.detail;
  // The same with SHA-256 is good: the refusal is about MD5.
  auto sha = Fresh();
  der = MakeResponse(sha, rsa_leaf.get(), rsa_ca.get(), rsa_ca.get(), rsa_key.get());
  EXPECT_EQ(VerifyOcspResponse(der, rsa_leaf.get(), rsa_ca.get(), {}, now_).state,
            ResponseState::kGood);
}

// #9.8: a rogue CA and a rogue delegated responder with the real names and
// copied key identifiers. Only the signature checks tell them apart.
TEST_F(VerifyTest, RogueIssuerAndResponderWithCopiedNamesAndKeyIds) {
  auto rogue_key = GenerateKey();
  auto rogue_ca = IssueCert({.common_name = "Test CA", .serial = 1, .not_before = now_ - kDay,
                             .not_after = now_ + 365 * kDay, .ca = true,
                             .subject_key_id = testing::SubjectKeyIdHex(ca_.get())},
                            rogue_key.get(), nullptr, rogue_key.get());
  ASSERT_EQ(testing::SubjectKeyIdHex(rogue_ca.get()), testing::SubjectKeyIdHex(ca_.get()));
  // A responder the rogue CA "authorised": name, AKI and EKU look right.
  auto responder_key = GenerateKey();
  auto rogue_responder = Responder(responder_key.get(), true, rogue_ca.get(), rogue_key.get());
  ASSERT_EQ(X509_check_issued(ca_.get(), rogue_responder.get()), X509_V_OK);
  auto v = Verify(MakeResponse(Fresh(), leaf_.get(), ca_.get(), rogue_responder.get(),
                               responder_key.get()));
  EXPECT_EQ(v.state, ResponseState::kInvalid);
  EXPECT_EQ(v.invalid_reason, invalid_reason::kUnauthorizedSigner) << v.detail;
  // Signed by the rogue CA itself (ResponderID = the real CA's name).
  auto w = Verify(MakeResponse(Fresh(), leaf_.get(), ca_.get(), rogue_ca.get(), rogue_key.get()));
  EXPECT_EQ(w.invalid_reason, invalid_reason::kSignature) << w.detail;
  // Issuer lookup: the rogue CA in front of the real one is skipped.
  std::vector<X509*> chain{rogue_ca.get(), ca_.get()};
  EXPECT_EQ(FindIssuer(leaf_.get(), chain), ca_.get());
  std::vector<X509*> rogue_only{rogue_ca.get()};
  EXPECT_EQ(FindIssuer(leaf_.get(), rogue_only), nullptr);
}

TEST_F(VerifyTest, CertIdOfAnotherSerial) {
  auto other_key = GenerateKey();
  auto other = IssueCert({.common_name = "other.test", .serial = 4243,
                          .not_before = now_ - kDay, .not_after = now_ + kDay},
                         other_key.get(), ca_.get(), ca_key_.get());
  auto der = MakeResponse(Fresh(), other.get(), ca_.get(), ca_.get(), ca_key_.get());
  auto v = Verify(der);
  EXPECT_EQ(v.state, ResponseState::kInvalid);
  EXPECT_EQ(v.invalid_reason, invalid_reason::kCertIdMismatch);
}

TEST_F(VerifyTest, CertIdOfAnotherIssuer) {
  // The leaf's serial, but CertID hashes computed over another CA.
  auto other_ca_key = GenerateKey();
  auto other_ca = IssueCert({.common_name = "Test CA", .serial = 3, .not_before = now_ - kDay,
                             .not_after = now_ + kDay, .ca = true},
                            other_ca_key.get(), nullptr, other_ca_key.get());
  auto der = MakeResponse(Fresh(), leaf_.get(), other_ca.get(), ca_.get(), ca_key_.get());
  EXPECT_EQ(Verify(der).invalid_reason, invalid_reason::kCertIdMismatch);
}

TEST_F(VerifyTest, TruncatedGarbageAndEmpty) {
  auto der = MakeResponse(Fresh(), leaf_.get(), ca_.get(), ca_.get(), ca_key_.get());
  for (size_t cut : {size_t{1}, size_t{10}, der.size() / 2, der.size() - 1}) {
    std::vector<uint8_t> t(der.begin(), der.begin() + static_cast<long>(cut));
    auto v = Verify(t);
    EXPECT_EQ(v.state, ResponseState::kInvalid) << "cut " << cut;
    EXPECT_EQ(v.invalid_reason, invalid_reason::kMalformed) << "cut " << cut;
  }
  std::vector<uint8_t> garbage = {'<', 'h', 't', 'm', 'l', '>', 0, 1, 2, 3};
  EXPECT_EQ(Verify(garbage).invalid_reason, invalid_reason::kMalformed);
  EXPECT_EQ(Verify({}).invalid_reason, invalid_reason::kMalformed);
  auto trailing = der;
  trailing.push_back(0);
  EXPECT_EQ(Verify(trailing).invalid_reason, invalid_reason::kMalformed);
}

TEST_F(VerifyTest, EveryFlippedByteIsNeverGood) {
  // Without included certificates (which the signature does not cover, and
  // which are not needed when the issuer signs), every byte is either DER
  // framing or signed data or the signature itself: flipping any bit must
  // never leave a response that reads good.
  auto spec = Fresh();
  spec.include_signer = false;
  auto der = MakeResponse(spec, leaf_.get(), ca_.get(), ca_.get(), ca_key_.get());
  ASSERT_EQ(Verify(der).state, ResponseState::kGood);
  for (size_t i = 0; i < der.size(); ++i) {
    auto t = der;
    t[i] ^= 0x01;
    auto v = Verify(t);
    EXPECT_NE(v.state, ResponseState::kGood) << "flipping byte " << i << " still verified";
    if (v.state == ResponseState::kInvalid) {
      EXPECT_FALSE(v.invalid_reason.empty());
    }
  }
}

TEST_F(VerifyTest, NonSuccessfulResponseStatus) {
  const std::pair<int, std::string_view> cases[] = {
      {OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, invalid_reason::kMalformedRequest},
      {OCSP_RESPONSE_STATUS_INTERNALERROR, invalid_reason::kInternalError},
      {OCSP_RESPONSE_STATUS_TRYLATER, invalid_reason::kTryLater},
      {OCSP_RESPONSE_STATUS_SIGREQUIRED, invalid_reason::kSigRequired},
      {OCSP_RESPONSE_STATUS_UNAUTHORIZED, invalid_reason::kUnauthorized},
  };
  for (const auto& [status, reason] : cases) {
    ResponseSpec spec;
    spec.response_status = status;
    auto v = SignedByCa(spec);
    EXPECT_EQ(v.state, ResponseState::kInvalid);
    EXPECT_EQ(v.invalid_reason, reason);
  }
}

// VerdictLapsesAt is the cheap question VerdictAt answers by copying: for
// every state, reason, expiry flag and clock position (before, at and
// after fresh_until and signer_fresh_until) they agree.
TEST(VerdictLapsesAt, AgreesWithVerdictAt) {
  const ResponseState states[] = {ResponseState::kGood, ResponseState::kRevoked,
                                  ResponseState::kUnknown, ResponseState::kAbsent,
                                  ResponseState::kInvalid};
  int lapsed = 0;
  for (ResponseState state : states) {
    for (const char* reason : {"", "key_compromise", "certificate_hold"}) {
      for (bool expired : {false, true}) {
        for (int clocks = 0; clocks < 4; ++clocks) {
          OcspVerdict v;
          v.state = state;
          if (*reason != 0) v.revocation_reason = reason;
          v.expired = expired;
          if (clocks & 1) v.fresh_until = 1000;
          if (clocks & 2) v.signer_fresh_until = 900;
          for (int64_t now : {899, 900, 901, 1000, 1001}) {
            const OcspVerdict at = VerdictAt(v, now);
            const bool differs = at.state != v.state || at.expired != v.expired ||
                                 at.invalid_reason != v.invalid_reason;
            EXPECT_EQ(VerdictLapsesAt(v, now), differs)
                << StateName(state) << " reason=" << reason << " expired=" << expired
                << " clocks=" << clocks << " now=" << now;
            lapsed += differs;
          }
        }
      }
    }
  }
  EXPECT_GT(lapsed, 0);
}

TEST(RevocationReasonName, AllRfc5280Codes) {
  const char* expected[] = {"unspecified",  "key_compromise",         "ca_compromise",
                            "affiliation_changed", "superseded", "cessation_of_operation",
                            "certificate_hold", "unspecified", "remove_from_crl",
                            "privilege_withdrawn", "aa_compromise"};
  for (int code = 0; code <= 10; ++code) EXPECT_EQ(RevocationReasonName(code), expected[code]);
  EXPECT_EQ(RevocationReasonName(-1), "unspecified");
  EXPECT_EQ(RevocationReasonName(99), "unspecified");
}

TEST(StateName, MatchesTheSpecStateSet) {
  EXPECT_EQ(StateName(ResponseState::kGood), "good");
  EXPECT_EQ(StateName(ResponseState::kRevoked), "revoked");
  EXPECT_EQ(StateName(ResponseState::kUnknown), "unknown");
  EXPECT_EQ(StateName(ResponseState::kAbsent), "absent");
  EXPECT_EQ(StateName(ResponseState::kInvalid), "invalid");
}

}  // namespace
}  // namespace ose

namespace ose {
namespace {

// Hostile bytes: thousands of random mutations (flips, truncations,
// insertions, deletions) of valid responses, by a fixed seed. None may crash
// (the suite also runs under ASan/UBSan) and, for a response without
// included certificates, none may verify as good.
TEST_F(VerifyTest, RandomMutationsNeverCrashNorReadGood) {
  auto key = testing::GenerateKey();
  auto responder = Responder(key.get(), true, ca_.get(), ca_key_.get());
  auto bare_spec = Fresh();
  bare_spec.include_signer = false;
  const auto bare = MakeResponse(bare_spec, leaf_.get(), ca_.get(), ca_.get(), ca_key_.get());
  const auto delegated =
      MakeResponse(Fresh(), leaf_.get(), ca_.get(), responder.get(), key.get());
  std::mt19937 rng(20261122);
  int good = 0;
  for (int round = 0; round < 4000; ++round) {
    const auto& base = round % 2 == 0 ? bare : delegated;
    auto m = base;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !m.empty(); ++e) {
      size_t at = rng() % m.size();
      switch (rng() % 4) {
        case 0: m[at] = static_cast<uint8_t>(rng()); break;
        case 1: m.resize(at); break;
        case 2: m.insert(m.begin() + static_cast<long>(at), static_cast<uint8_t>(rng())); break;
        default: m.erase(m.begin() + static_cast<long>(at)); break;
      }
    }
    if (m == base) continue;
    auto v = Verify(m);
    if (v.state == ResponseState::kInvalid) {
      EXPECT_FALSE(v.invalid_reason.empty());
    }
    if (&base == &bare) {
      EXPECT_NE(v.state, ResponseState::kGood) << "round " << round;
    } else if (v.state == ResponseState::kGood) {
      ++good;  // a change inside the unsigned certs field can be harmless
    }
  }
  EXPECT_LT(good, 2000);
}

}  // namespace
}  // namespace ose
