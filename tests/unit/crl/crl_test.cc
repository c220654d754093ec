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

}  // namespace
}  // namespace ose
