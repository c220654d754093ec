#include "ocsp_staple_exporter/ocsp/certificate.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "pki.h"

namespace ose {
namespace {

using testing::GenerateKey;
using testing::IssueCert;

class CertificateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ = static_cast<int64_t>(std::time(nullptr));
    ca_key_ = GenerateKey();
    ca_ = IssueCert({.common_name = "CA", .not_before = now_ - 60, .not_after = now_ + 3600,
                     .ca = true},
                    ca_key_.get(), nullptr, ca_key_.get());
    dir_ = std::filesystem::temp_directory_path() /
           ("ose-cert-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  int64_t now_ = 0;
  EvpPkeyPtr ca_key_;
  X509Ptr ca_;
  std::filesystem::path dir_;
};

TEST_F(CertificateTest, MustStapleDetected) {
  auto key = GenerateKey();
  auto ms = IssueCert({.serial = 2, .not_before = now_, .not_after = now_ + 60, .must_staple = true},
                      key.get(), ca_.get(), ca_key_.get());
  auto plain = IssueCert({.serial = 3, .not_before = now_, .not_after = now_ + 60},
                         key.get(), ca_.get(), ca_key_.get());
  EXPECT_TRUE(HasMustStaple(ms.get()));
  EXPECT_FALSE(HasMustStaple(plain.get()));
}

// Issue 11.1: which revocation sources a certificate names.
TEST_F(CertificateTest, OcspAndCrlUrls) {
  auto key = GenerateKey();
  auto both = IssueCert({.serial = 7, .not_before = now_, .not_after = now_ + 60,
                         .ocsp_url = "http://ocsp.test/", .crl_url = "http://crl.test/ca.crl"},
                        key.get(), ca_.get(), ca_key_.get());
  EXPECT_EQ(OcspUrls(both.get()), std::vector<std::string>{"http://ocsp.test/"});
  EXPECT_EQ(CrlUrls(both.get()), std::vector<std::string>{"http://crl.test/ca.crl"});
  auto none = IssueCert({.serial = 8, .not_before = now_, .not_after = now_ + 60}, key.get(),
                        ca_.get(), ca_key_.get());
  EXPECT_TRUE(OcspUrls(none.get()).empty());
  EXPECT_TRUE(CrlUrls(none.get()).empty());
}

// #9.7: status_request_v2 (RFC 6961) and a certificate with two TLS
// Feature extensions (the first without status_request).
TEST_F(CertificateTest, MustStapleV2AndTwoTlsFeatureExtensions) {
  auto key = GenerateKey();
  auto v2 = IssueCert({.serial = 4, .not_before = now_, .not_after = now_ + 60,
                       .tls_features = {"status_request_v2"}},
                      key.get(), ca_.get(), ca_key_.get());
  EXPECT_TRUE(HasMustStaple(v2.get()));
  auto two = IssueCert({.serial = 5, .not_before = now_, .not_after = now_ + 60,
                        .tls_features = {"1", "status_request"}},
                       key.get(), ca_.get(), ca_key_.get());
  EXPECT_EQ(X509_get_ext_by_NID(two.get(), NID_tlsfeature,
                                X509_get_ext_by_NID(two.get(), NID_tlsfeature, -1)) > 0,
            true);
  EXPECT_TRUE(HasMustStaple(two.get()));
  auto other = IssueCert({.serial = 6, .not_before = now_, .not_after = now_ + 60,
                          .tls_features = {"1"}},
                         key.get(), ca_.get(), ca_key_.get());
  EXPECT_FALSE(HasMustStaple(other.get()));
}

TEST_F(CertificateTest, FindIssuerChecksTheSignature) {
  auto key = GenerateKey();
  auto leaf = IssueCert({.serial = 2, .not_before = now_, .not_after = now_ + 60}, key.get(),
                        ca_.get(), ca_key_.get());
  // An impostor with the same name and another key must not be picked.
  auto impostor_key = GenerateKey();
  auto impostor = IssueCert({.common_name = "CA", .not_before = now_, .not_after = now_ + 60,
                             .ca = true},
                            impostor_key.get(), nullptr, impostor_key.get());
  std::vector<X509*> only_impostor = {leaf.get(), impostor.get()};
  EXPECT_EQ(FindIssuer(leaf.get(), only_impostor), nullptr);
  std::vector<X509*> both = {impostor.get(), leaf.get(), ca_.get()};
  EXPECT_EQ(FindIssuer(leaf.get(), both), ca_.get());
}

TEST_F(CertificateTest, NotAfterAndTimes) {
  auto key = GenerateKey();
  auto leaf = IssueCert({.serial = 2, .not_before = now_, .not_after = now_ + 12345},
                        key.get(), ca_.get(), ca_key_.get());
  EXPECT_EQ(NotAfterUnix(leaf.get()), now_ + 12345);
  EXPECT_EQ(SubjectString(leaf.get()), "CN=leaf.test");
}

TEST_F(CertificateTest, LoadPemCertificates) {
  auto key = GenerateKey();
  auto leaf = IssueCert({.serial = 2, .not_before = now_, .not_after = now_ + 60}, key.get(),
                        ca_.get(), ca_key_.get());
  std::string chain = (dir_ / "chain.pem").string();
  testing::WritePem(chain, {leaf.get(), ca_.get()});
  auto certs = LoadPemCertificates(chain);
  ASSERT_TRUE(certs.ok()) << certs.error().detail;
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ(X509_cmp(certs.value()[1].get(), ca_.get()), 0);

  auto missing = LoadPemCertificates((dir_ / "nope.pem").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().reason, "file");

  std::string empty = (dir_ / "empty.pem").string();
  std::ofstream(empty) << "hello\n";
  auto none = LoadPemCertificates(empty);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().reason, "malformed");
  EXPECT_NE(none.error().detail.find("no PEM certificate"), std::string::npos);

  std::string broken = (dir_ / "broken.pem").string();
  std::ofstream(broken) << "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  auto bad = LoadPemCertificates(broken);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().reason, "malformed");
  EXPECT_NE(bad.error().detail.find("broken.pem: bad certificate #1"), std::string::npos)
      << bad.error().detail;
}

}  // namespace
}  // namespace ose
