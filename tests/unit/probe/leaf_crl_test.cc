// `revocation = "crl" | "both"` on `[[responder]]` and `[[file]]` targets:
// the leaf's CRL (generated relative to now) fetched over real HTTP from a
// server the test starts, through the same fetcher the exporter uses.
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>

#include "fake_responder.h"
#include "ocsp_staple_exporter/crl/crl_prober.h"
#include "ocsp_staple_exporter/metrics/collector.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"
#include "ocsp_staple_exporter/probe/probe_policy.h"
#include "ocsp_staple_exporter/probe/responder_prober.h"
#include "pki.h"

namespace ose {
namespace {

constexpr int64_t kDay = 86400;

class LeafCrlTest : public ::testing::Test {
 protected:
  LeafCrlTest() : server_("http://127.0.0.1:1") {}
  void SetUp() override {
    now_ = std::time(nullptr);
    auto ca = testing::MakeTestCa(now_);
    ca_key_ = std::move(ca.key);
    ca_ = std::move(ca.cert);
    testing::CrlSpec s;
    s.this_update = now_ - 3600;
    s.next_update = now_ + 7 * kDay;
    s.crl_number = 3;
    s.revoked = {{.serial = 21, .revoked_at = now_ - kDay, .reason = 5}};  // cessation
    auto der = testing::MakeCrl(s, ca_.get(), ca_key_.get());
    server_.SetCanned("ca.crl", std::string(der.begin(), der.end()), "application/pkix-crl");
  }
  // A leaf with the given serial whose CRL Distribution Point is `crl_url`
  // (no OCSP URL: as Let's Encrypt issues since 2025).
  LoadedCertPtr Leaf(long serial, const std::string& crl_url, bool must_staple = false) {
    auto key = testing::GenerateKey();
    auto c = std::make_shared<LoadedCert>();
    c->cert = testing::IssueCert({.serial = serial, .not_before = now_ - kDay, .not_after = now_ + kDay,
                         .must_staple = must_staple, .crl_url = crl_url},
                        key.get(), ca_.get(), ca_key_.get());
    c->issuer = ShareX509(ca_.get());
    c->must_staple = must_staple;
    c->crl_urls = CrlUrls(c->cert.get());
    return c;
  }
  ResponderProbeRequest CrlOnly(LoadedCertPtr cert) {
    ResponderProbeRequest req;
    req.cert = std::move(cert);
    req.timeout = std::chrono::seconds(5);
    req.revocation = Revocation::kCrl;
    req.crl_store = &store_;
    return req;
  }
  std::string Url() { return server_.Url("/canned/ca.crl"); }

  int64_t now_ = 0;
  EvpPkeyPtr ca_key_;
  X509Ptr ca_;
  testing::FakeResponder server_;
  CrlStore store_{[](const std::string& url, const CrlValidators& since) {
                    return FetchCrlUrl(url, std::chrono::seconds(5), kDefaultCrlMaxSize,
                                       nullptr, since);
                  },
                  VerifyOptions{}};
};

TEST_F(LeafCrlTest, CrlOnlyResponderTargetGoodAndRevokedWithoutOcsp) {
  ProbeResult good = ResponderProber::ProbeNow(CrlOnly(Leaf(20, Url())));
  ASSERT_TRUE(good.success) << good.detail;
  EXPECT_TRUE(good.ocsp_skipped);
  EXPECT_FALSE(good.ocsp_url_present);
  EXPECT_TRUE(good.crl_url_present);
  ASSERT_TRUE(good.leaf_crl);
  EXPECT_EQ(good.leaf_crl->state, LeafCrlState::kGood) << good.leaf_crl->detail;
  EXPECT_EQ(StateLabel(good), "crl_good");

  ProbeResult revoked = ResponderProber::ProbeNow(CrlOnly(Leaf(21, Url())));
  ASSERT_TRUE(revoked.success) << revoked.detail;
  ASSERT_TRUE(revoked.leaf_crl);
  EXPECT_EQ(revoked.leaf_crl->state, LeafCrlState::kRevoked);
  EXPECT_EQ(revoked.leaf_crl->reason, "cessation_of_operation");
  EXPECT_EQ(revoked.leaf_crl->revoked_at, now_ - kDay);
  EXPECT_EQ(StateLabel(revoked), "crl_revoked");
  // One fetch answered both: the URL's CRL is shared.
  EXPECT_EQ(server_.CannedHits("ca.crl"), 1);
  EXPECT_EQ(store_.fetches(), 1u);

  // The exposition: the CRL state set and the revocation, no OCSP series.
  TargetSnapshot snap;
  snap.info = TargetInfo{.name = "crl-only", .kind = "responder"};
  snap.last = std::make_shared<const ProbeResult>(revoked);
  std::string text;
  for (const auto& f : TargetFamilies({snap}, now_, true)) text += f.name + "\n";
  EXPECT_NE(text.find("ocsp_cert_crl_status\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ocsp_cert_crl_revoked_at_timestamp_seconds\n"), std::string::npos);
  EXPECT_NE(text.find("ocsp_cert_crl_revocation_reason\n"), std::string::npos);
  EXPECT_NE(text.find("ocsp_cert_ocsp_url_present\n"), std::string::npos);
  EXPECT_EQ(text.find("ocsp_response_status\n"), std::string::npos) << text;
}

TEST_F(LeafCrlTest, CrlServerDownFailsACrlOnlyProbeWithTheFetchReason) {
  // Nothing listens on port 1: connect refused.
  ProbeResult r =
      ResponderProber::ProbeNow(CrlOnly(Leaf(20, "http://127.0.0.1:1/ca.crl")));
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.failure_reason, "connect") << r.detail;
  ASSERT_TRUE(r.leaf_crl);
  EXPECT_EQ(r.leaf_crl->state, LeafCrlState::kUnavailable);
  EXPECT_NE(r.detail.find("127.0.0.1:1"), std::string::npos) << r.detail;
  EXPECT_EQ(StateLabel(r), "failed:connect");
}

TEST_F(LeafCrlTest, BothAddsTheCrlToTheOcspAnswer) {
  // The OCSP URL is the test server's canned 404: the OCSP exchange fails,
  // the CRL lookup still runs and says revoked.
  ResponderProbeRequest req = CrlOnly(Leaf(21, Url()));
  req.revocation = Revocation::kBoth;
  req.urls = {server_.Url("/canned/none")};
  ProbeResult r = ResponderProber::ProbeNow(req);
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.ocsp_skipped);
  ASSERT_TRUE(r.leaf_crl);
  EXPECT_EQ(r.leaf_crl->state, LeafCrlState::kRevoked);
  // The probe's failure is OCSP's, not the CRL's.
  EXPECT_EQ(r.failure_reason, "http_status") << r.detail;
}

TEST_F(LeafCrlTest, FileTargetLooksUpItsLeafAndAnUnknownIssuerIsUnavailable) {
  FileTarget t;
  t.name = "f";
  t.path = "/nonexistent/staple.der";
  t.cert = Leaf(21, Url());
  t.revocation = Revocation::kBoth;
  ProbeResult r = ProbeStapleFile(t, VerifyOptions{}, &store_);
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.verdict->state, ResponseState::kAbsent);
  ASSERT_TRUE(r.leaf_crl);
  EXPECT_EQ(r.leaf_crl->state, LeafCrlState::kRevoked);
  EXPECT_EQ(StateLabel(r), "absent+crl_revoked");
  // "ocsp" (the default) looks nothing up.
  t.revocation = Revocation::kOcsp;
  EXPECT_FALSE(ProbeStapleFile(t, VerifyOptions{}, &store_).leaf_crl);

  ProbeResult none;
  AddLeafCrl(store_, t.cert->cert.get(), nullptr, t.cert->crl_urls, none);
  ASSERT_TRUE(none.leaf_crl);
  EXPECT_EQ(none.leaf_crl->state, LeafCrlState::kUnavailable);
  EXPECT_NE(none.leaf_crl->detail.find("issuer"), std::string::npos);
}

TEST_F(LeafCrlTest, OnlyHttpDistributionPointsAreFetched) {
  // An ldap:// distribution point is skipped (libcurl would speak LDAP).
  auto leaf = Leaf(20, "ldap://127.0.0.1:1/cn=CRL CA?certificateRevocationList");
  LeafCrlStatus s = store_.Check(leaf->crl_urls, leaf->cert.get(), ca_.get(), now_);
  EXPECT_EQ(s.state, LeafCrlState::kUnavailable);
  EXPECT_EQ(store_.fetches(), 0u);
  EXPECT_NE(s.detail.find("no http(s) CRL Distribution Point"), std::string::npos) << s.detail;
}


// Issue 20 point 5: every distinct leaf a fleet probe saw is looked up, and
// the target reads revoked when any of them is, whatever the order.
TEST_F(LeafCrlTest, EveryLeafOfAFleetProbeIsCheckedAndRevokedWins) {
  auto subject = [&](long serial) {
    LoadedCertPtr c = Leaf(serial, Url());
    auto s = std::make_shared<ProbeResult::CrlSubject>();
    s->leaf = ShareX509(c->cert.get());
    s->issuer = ShareX509(c->issuer.get());
    s->urls = c->crl_urls;
    return s;
  };
  ProbeResult r;
  r.success = true;
  r.extras_mut().crl_subjects = {subject(20), subject(21), subject(22)};
  CheckLeafCrls(store_, r);
  ASSERT_TRUE(r.leaf_crl);
  EXPECT_EQ(r.leaf_crl->state, LeafCrlState::kRevoked);
  EXPECT_EQ(r.leaf_crl->reason, "cessation_of_operation");
  EXPECT_TRUE(r.extras().crl_subjects.empty());
  r.extras_mut().crl_subjects = {subject(20), subject(22)};
  CheckLeafCrls(store_, r);
  EXPECT_EQ(r.leaf_crl->state, LeafCrlState::kGood);
}


// Issue 20 point 4: `[fetch]` decides where URLs taken from certificates
// may be fetched, by name before DNS and by address right before libcurl
// connects; link-local and metadata addresses are refused by default.
TEST_F(LeafCrlTest, FetchPolicyIsCheckedBeforeConnecting) {
  ProbePolicy policy;
  policy.table = "[fetch]";
  auto pattern = [](const char* p) { return ParseProbePattern(p).value(); };
  auto store_with = [&](const ProbePolicy* p) {
    return std::make_unique<CrlStore>(
        [p](const std::string& url, const CrlValidators& since) {
          return FetchCrlUrl(url, std::chrono::seconds(5), kDefaultCrlMaxSize, p, since);
        },
        VerifyOptions{});
  };
  LoadedCertPtr leaf = Leaf(20, Url());
  // Allowed by default: the CRL server is on 127.0.0.1.
  auto open = store_with(&policy);
  EXPECT_EQ(open->Check(leaf->crl_urls, leaf->cert.get(), ca_.get(), now_).state,
            LeafCrlState::kGood);
  // Denied by address (after DNS): never connected to.
  const int hits = server_.CannedHits("ca.crl");
  policy.deny = {pattern("127.0.0.0/8")};
  auto denied = store_with(&policy);
  auto s = denied->Check(leaf->crl_urls, leaf->cert.get(), ca_.get(), now_);
  EXPECT_EQ(s.state, LeafCrlState::kUnavailable);
  EXPECT_EQ(s.failure_reason, "forbidden");
  EXPECT_NE(s.detail.find("denied by [fetch] deny \"127.0.0.0/8\""), std::string::npos)
      << s.detail;
  EXPECT_EQ(server_.CannedHits("ca.crl"), hits) << "a denied address was connected to";
  ASSERT_EQ(denied->FetchCounts().size(), 1u);
  EXPECT_EQ(denied->FetchCounts()[0].refused, 1u);
  EXPECT_EQ(denied->FetchCounts()[0].failed, 0u);
  // By name, before DNS.
  policy.deny = {pattern("crl.internal.test:*")};
  auto by_name = store_with(&policy);
  LoadedCertPtr named = Leaf(22, "http://crl.internal.test/ca.crl");
  s = by_name->Check(named->crl_urls, named->cert.get(), ca_.get(), now_);
  EXPECT_EQ(s.failure_reason, "forbidden") << s.detail;
  // The cloud metadata service, by default.
  ProbePolicy defaults;
  auto meta = store_with(&defaults);
  LoadedCertPtr imds = Leaf(23, "http://169.254.169.254/latest/meta-data/x.crl");
  s = meta->Check(imds->crl_urls, imds->cert.get(), ca_.get(), now_);
  EXPECT_EQ(s.failure_reason, "forbidden") << s.detail;
  EXPECT_NE(s.detail.find("link-local or cloud metadata"), std::string::npos) << s.detail;
}

}  // namespace
}  // namespace ose
