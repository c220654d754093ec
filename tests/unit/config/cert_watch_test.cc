// CertWatch: a renewed certificate is picked up whether it is renamed over
// the old file (certbot, cert-manager) or rewritten in place; a touched but
// identical file and a half-written one change nothing.
#include "ocsp_staple_exporter/config/cert_watch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include "pki.h"

namespace ose {
namespace {

namespace fs = std::filesystem;

TEST(CertWatch, RenewalByRenameOrInPlace) {
  fs::path dir = fs::temp_directory_path() / ("ose-watch-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  int64_t now = std::time(nullptr);
  auto ca_key = testing::GenerateKey();
  auto ca = testing::IssueCert({.common_name = "CA", .not_before = now - 60,
                                .not_after = now + 86400, .ca = true},
                               ca_key.get(), nullptr, ca_key.get());
  auto key = testing::GenerateKey();
  auto first = testing::IssueCert({.serial = 1, .not_before = now - 60, .not_after = now + 600},
                                  key.get(), ca.get(), ca_key.get());
  auto second = testing::IssueCert({.serial = 2, .not_before = now - 60, .not_after = now + 600,
                                    .must_staple = true},
                                   key.get(), ca.get(), ca_key.get());
  const std::string cert = (dir / "cert.pem").string(), issuer = (dir / "ca.pem").string();
  testing::WritePem(cert, {first.get()});
  testing::WritePem(issuer, {ca.get()});
  auto loaded = LoadCertFiles(cert, issuer);
  ASSERT_TRUE(loaded) << loaded.error().detail;
  CertWatch watch(cert, issuer, loaded.value());

  // Unchanged (the first check reads the files and finds the same leaf).
  ASSERT_TRUE(watch.Check());
  EXPECT_EQ(watch.Check().value(), nullptr);
  // Touched with the same content: nothing.
  testing::WritePem(cert, {first.get()});
  EXPECT_EQ(watch.Check().value(), nullptr);

  // Renamed over the old file.
  testing::WritePem(cert + ".new", {second.get()});
  fs::rename(cert + ".new", cert);
  auto renewed = watch.Check();
  ASSERT_TRUE(renewed && renewed.value());
  EXPECT_EQ(ASN1_INTEGER_get(X509_get0_serialNumber(renewed.value()->cert.get())), 2);
  EXPECT_TRUE(renewed.value()->must_staple);
  EXPECT_EQ(watch.current(), renewed.value());

  // Half-written in place: an error, the current certificate stays; once
  // complete, it is picked up.
  std::ofstream(cert, std::ios::trunc) << "-----BEGIN CERTIFICATE-----\nMIIB";
  auto half = watch.Check();
  EXPECT_FALSE(half);
  EXPECT_EQ(watch.current(), renewed.value());
  testing::WritePem(cert, {first.get()});
  auto back = watch.Check();
  ASSERT_TRUE(back && back.value());
  EXPECT_EQ(ASN1_INTEGER_get(X509_get0_serialNumber(back.value()->cert.get())), 1);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ose
