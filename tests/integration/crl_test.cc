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
#include "ocsp_staple_exporter/crl/crl_prober.h"
#include "ocsp_staple_exporter/crl/crl_store.h"
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
  double published_bytes = 0;  // of every CRL published
  auto publish = [&](long number, bool revoked) {
    CrlSpec spec;
    spec.this_update = std::time(nullptr) - 5;
    spec.next_update = spec.this_update + 120;  // half-life: a minute on
    spec.crl_number = number;
    if (revoked) spec.revoked = {{.serial = 31, .revoked_at = now - 60, .reason = 1}};
    auto der = MakeCrl(spec, ca.cert.get(), ca.key.get());
    published_bytes += static_cast<double>(der.size());
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
  // This server ignores If-None-Match / If-Modified-Since (it sends no
  // validators): every refetch is a whole CRL, and every byte is counted.
  EXPECT_EQ(m["ocsp_crl_fetches_total{url=\"" + url + "\",result=\"not_modified\"}"], 0);
  EXPECT_EQ(m["ocsp_crl_fetch_bytes_total{url=\"" + url + "\"}"], published_bytes)
      << "each of the two CRLs received once, whole";
  EXPECT_EQ(m["ocsp_cert_crl_revocation_reason{target=\"leaf\",reason=\"key_compromise\"}"], 1);
  EXPECT_GT(m["ocsp_probe_timestamp_seconds{target=\"leaf\"}"], 0);
  exporter.reset();
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

// Issue 24 point 1: a real nginx serving the CRL as a static file answers
// the conditional refetch (If-None-Match from its ETag, If-Modified-Since)
// with 304: the held CRL stands, no byte of it is sent again; a new file is
// a 200 again. Clock injected into the store (refetch at the half-life).
TEST(CrlIntegration, AnUnchangedCrlCostsA304FromNginx) {
  const fs::path dir = fs::temp_directory_path() / ("ose-crl304-" + std::to_string(::getpid()));
  fs::create_directories(dir / "www");
  fs::create_directories(dir / "tmp");
  const int64_t now = std::time(nullptr);
  auto ca = MakeTestCa(now);
  auto publish = [&](long number) {
    CrlSpec spec;
    spec.this_update = now - 60;
    spec.next_update = now + 7 * 86400;
    spec.crl_number = number;
    auto der = MakeCrl(spec, ca.cert.get(), ca.key.get());
    std::ofstream(dir / "www" / "ca.crl", std::ios::binary)
        .write(reinterpret_cast<const char*>(der.data()), static_cast<std::streamsize>(der.size()));
    return der.size();
  };
  const size_t first_size = publish(1);
  const int port = FreePort();
  const std::string conf = (dir / "nginx.conf").string();
  std::ofstream(conf) << "worker_processes 1;\n"
                      << (::getuid() == 0 ? "user root;\n" : "")
                      << "pid " << (dir / "nginx.pid").string() << ";\n"
                      << "error_log " << (dir / "error.log").string() << ";\n"
                      << "events { worker_connections 16; }\n"
                      << "http {\n  access_log " << (dir / "access.log").string() << ";\n"
                      << "  client_body_temp_path " << (dir / "tmp").string() << ";\n"
                      << "  server {\n    listen 127.0.0.1:" << port << ";\n"
                      << "    root " << (dir / "www").string() << ";\n  }\n}\n";
  Process nginx({"/usr/sbin/nginx", "-c", conf, "-g", "daemon off;"}, (dir / "nginx.out").string());
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/ca.crl";
  ASSERT_TRUE(WaitFor([&] { return HttpGet(url).status == 200; }, seconds(10)))
      << ReadFile((dir / "error.log").string());

  auto key = GenerateKey();
  auto leaf = IssueCert({.serial = 41, .not_before = now - 3600, .not_after = now + 86400,
                         .crl_url = url},
                        key.get(), ca.cert.get(), ca.key.get());
  std::vector<CrlValidators> sent;
  CrlStore store(
      [&](const std::string& u, const CrlValidators& since) {
        sent.push_back(since);
        return FetchCrlUrl(u, std::chrono::seconds(5), kDefaultCrlMaxSize, nullptr, since);
      },
      VerifyOptions{});
  auto check = [&](int64_t at) { return store.Check({url}, leaf.get(), ca.cert.get(), at).state; };
  auto counts = [&] { return store.FetchCounts().at(0); };

  EXPECT_EQ(check(now), LeafCrlState::kGood);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].empty()) << "nothing held: an unconditional GET";
  EXPECT_EQ(counts().fetched, 1u);
  EXPECT_EQ(counts().bytes, first_size);

  // Past the half-life (3.5 days on): refetched, conditionally; nginx says 304.
  const int64_t later = now + 4 * 86400;
  EXPECT_EQ(check(later), LeafCrlState::kGood);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_FALSE(sent[1].etag.empty()) << "nginx's ETag goes back as If-None-Match";
  EXPECT_FALSE(sent[1].last_modified.empty());
  EXPECT_EQ(counts().not_modified, 1u);
  EXPECT_EQ(counts().fetched, 1u);
  EXPECT_EQ(counts().bytes, first_size) << "a 304 sends no CRL";
  // A 304 does not refetch at every lookup: the next is a while away.
  EXPECT_EQ(check(later + 30), LeafCrlState::kGood);
  EXPECT_EQ(sent.size(), 2u);

  // The CA publishes CRL 2 (another file: another ETag): a whole fetch.
  std::this_thread::sleep_for(seconds(1));  // a Last-Modified second of its own
  const size_t second_size = publish(2);
  EXPECT_EQ(check(later + 2 * 86400), LeafCrlState::kGood);
  EXPECT_EQ(counts().fetched, 2u);
  EXPECT_EQ(counts().bytes, first_size + second_size);
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace ose::testing
