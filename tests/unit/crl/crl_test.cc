// CRL verification (RFC 5280 §5, §6.3) over CRLs generated relative to now.
#include "ocsp_staple_exporter/crl/crl.h"

#include <gtest/gtest.h>

#include <openssl/pem.h>

#include <ctime>

#include "pki.h"

namespace ose {
namespace {

using testing::CrlSpec;
using testing::GenerateKey;
using testing::IssueCert;
using testing::MakeCrl;

constexpr int64_t kDay = 86400;

class CrlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ = std::time(nullptr);
    auto ca = testing::MakeTestCa(now_);
    ca_key_ = std::move(ca.key);
    ca_ = std::move(ca.cert);
    leaf_key_ = GenerateKey();
    leaf_ = IssueCert({.serial = 4242, .not_before = now_ - kDay, .not_after = now_ + kDay},
                      leaf_key_.get(), ca_.get(), ca_key_.get());
  }
  CrlSpec Fresh() const {
    CrlSpec s;
    s.this_update = now_ - 3600;
    s.next_update = now_ + 7 * kDay;
    s.crl_number = 17;
    s.revoked = {{.serial = 99, .revoked_at = now_ - kDay, .reason = 1}};
    return s;
  }
  ParsedCrl Verify(const std::vector<uint8_t>& der) {
    return VerifyCrl(der, ca_.get(), VerifyOptions{}, now_);
  }
  int64_t now_ = 0;
  EvpPkeyPtr ca_key_, leaf_key_;
  X509Ptr ca_, leaf_;
};

TEST_F(CrlTest, ValidCrlAndLookup) {
  auto spec = Fresh();
  spec.revoked.push_back({.serial = 4242, .revoked_at = now_ - 600, .reason = 4});
  auto p = Verify(MakeCrl(spec, ca_.get(), ca_key_.get()));
  ASSERT_EQ(p.verdict.state, CrlState::kValid) << p.verdict.detail;
  EXPECT_EQ(p.verdict.this_update, now_ - 3600);
  EXPECT_EQ(p.verdict.next_update, now_ + 7 * kDay);
  EXPECT_EQ(p.verdict.crl_number, "17");
  EXPECT_FALSE(p.verdict.base_crl_number.has_value());
  EXPECT_EQ(p.verdict.revoked_certificates, 2u);
  auto s = LookupInCrl(p, leaf_.get());
  EXPECT_TRUE(s.revoked);
  EXPECT_EQ(s.revoked_at, now_ - 600);
  EXPECT_EQ(s.reason, "superseded");
  // A serial not listed is not revoked.
  auto other = IssueCert({.serial = 5, .not_before = now_ - kDay, .not_after = now_ + kDay},
                         leaf_key_.get(), ca_.get(), ca_key_.get());
  EXPECT_FALSE(LookupInCrl(p, other.get()).revoked);
}

TEST_F(CrlTest, PemIsAcceptedAndDeltaCrlsAreRecognised) {
  auto spec = Fresh();
  spec.delta_base = 16;
  auto der = MakeCrl(spec, ca_.get(), ca_key_.get());
  auto p = Verify(der);
  ASSERT_EQ(p.verdict.state, CrlState::kValid) << p.verdict.detail;
  EXPECT_EQ(p.verdict.base_crl_number, "16");
  // The same CRL as PEM.
  OsslPtr<X509_CRL, X509_CRL_free> crl;
  const unsigned char* d = der.data();
  crl.reset(d2i_X509_CRL(nullptr, &d, static_cast<long>(der.size())));
  BioPtr bio(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_X509_CRL(bio.get(), crl.get()), 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  std::vector<uint8_t> pem(data, data + len);
  EXPECT_EQ(Verify(pem).verdict.state, CrlState::kValid);
}

TEST_F(CrlTest, RemoveFromCrlIsNotRevoked) {
  auto spec = Fresh();
  spec.revoked = {{.serial = 4242, .revoked_at = now_ - 60, .reason = 8}};  // removeFromCRL
  auto p = Verify(MakeCrl(spec, ca_.get(), ca_key_.get()));
  ASSERT_EQ(p.verdict.state, CrlState::kValid);
  EXPECT_FALSE(LookupInCrl(p, leaf_.get()).revoked);
}

TEST_F(CrlTest, ExpiredIsAuthenticButStale) {
  auto spec = Fresh();
  spec.this_update = now_ - 10 * kDay;
  spec.next_update = now_ - kDay;
  auto p = Verify(MakeCrl(spec, ca_.get(), ca_key_.get()));
  EXPECT_EQ(p.verdict.state, CrlState::kExpired);
  EXPECT_TRUE(p.verdict.signature_verified);
  spec.next_update = now_ - 200;  // within the 300 s skew
  EXPECT_EQ(Verify(MakeCrl(spec, ca_.get(), ca_key_.get())).verdict.state, CrlState::kValid);
}

TEST_F(CrlTest, EveryCheckHasItsReason) {
  // Signed by another key under the same name.
  auto rogue_key = GenerateKey();
  auto p = Verify(MakeCrl(Fresh(), ca_.get(), rogue_key.get()));
  EXPECT_EQ(p.verdict.invalid_reason, crl_invalid::kSignature) << p.verdict.detail;
  EXPECT_FALSE(p.verdict.signature_verified);
  // Issued by another CA.
  auto other = IssueCert({.common_name = "Other CA", .serial = 2, .not_before = now_ - kDay,
                          .not_after = now_ + kDay, .ca = true},
                         rogue_key.get(), nullptr, rogue_key.get());
  EXPECT_EQ(Verify(MakeCrl(Fresh(), other.get(), rogue_key.get())).verdict.invalid_reason,
            crl_invalid::kIssuerMismatch);
  // A CA certificate whose keyUsage lacks cRLSign.
  auto no_crl_sign = IssueCert({.common_name = "CRL CA", .serial = 3, .not_before = now_ - kDay,
                                .not_after = now_ + kDay, .key_usage = "digitalSignature"},
                               ca_key_.get(), ca_.get(), ca_key_.get());
  EXPECT_EQ(VerifyCrl(MakeCrl(Fresh(), ca_.get(), ca_key_.get()), no_crl_sign.get(), {}, now_)
                .verdict.invalid_reason,
            crl_invalid::kNotCrlSigner);
  // Not yet valid; nextUpdate before thisUpdate; an unknown critical extension.
  auto future = Fresh();
  future.this_update = now_ + kDay;
  future.next_update = now_ + 2 * kDay;
  EXPECT_EQ(Verify(MakeCrl(future, ca_.get(), ca_key_.get())).verdict.invalid_reason,
            crl_invalid::kNotYetValid);
  auto backwards = Fresh();
  backwards.next_update = now_ - 7200;
  EXPECT_EQ(Verify(MakeCrl(backwards, ca_.get(), ca_key_.get())).verdict.invalid_reason,
            crl_invalid::kMalformed);
  auto critical = Fresh();
  critical.critical_unknown_extension = true;
  EXPECT_EQ(Verify(MakeCrl(critical, ca_.get(), ca_key_.get())).verdict.invalid_reason,
            crl_invalid::kUnsupportedCriticalExtension);
  // Garbage, truncation, trailing bytes, empty.
  auto good = MakeCrl(Fresh(), ca_.get(), ca_key_.get());
  EXPECT_EQ(Verify({}).verdict.invalid_reason, crl_invalid::kMalformed);
  EXPECT_EQ(Verify({good.begin(), good.end() - 10}).verdict.invalid_reason,
            crl_invalid::kMalformed);
  auto trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(Verify(trailing).verdict.invalid_reason, crl_invalid::kMalformed);
  // Every flipped byte: never valid with a wrong signature.
  for (size_t i = 0; i < good.size(); ++i) {
    auto bad = good;
    bad[i] ^= 0x01;
    auto v = Verify(bad).verdict;
    if (v.state == CrlState::kValid) {
      // Only bytes outside the signed part (the outer SEQUENCE's length
      // cannot change) may flip without effect; none do in practice.
      ADD_FAILURE() << "flipped byte " << i << " still verified";
    }
  }
}


// The index answers exactly as the CRL reads: every entry found with its
// date and reason, no other serial (not one of the same octets with a
// byte more or less, not the same magnitude negated).
TEST_F(CrlTest, IndexFindsEveryEntryAndNothingElse) {
  auto spec = Fresh();
  spec.bulk_entries = 3000;
  spec.bulk_revoked_at = now_ - 7200;
  const auto der = MakeCrl(spec, ca_.get(), ca_key_.get());
  auto p = Verify(der);
  ASSERT_EQ(p.verdict.state, CrlState::kValid) << p.verdict.detail;
  ASSERT_EQ(p.revoked.size(), 3001u);
  const unsigned char* d = der.data();
  OsslPtr<X509_CRL, X509_CRL_free> crl(d2i_X509_CRL(nullptr, &d, static_cast<long>(der.size())));
  ASSERT_TRUE(crl);
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl.get());
  int with_reason = 0;
  for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i) {
    const ASN1_INTEGER* serial = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(entries, i));
    CrlEntryStatus s = p.revoked.Find(serial);
    ASSERT_TRUE(s.revoked) << "entry " << i;
    if (s.reason == "key_compromise") ++with_reason;
    if (ASN1_INTEGER_get(serial) == 99) continue;  // the one of Fresh()
    EXPECT_EQ(s.revoked_at, now_ - 7200);
    // Its octets one longer, one shorter, and negated: none listed.
    std::vector<unsigned char> octets(ASN1_STRING_get0_data(serial),
                                      ASN1_STRING_get0_data(serial) + ASN1_STRING_length(serial));
    auto find = [&](std::vector<unsigned char> o, bool negative) {
      BignumPtr bn(BN_bin2bn(o.data(), static_cast<int>(o.size()), nullptr));
      BN_set_negative(bn.get(), negative ? 1 : 0);
      Asn1IntegerPtr n(BN_to_ASN1_INTEGER(bn.get(), nullptr));
      return p.revoked.Find(n.get());
    };
    EXPECT_TRUE(find(octets, false).revoked);
    EXPECT_FALSE(find(octets, true).listed);
    auto longer = octets;
    longer.push_back(0);  // (a trailing octet: the magnitude grows)
    EXPECT_FALSE(find(longer, false).listed);
    EXPECT_FALSE(find({octets.begin(), octets.end() - 1}, false).listed);
  }
  EXPECT_EQ(with_reason, 1500 + 1);  // every other bulk entry, and serial 99
  EXPECT_GE(p.revoked.HeapBytes(), 3001u * 16);
}

// §5.3.3: entries naming another CA in certificateIssuer, and those after
// them that inherit it, are not about our issuer's certificates.
TEST_F(CrlTest, EntriesOfAnotherCertificateIssuerAreNotOurs) {
  auto spec = Fresh();
  spec.revoked = {{.serial = 4242, .revoked_at = now_ - 60, .reason = 1,
                   .certificate_issuer_cn = "Another CA"},
                  {.serial = 4243, .revoked_at = now_ - 60, .reason = 1},
                  {.serial = 4244, .revoked_at = now_ - 60, .reason = 1,
                   .certificate_issuer_cn = "CRL CA"},
                  {.serial = 4245, .revoked_at = now_ - 60, .reason = 1}};
  auto p = Verify(MakeCrl(spec, ca_.get(), ca_key_.get()));
  ASSERT_EQ(p.verdict.state, CrlState::kValid) << p.verdict.detail;
  EXPECT_EQ(p.verdict.revoked_certificates, 4u);
  auto serial = [this](long n) {
    return IssueCert({.serial = n, .not_before = now_ - kDay, .not_after = now_ + kDay},
                     leaf_key_.get(), ca_.get(), ca_key_.get());
  };
  EXPECT_FALSE(LookupInCrl(p, serial(4242).get()).listed);
  EXPECT_FALSE(LookupInCrl(p, serial(4243).get()).listed);
  EXPECT_TRUE(LookupInCrl(p, serial(4244).get()).revoked);
  EXPECT_TRUE(LookupInCrl(p, serial(4245).get()).revoked);
}

// One serial twice: the revocation outranks removeFromCRL, in either order.
TEST_F(CrlTest, ARevocationOutranksRemoveFromCrlOfTheSameSerial) {
  for (bool removal_first : {true, false}) {
    auto spec = Fresh();
    CrlSpec::Entry removal{.serial = 4242, .revoked_at = now_ - 60, .reason = 8};
    CrlSpec::Entry revocation{.serial = 4242, .revoked_at = now_ - 120, .reason = 1};
    spec.revoked = removal_first ? std::vector{removal, revocation}
                                 : std::vector{revocation, removal};
    auto p = Verify(MakeCrl(spec, ca_.get(), ca_key_.get()));
    auto s = LookupInCrl(p, leaf_.get());
    EXPECT_TRUE(s.revoked);
    EXPECT_EQ(s.reason, "key_compromise");
    EXPECT_EQ(s.revoked_at, now_ - 120);
  }
}

// An unauthentic CRL carries no entries to look up.
TEST_F(CrlTest, AnUnauthenticCrlIndexesNothing) {
  auto spec = Fresh();
  spec.revoked.push_back({.serial = 4242, .revoked_at = now_ - 600, .reason = 1});
  auto rogue = GenerateKey();
  auto p = Verify(MakeCrl(spec, ca_.get(), rogue.get()));
  EXPECT_EQ(p.verdict.invalid_reason, crl_invalid::kSignature);
  EXPECT_EQ(p.revoked.size(), 0u);
  EXPECT_FALSE(LookupInCrl(p, leaf_.get()).listed);
}

}  // namespace
}  // namespace ose
