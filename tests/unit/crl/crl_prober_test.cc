// `[[crl]]` checks against generated CRLs: read from disk and fetched over
// HTTP from a real (civetweb) server the test starts.
#include "ocsp_staple_exporter/crl/crl_prober.h"

#include <gtest/gtest.h>

#include "ocsp_staple_exporter/common/clock.h"

#include <ctime>
#include <filesystem>
#include <fstream>

#include "fake_responder.h"
#include "ocsp_staple_exporter/probe/targets.h"
#include "pki.h"

namespace ose {
namespace {

using testing::GenerateKey;
using testing::IssueCert;
using testing::MakeCrl;

constexpr int64_t kDay = 86400;

class CrlProberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ = std::time(nullptr);
    dir_ = std::filesystem::temp_directory_path() /
           ("ose-crl-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    auto ca = testing::MakeTestCa(now_);
    ca_key_ = std::move(ca.key);
    ca_ = std::move(ca.cert);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<uint8_t> Crl(int64_t this_update, int64_t next_update, EVP_PKEY* key = nullptr) {
    testing::CrlSpec s;
    s.this_update = this_update;
    s.next_update = next_update;
    s.crl_number = 7;
    s.revoked = {{.serial = 99, .revoked_at = now_ - kDay, .reason = 1},
                 {.serial = 100, .revoked_at = now_ - kDay, .reason = -1}};
    return MakeCrl(s, ca_.get(), key != nullptr ? key : ca_key_.get());
  }
  CrlTarget Target() {
    CrlTarget t;
    t.name = "ca";
    std::vector<X509Ptr> issuer;
    issuer.push_back(ShareX509(ca_.get()));
    t.issuer = std::make_shared<const std::vector<X509Ptr>>(std::move(issuer));
    t.timeout = std::chrono::seconds(5);
    return t;
  }
  std::string Write(const std::string& name, const std::vector<uint8_t>& data) {
    std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(data.data()),
                                             static_cast<std::streamsize>(data.size()));
    return p;
  }

  int64_t now_ = 0;
  std::filesystem::path dir_;
  EvpPkeyPtr ca_key_;
  X509Ptr ca_;
};

TEST_F(CrlProberTest, FileValidWithFiguresAndHalfLife) {
  CrlTarget t = Target();
  const auto der = Crl(now_ - 3600, now_ + 7 * kDay - 3600);
  t.path = Write("ca.crl", der);
  ProbeResult r = ProbeCrlNow(t, VerifyOptions{});
  ASSERT_TRUE(r.success) << r.detail;
  ASSERT_TRUE(r.crl);
  EXPECT_EQ(r.crl->verdict.state, CrlState::kValid) << r.crl->verdict.detail;
  EXPECT_EQ(r.crl->size_bytes, static_cast<int64_t>(der.size()));
  EXPECT_EQ(r.crl->verdict.revoked_certificates, 2u);
  EXPECT_EQ(r.crl->verdict.crl_number, "7");
  // Refetch at the half-life (thisUpdate + 3.5 days), but at most a day on.
  ASSERT_TRUE(r.extras().refresh_at);
  EXPECT_GE(*r.extras().refresh_at, now_ + kMaxCrlHoldSeconds);
  EXPECT_LE(*r.extras().refresh_at, NowUnix() + kMaxCrlHoldSeconds);
  // A day-long CRL: at its half-life, thisUpdate + 12 h.
  t.path = Write("day.crl", Crl(now_ - 3600, now_ + kDay - 3600));
  r = ProbeCrlNow(t, VerifyOptions{});
  ASSERT_TRUE(r.extras().refresh_at);
  EXPECT_EQ(*r.extras().refresh_at, now_ - 3600 + kDay / 2);
}

TEST_F(CrlProberTest, FileStates) {
  CrlTarget t = Target();
  // Nothing published yet: absent, and the check itself succeeded.
  t.path = (dir_ / "missing.crl").string();
  ProbeResult r = ProbeCrlNow(t, VerifyOptions{});
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.crl->verdict.state, CrlState::kAbsent);
  // Over max_size: refused before parsing.
  t.path = Write("big.crl", Crl(now_ - 3600, now_ + kDay));
  t.max_size = 64;
  r = ProbeCrlNow(t, VerifyOptions{});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.failure_reason, "body_too_large");
  t.max_size = kDefaultCrlMaxSize;
  // Signed by another key: invalid, never valid.
  auto rogue = GenerateKey();
  t.path = Write("rogue.crl", Crl(now_ - 3600, now_ + kDay, rogue.get()));
  r = ProbeCrlNow(t, VerifyOptions{});
  EXPECT_EQ(r.crl->verdict.state, CrlState::kInvalid);
  EXPECT_EQ(r.crl->verdict.invalid_reason, "signature");
  // Past nextUpdate: authentic but expired; a directory: unreadable.
  t.path = Write("old.crl", Crl(now_ - 10 * kDay, now_ - 3 * kDay));
  EXPECT_EQ(ProbeCrlNow(t, VerifyOptions{}).crl->verdict.state, CrlState::kExpired);
  t.path = dir_.string();
  r = ProbeCrlNow(t, VerifyOptions{});
  EXPECT_EQ(r.crl->verdict.state, CrlState::kInvalid);
  EXPECT_EQ(r.crl->verdict.invalid_reason, "unreadable");
}

TEST_F(CrlProberTest, ValidReadsExpiredOnceNextUpdatePasses) {
  CrlTarget t = Target();
  t.path = Write("ca.crl", Crl(now_ - 3600, now_ + 600));
  ProbeResult r = ProbeCrlNow(t, VerifyOptions{.skew_seconds = 60});
  ASSERT_EQ(r.crl->verdict.state, CrlState::kValid);
  EXPECT_EQ(CrlVerdictAt(r.crl->verdict, now_ + 660).state, CrlState::kValid);
  EXPECT_EQ(CrlVerdictAt(r.crl->verdict, now_ + 661).state, CrlState::kExpired);
}

TEST_F(CrlProberTest, HttpFetchStatusSizeAndMaxAge) {
  testing::FakeResponder server("http://127.0.0.1:1");
  const auto der = Crl(now_ - 3600, now_ + 7 * kDay);
  server.SetCanned("ca.crl", std::string(der.begin(), der.end()), "application/pkix-crl",
                   "Cache-Control: max-age=600\r\n");
  CrlTarget t = Target();
  t.url = server.Url("/canned/ca.crl");
  ProbeResult r = ProbeCrlNow(t, VerifyOptions{});
  ASSERT_TRUE(r.success) << r.detail;
  EXPECT_EQ(r.crl->verdict.state, CrlState::kValid) << r.crl->verdict.detail;
  EXPECT_EQ(r.http->status, 200);
  ASSERT_TRUE(r.extras().not_before) << "max-age holds the next fetch back";
  EXPECT_NEAR(static_cast<double>(*r.extras().not_before), static_cast<double>(now_ + 600), 5);
  // max-age up to nextUpdate (what many CRL servers send) defers the next
  // fetch no later than the half-life (capped at a day): it never freezes.
  const auto hour = Crl(now_ - 600, now_ + 3000);  // half-life: now_ + 1200
  server.SetCanned("ca.crl", std::string(hour.begin(), hour.end()), "application/pkix-crl",
                   "Cache-Control: max-age=3000\r\n");
  r = ProbeCrlNow(t, VerifyOptions{});
  ASSERT_TRUE(r.extras().not_before);
  EXPECT_EQ(r.extras().not_before, r.extras().refresh_at);
  EXPECT_EQ(*r.extras().not_before, now_ + 1200);
  // Any Content-Type is accepted (CAs serve CRLs as octet-stream too).
  server.SetCanned("ca.crl", std::string(der.begin(), der.end()), "application/octet-stream");
  EXPECT_EQ(ProbeCrlNow(t, VerifyOptions{}).crl->verdict.state, CrlState::kValid);
  // Not there: http_status. Too large: body_too_large, whatever it says.
  t.url = server.Url("/canned/none.crl");
  r = ProbeCrlNow(t, VerifyOptions{});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.failure_reason, "http_status");
  t.url = server.Url("/canned/ca.crl");
  t.max_size = 100;
  r = ProbeCrlNow(t, VerifyOptions{});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.failure_reason, "body_too_large");
}

TEST_F(CrlProberTest, RedirectsOnlyWhenAsked) {
  testing::FakeResponder server("http://127.0.0.1:1");
  const auto der = Crl(now_ - 3600, now_ + 7 * kDay);
  server.SetCanned("moved.crl", std::string(der.begin(), der.end()), "application/pkix-crl");
  server.SetCanned("old.crl", "moved\n", "text/plain",
                   "Location: " + server.Url("/canned/moved.crl") + "\r\n", 302);
  CrlTarget t = Target();
  t.url = server.Url("/canned/old.crl");
  ProbeResult r = ProbeCrlNow(t, VerifyOptions{});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.failure_reason, "http_status");
  EXPECT_NE(r.detail.find("HTTP 302 to " + server.Url("/canned/moved.crl")), std::string::npos)
      << r.detail;
  EXPECT_NE(r.detail.find("follow_redirects is off"), std::string::npos) << r.detail;
  EXPECT_EQ(server.CannedHits("moved.crl"), 0);
  t.follow_redirects = true;
  r = ProbeCrlNow(t, VerifyOptions{});
  ASSERT_TRUE(r.success) << r.detail;
  EXPECT_EQ(r.crl->verdict.state, CrlState::kValid);
  EXPECT_EQ(server.CannedHits("moved.crl"), 1);
  // A loop is cut after 5 redirects.
  server.SetCanned("loop.crl", "loop\n", "text/plain",
                   "Location: " + server.Url("/canned/loop.crl") + "\r\n", 302);
  t.url = server.Url("/canned/loop.crl");
  r = ProbeCrlNow(t, VerifyOptions{});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.failure_reason, "http");
  EXPECT_LE(server.CannedHits("loop.crl"), 6);
}

// A sharded CRL (each certificate pointing at its shard, as Let's Encrypt
// does) names its URL in the Issuing Distribution Point: one served at
// another URL is not the CRL asked for.
TEST_F(CrlProberTest, IssuingDistributionPointMustNameTheUrl) {
  testing::FakeResponder server("http://127.0.0.1:1");
  testing::CrlSpec spec;
  spec.this_update = now_ - 3600;
  spec.next_update = now_ + kDay;
  spec.idp_uris = {server.Url("/canned/shard1.crl")};
  const auto shard1 = MakeCrl(spec, ca_.get(), ca_key_.get());
  server.SetCanned("shard1.crl", std::string(shard1.begin(), shard1.end()));
  server.SetCanned("shard2.crl", std::string(shard1.begin(), shard1.end()));  // the wrong shard
  CrlTarget t = Target();
  t.url = server.Url("/canned/shard1.crl");
  EXPECT_EQ(ProbeCrlNow(t, VerifyOptions{}).crl->verdict.state, CrlState::kValid);
  t.url = server.Url("/canned/shard2.crl");
  ProbeResult r = ProbeCrlNow(t, VerifyOptions{});
  EXPECT_EQ(r.crl->verdict.state, CrlState::kInvalid);
  EXPECT_EQ(r.crl->verdict.invalid_reason, "idp_mismatch") << r.crl->verdict.detail;
  // Read from disk there is no URL to match: the IDP does not apply.
  t.url.clear();
  t.path = Write("shard1.crl", shard1);
  EXPECT_EQ(ProbeCrlNow(t, VerifyOptions{}).crl->verdict.state, CrlState::kValid);
}

TEST_F(CrlProberTest, NothingListens) {
  CrlTarget t = Target();
  t.url = "http://127.0.0.1:1/ca.crl";
  ProbeResult r = ProbeCrlNow(t, VerifyOptions{});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.failure_reason, "connect");
  EXPECT_NE(r.detail.find("127.0.0.1:1"), std::string::npos) << r.detail;
}

}  // namespace
}  // namespace ose
