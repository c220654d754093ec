// CRL revocation of a leaf through the real exporter (issue 20 point 0):
// a CRL server the test controls (FakeResponder) publishes a CRL valid two
// minutes; the exporter looks the leaf up every second through a CRL-only
// [[responder]] target. A newer CRL revoking the leaf, published right
// away, must be fetched at the held CRL's half-life (a minute on), however
// often the leaf is looked up meanwhile: every lookup used to push the
// refetch a minute further, so it never came while the CRL was valid.
#include <unistd.h>

#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

#include "exporter_under_test.h"
#include "fake_responder.h"
#include "pki.h"
#include "process.h"

namespace ose::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

TEST(CrlIntegration, ANewerCrlIsFetchedAtTheHalfLifeHoweverOftenLookedUp) {
  const fs::path dir = fs::temp_directory_path() / ("ose-crl-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const int64_t now = std::time(nullptr);
  auto ca = MakeTestCa(now);
  FakeResponder server("http://127.0.0.1:1");
  const std::string url = server.Url("/canned/ca.crl");
  auto key = GenerateKey();
  auto leaf = IssueCert({.serial = 31, .not_before = now - 3600, .not_after = now + 86400,
                         .crl_url = url},
                        key.get(), ca.cert.get(), ca.key.get());
  WritePem((dir / "leaf-chain.pem").string(), {leaf.get(), ca.cert.get()});
  auto publish = [&](long number, bool revoked) {
    CrlSpec spec;
    spec.this_update = std::time(nullptr) - 5;
    spec.next_update = spec.this_update + 120;  // half-life: a minute on
    spec.crl_number = number;
    if (revoked) spec.revoked = {{.serial = 31, .revoked_at = now - 60, .reason = 1}};
    auto der = MakeCrl(spec, ca.cert.get(), ca.key.get());
    server.SetCanned("ca.crl", std::string(der.begin(), der.end()), "application/pkix-crl");
  };
  publish(1, false);
  const std::string config = (dir / "crl.toml").string();
  std::ofstream(config) << "[global]\ninterval = \"1s\"\ntimeout = \"5s\"\n"
                        << "[[responder]]\nname = \"leaf\"\ncert_file = \"leaf-chain.pem\"\n"
                        << "revocation = \"crl\"\n";
  const std::string log = (dir / "exporter.log").string();
  int port = 0;
  std::unique_ptr<Process> exporter(StartExporter(config, log, &port));
  ASSERT_GT(port, 0) << ReadFile(log);
  auto metrics = [&] {
    return ParseMetrics(HttpGet("http://127.0.0.1:" + std::to_string(port) + "/metrics").body);
  };
  const std::string good = "ocsp_cert_crl_status{target=\"leaf\",status=\"good\"}";
  const std::string revoked = "ocsp_cert_crl_status{target=\"leaf\",status=\"revoked\"}";
  ASSERT_TRUE(WaitFor([&] { return metrics()[good] == 1; }, seconds(15))) << ReadFile(log);
  // The CA revokes the leaf in its next CRL, published at once.
  const auto published = std::chrono::steady_clock::now();
  publish(2, true);
  ASSERT_TRUE(WaitFor([&] { return metrics()[revoked] == 1; }, seconds(90)))
      << "the newer CRL was never fetched\n" << ReadFile(log);
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - published).count();
  EXPECT_GE(waited, 45) << "fetched before the half-life: once per lookup?";
  auto m = metrics();
  EXPECT_EQ(m["ocsp_crl_fetches_total{url=\"" + url + "\",result=\"fetched\"}"], 2)
      << "one fetch per half-life, shared by every lookup";
  EXPECT_EQ(m["ocsp_cert_crl_revocation_reason{target=\"leaf\",reason=\"key_compromise\"}"], 1);
  EXPECT_GT(m["ocsp_probe_timestamp_seconds{target=\"leaf\"}"], 0);
  exporter.reset();
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace ose::testing
