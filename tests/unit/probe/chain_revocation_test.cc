// `revocation_scope = "chain"`: the certificates above a leaf, found in the
// served chain, ca_file or the trust store, and each looked up in its
// issuer's CRL (onlyContainsCACerts honoured) or at its OCSP responder,
// over real HTTP from a server the test starts. Everything is generated
// relative to now.
#include "ocsp_staple_exporter/probe/chain_revocation.h"

#include <gtest/gtest.h>

#include <ctime>

#include "fake_responder.h"
#include "ocsp_staple_exporter/crl/crl_prober.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"
#include "pki.h"

namespace ose {
namespace {

constexpr int64_t kDay = 86400;

// root -> intermediate -> leaf; the intermediate's CRL Distribution Point
// and OCSP URL are on the test's server.
class ChainRevocationTest : public ::testing::Test {
 protected:
  ChainRevocationTest() : server_("http://127.0.0.1:1") {}
  void SetUp() override {
    now_ = std::time(nullptr);
    root_key_ = testing::GenerateKey();
    root_ = testing::IssueCert({.common_name = "Chain Root", .serial = 1,
                                .not_before = now_ - kDay, .not_after = now_ + 365 * kDay,
                                .ca = true},
                               root_key_.get(), nullptr, root_key_.get());
    int_key_ = testing::GenerateKey();
    int_ = testing::IssueCert({.common_name = "Chain Intermediate", .serial = 77,
                               .not_before = now_ - kDay, .not_after = now_ + 90 * kDay,
                               .ca = true, .ocsp_url = server_.Url("/canned/int-ocsp"),
                               .crl_url = server_.Url("/canned/root.crl")},
                              int_key_.get(), root_.get(), root_key_.get());
    auto leaf_key = testing::GenerateKey();
    leaf_ = testing::IssueCert({.serial = 5, .not_before = now_ - kDay, .not_after = now_ + kDay},
                               leaf_key.get(), int_.get(), int_key_.get());
    trust_.reset(X509_STORE_new());
    X509_STORE_add_cert(trust_.get(), root_.get());
  }
  // The root's CRL, listing the intermediate when `revoked`.
  void PublishRootCrl(bool revoked, bool only_ca = true, bool only_user = false) {
    testing::CrlSpec s;
    s.this_update = now_ - 3600;
    s.next_update = now_ + 7 * kDay;
    s.idp_only_ca = only_ca;
    s.idp_only_user = only_user;
    if (revoked) s.revoked = {{.serial = 77, .revoked_at = now_ - kDay, .reason = 1}};
    auto der = testing::MakeCrl(s, root_.get(), root_key_.get());
    server_.SetCanned("root.crl", std::string(der.begin(), der.end()), "application/pkix-crl");
  }
  void PublishOcsp(int status) {
    testing::ResponseSpec r;
    r.cert_status = status;
    r.revoked_at = now_ - 2 * kDay;
    r.revocation_reason = OCSP_REVOKED_STATUS_CACOMPROMISE;
    r.this_update = now_ - 600;
    r.next_update = now_ + 4 * kDay;
    auto der = testing::MakeResponse(r, int_.get(), root_.get(), root_.get(), root_key_.get());
    server_.SetCanned("int-ocsp", std::string(der.begin(), der.end()));
  }
  // The served chain [leaf, intermediate], the root in the trust store.
  ProbeResult Subjects() {
    X509* served[] = {leaf_.get(), int_.get()};
    ProbeResult r;
    r.extras_mut().chain_subjects = ChainSubjects(leaf_.get(), served, trust_.get());
    return r;
  }
  ChainRevocation Checker(const ProbePolicy* policy = nullptr) {
    return ChainRevocation(store_, [policy](ResponderProbeRequest req) {
      req.timeout = std::chrono::seconds(5);
      req.policy = policy;
      return ResponderProber::ProbeNow(req);
    });
  }

  testing::FakeResponder server_;
  int64_t now_ = 0;
  EvpPkeyPtr root_key_, int_key_;
  X509Ptr root_, int_, leaf_;
  X509StorePtr trust_;
  CrlStore store_{[](const std::string& url, const CrlValidators& since) {
                    return FetchCrlUrl(url, std::chrono::seconds(5), kDefaultCrlMaxSize, nullptr,
                                       since);
                  },
                  VerifyOptions{}};
};

TEST_F(ChainRevocationTest, SubjectsStopAtTheTrustAnchor) {
  ProbeResult r = Subjects();
  ASSERT_EQ(r.extras().chain_subjects.size(), 1u);
  const auto& s = *r.extras().chain_subjects[0];
  EXPECT_EQ(s.position, 1);
  EXPECT_EQ(X509_cmp(s.cert.get(), int_.get()), 0);
  ASSERT_TRUE(s.issuer) << "the root comes from the trust store";
  EXPECT_EQ(X509_cmp(s.issuer.get(), root_.get()), 0);
  EXPECT_EQ(s.crl_urls, std::vector<std::string>{server_.Url("/canned/root.crl")});
  // A served root is the anchor too; without the trust store the
  // intermediate's issuer is unknown, and the chain still has position 1.
  X509* with_root[] = {leaf_.get(), int_.get(), root_.get()};
  EXPECT_EQ(ChainSubjects(leaf_.get(), with_root, nullptr).size(), 1u);
  X509* bare[] = {leaf_.get(), int_.get()};
  auto unknown = ChainSubjects(leaf_.get(), bare, nullptr);
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_FALSE(unknown[0]->issuer);
  // Nothing above a leaf whose issuer is nowhere.
  X509* alone[] = {leaf_.get()};
  EXPECT_TRUE(ChainSubjects(leaf_.get(), alone, nullptr).empty());
}

// A hostile server's long chain costs at most kMaxChainPositions lookups.
TEST_F(ChainRevocationTest, ALongChainIsBounded) {
  std::vector<X509Ptr> cas;
  std::vector<EvpPkeyPtr> keys;
  keys.push_back(testing::GenerateKey());
  cas.push_back(testing::IssueCert({.common_name = "Level 0", .serial = 100,
                                    .not_before = now_ - kDay, .not_after = now_ + kDay,
                                    .ca = true},
                                   keys[0].get(), nullptr, keys[0].get()));
  for (int i = 1; i <= 12; ++i) {
    keys.push_back(testing::GenerateKey());
    cas.push_back(testing::IssueCert({.common_name = "Level " + std::to_string(i),
                                      .serial = 100 + i, .not_before = now_ - kDay,
                                      .not_after = now_ + kDay, .ca = true},
                                     keys[i].get(), cas[i - 1].get(), keys[i - 1].get()));
  }
  auto leaf_key = testing::GenerateKey();
  auto leaf = testing::IssueCert({.serial = 9, .not_before = now_ - kDay, .not_after = now_ + kDay},
                                 leaf_key.get(), cas.back().get(), keys.back().get());
  std::vector<X509*> served = {leaf.get()};
  for (auto it = cas.rbegin(); it != cas.rend(); ++it) served.push_back(it->get());
  auto subjects = ChainSubjects(leaf.get(), served, nullptr);
  ASSERT_EQ(subjects.size(), static_cast<size_t>(kMaxChainPositions));
  EXPECT_EQ(subjects.back()->position, kMaxChainPositions);
  EXPECT_EQ(SubjectString(subjects[0]->cert.get()), "CN=Level 12");
}

TEST_F(ChainRevocationTest, AnIntermediateRevokedInItsRootsCaOnlyCrl) {
  PublishRootCrl(/*revoked=*/true);
  ChainRevocation chain = Checker();
  ProbeResult r = Subjects();
  chain.Check(Revocation::kCrl, r, now_);
  EXPECT_TRUE(r.extras().chain_subjects.empty()) << "certificates are not kept in results";
  ASSERT_EQ(r.extras().chain.size(), 1u);
  const auto& c = r.extras().chain[0];
  EXPECT_EQ(c.state, LeafCrlState::kRevoked) << c.detail;
  EXPECT_EQ(c.source, "crl");
  EXPECT_EQ(c.revoked_at, now_ - kDay);
  EXPECT_EQ(c.reason, "key_compromise");
  EXPECT_EQ(c.subject, "CN=Chain Intermediate");
  EXPECT_EQ(c.issuer, "CN=Chain Root");
  EXPECT_EQ(c.serial, "77");
  EXPECT_EQ(c.not_after, now_ + 90 * kDay);
  EXPECT_EQ(chain.ocsp_requests(), 0u) << "revocation = crl asks no responder";
}

TEST_F(ChainRevocationTest, CrlScopeDecidesWhoItAnswersFor) {
  // onlyContainsCACerts: answers for the intermediate.
  PublishRootCrl(/*revoked=*/false);
  ChainRevocation chain = Checker();
  ProbeResult r = Subjects();
  chain.Check(Revocation::kCrl, r, now_);
  ASSERT_EQ(r.extras().chain.size(), 1u);
  EXPECT_EQ(r.extras().chain[0].state, LeafCrlState::kGood) << r.extras().chain[0].detail;
  // onlyContainsUserCerts: not for a CA certificate (a fresh store: the
  // CRL above is held for its half-life).
  PublishRootCrl(/*revoked=*/true, /*only_ca=*/false, /*only_user=*/true);
  CrlStore fresh([](const std::string& url, const CrlValidators& since) {
    return FetchCrlUrl(url, std::chrono::seconds(5), kDefaultCrlMaxSize, nullptr, since);
  }, VerifyOptions{});
  ChainRevocation user_only(fresh, [](ResponderProbeRequest) { return ProbeResult{}; });
  r = Subjects();
  user_only.Check(Revocation::kCrl, r, now_);
  ASSERT_EQ(r.extras().chain.size(), 1u);
  EXPECT_EQ(r.extras().chain[0].state, LeafCrlState::kUnavailable);
  EXPECT_NE(r.extras().chain[0].detail.find("end-entity certificates only"), std::string::npos)
      << r.extras().chain[0].detail;
}

TEST_F(ChainRevocationTest, OcspAnswersAreCachedAndRevocationIsFinal) {
  PublishOcsp(V_OCSP_CERTSTATUS_GOOD);
  ChainRevocation chain = Checker();
  ProbeResult r = Subjects();
  chain.Check(Revocation::kOcsp, r, now_);
  ASSERT_EQ(r.extras().chain.size(), 1u);
  EXPECT_EQ(r.extras().chain[0].state, LeafCrlState::kGood) << r.extras().chain[0].detail;
  EXPECT_EQ(r.extras().chain[0].source, "ocsp");
  // Many probes under one intermediate: one request per half-life.
  for (int i = 0; i < 5; ++i) {
    r = Subjects();
    chain.Check(Revocation::kOcsp, r, now_ + 60);
  }
  EXPECT_EQ(server_.CannedHits("int-ocsp"), 1);
  EXPECT_EQ(chain.ocsp_requests(), 1u);
  // Past the half-life (two days): asked again, and now revoked.
  PublishOcsp(V_OCSP_CERTSTATUS_REVOKED);
  r = Subjects();
  chain.Check(Revocation::kOcsp, r, now_ + 2 * kDay + 1);
  EXPECT_EQ(r.extras().chain[0].state, LeafCrlState::kRevoked);
  EXPECT_EQ(r.extras().chain[0].reason, "ca_compromise");
  EXPECT_EQ(r.extras().chain[0].revoked_at, now_ - 2 * kDay);
  // A later "good" (a replayed old response) does not undo it.
  PublishOcsp(V_OCSP_CERTSTATUS_GOOD);
  r = Subjects();
  chain.Check(Revocation::kOcsp, r, now_ + 4 * kDay);
  EXPECT_EQ(r.extras().chain[0].state, LeafCrlState::kRevoked);
}

TEST_F(ChainRevocationTest, BothAsksEachAndAFailureIsUnavailableWithItsReason) {
  // No CRL published (404) and the responder answers garbage.
  server_.SetCanned("int-ocsp", "not DER");
  ChainRevocation chain = Checker();
  ProbeResult r = Subjects();
  chain.Check(Revocation::kBoth, r, now_);
  ASSERT_EQ(r.extras().chain.size(), 1u);
  EXPECT_EQ(r.extras().chain[0].state, LeafCrlState::kUnavailable);
  EXPECT_NE(r.extras().chain[0].detail.find("CRL: "), std::string::npos)
      << r.extras().chain[0].detail;
  EXPECT_NE(r.extras().chain[0].detail.find("OCSP: "), std::string::npos)
      << r.extras().chain[0].detail;
  // The CRL appears: good from it, while OCSP still fails.
  PublishRootCrl(/*revoked=*/false);
  CrlStore fresh([](const std::string& url, const CrlValidators& since) {
    return FetchCrlUrl(url, std::chrono::seconds(5), kDefaultCrlMaxSize, nullptr, since);
  }, VerifyOptions{});
  ChainRevocation both(fresh, [](ResponderProbeRequest req) {
    req.timeout = std::chrono::seconds(5);
    return ResponderProber::ProbeNow(req);
  });
  r = Subjects();
  both.Check(Revocation::kBoth, r, now_);
  EXPECT_EQ(r.extras().chain[0].state, LeafCrlState::kGood) << r.extras().chain[0].detail;
  EXPECT_EQ(r.extras().chain[0].source, "crl");
}

// URLs from a served chain obey [fetch]: a denied responder is never
// connected to.
TEST_F(ChainRevocationTest, FetchPolicyGuardsTheIntermediatesResponder) {
  PublishOcsp(V_OCSP_CERTSTATUS_GOOD);
  ProbePolicy policy;
  policy.table = "[fetch]";
  policy.deny = {ParseProbePattern("127.0.0.0/8").value()};
  ChainRevocation chain = Checker(&policy);
  ProbeResult r = Subjects();
  chain.Check(Revocation::kOcsp, r, now_);
  ASSERT_EQ(r.extras().chain.size(), 1u);
  EXPECT_EQ(r.extras().chain[0].state, LeafCrlState::kUnavailable);
  EXPECT_NE(r.extras().chain[0].detail.find("denied by [fetch] deny \"127.0.0.0/8\""),
            std::string::npos)
      << r.extras().chain[0].detail;
  EXPECT_EQ(server_.CannedHits("int-ocsp"), 0) << "a denied address was connected to";
}

}  // namespace
}  // namespace ose
