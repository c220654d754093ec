// The engine for one certificate with an injected clock: real responses
// generated with the OpenSSL API, verified as the prober would, fed in.
#include "ocsp_staple_exporter/stapler/engine.h"

#include <gtest/gtest.h>

#include <ctime>

#include "pki.h"

namespace ose {
namespace {

constexpr int64_t kDay = 86400;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t0_ = std::time(nullptr);
    ca_key_ = testing::GenerateKey();
    ca_ = testing::IssueCert({.common_name = "CA", .not_before = t0_ - kDay,
                              .not_after = t0_ + 365 * kDay, .ca = true},
                             ca_key_.get(), nullptr, ca_key_.get());
    key_ = testing::GenerateKey();
    leaf_ = testing::IssueCert({.serial = 5, .not_before = t0_ - kDay,
                                .not_after = t0_ + 90 * kDay, .must_staple = true},
                               key_.get(), ca_.get(), ca_key_.get());
  }

  StaplerCertificate Cert(const std::string& mode, bool must_staple = true) {
    StaplerCertificate c;
    c.name = "api";
    c.mode = mode;
    auto lc = std::make_shared<LoadedCert>();
    lc->cert = ShareX509(leaf_.get());
    lc->issuer = ShareX509(ca_.get());
    lc->must_staple = must_staple;
    c.cert = lc;
    c.urls = {"http://ocsp.test"};
    return c;
  }

  std::unique_ptr<StaplerCore> Core(const std::string& mode, bool must_staple = true) {
    StaplerEffects fx;
    fx.publish = [this](const StaplerCertState& s, const std::vector<uint8_t>& der) {
      published_.push_back(std::string(StateName(s.held.state)));
      last_der_ = der;
    };
    fx.withdraw = [this](const StaplerCertState&) { published_.push_back("withdrawn"); };
    fx.persist = [this](const StaplerCertState&, const StoreEntry& e) {
      persisted_.push_back(e.status);
      last_entry_ = e;
    };
    fx.fatal = [this](const StaplerCertState&, bool f) { fatal_.push_back(f); };
    return std::make_unique<StaplerCore>(Cert(mode, must_staple), RefreshPolicy{},
                                         VerifyOptions{}, fx, [] { return 0.5; });
  }

  // A response as the responder prober returns it, verified at `now`.
  ProbeResult Answer(int status, int64_t now, int64_t this_update, int64_t next_update,
                     std::optional<int64_t> max_age = std::nullopt,
                     int reason = OCSP_REVOKED_STATUS_KEYCOMPROMISE) {
    testing::ResponseSpec spec;
    spec.cert_status = status;
    spec.this_update = this_update;
    spec.next_update = next_update;
    if (status == V_OCSP_CERTSTATUS_REVOKED) {
      spec.revoked_at = this_update - 10;
      spec.revocation_reason = reason;
    }
    auto der = testing::MakeResponse(spec, leaf_.get(), ca_.get(), ca_.get(), ca_key_.get());
    ProbeResult r;
    r.success = true;
    r.extras_mut().der = std::make_shared<const std::vector<uint8_t>>(der);
    r.verdict = VerifyOcspResponse(der, leaf_.get(), ca_.get(), {}, now);
    r.http = ProbeResult::Http{.url = "http://ocsp.test", .method = "GET", .status = 200,
                               .request_seconds = 0.01, .max_age = max_age};
    return r;
  }

  ProbeResult Failure() {
    ProbeResult r;
    r.failure_reason = "connect";
    r.detail = "connection refused";
    return r;
  }

  int64_t t0_ = 0;
  EvpPkeyPtr ca_key_, key_;
  X509Ptr ca_, leaf_;
  std::vector<std::string> published_, persisted_;
  std::vector<bool> fatal_;
  std::vector<uint8_t> last_der_;
  StoreEntry last_entry_;
};

TEST_F(EngineTest, GoodIsPublishedPersistedAndRefreshedAtTheClampedMidpoint) {
  auto core = Core("must");
  EXPECT_TRUE(core->FetchDue(t0_));
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_GOOD, t0_, t0_ - 60, t0_ + 7 * kDay), t0_);
  const auto& s = core->state();
  EXPECT_EQ(s.held.state, ResponseState::kGood);
  EXPECT_TRUE(s.serving);
  EXPECT_FALSE(s.fatal);
  EXPECT_EQ(published_, std::vector<std::string>{"good"});
  EXPECT_EQ(persisted_, std::vector<std::string>{"good"});
  EXPECT_EQ(last_entry_.der, last_der_);
  EXPECT_EQ(s.next_refresh, t0_ + 3600);  // midpoint 3.5 d away, clamped to 1 h (jitter 0)
  EXPECT_FALSE(core->FetchDue(t0_ + 3599));
  EXPECT_TRUE(core->FetchDue(t0_ + 3600));
  EXPECT_EQ(s.refresh_total.at("good"), 1u);
  EXPECT_EQ(core->NextWake(t0_), t0_ + 3600);
}

TEST_F(EngineTest, RevokedReplacesAGoodStapleAtOnceAndIsFatalInMust) {
  auto core = Core("must");
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_GOOD, t0_, t0_ - 60, t0_ + 7 * kDay), t0_);
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_REVOKED, t0_ + 3600, t0_ + 3500, t0_ + 8 * kDay),
                  t0_ + 3600);
  const auto& s = core->state();
  EXPECT_EQ(s.held.state, ResponseState::kRevoked);
  EXPECT_EQ(s.held.revocation_reason, "key_compromise");
  EXPECT_TRUE(s.serving);  // the revoked response is what clients must see
  EXPECT_EQ(published_, (std::vector<std::string>{"good", "revoked"}));
  EXPECT_EQ(persisted_, (std::vector<std::string>{"good", "revoked"}));
  EXPECT_TRUE(s.fatal);
  EXPECT_EQ(fatal_, std::vector<bool>{true});
}

TEST_F(EngineTest, RevokedIsServedButNotFatalInAuto) {
  auto core = Core("auto");
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_REVOKED, t0_, t0_ - 60, t0_ + kDay), t0_);
  EXPECT_TRUE(core->state().serving);
  EXPECT_FALSE(core->state().fatal);
  EXPECT_TRUE(fatal_.empty());
}

// revocation = "crl" | "both" (issue 24): the certificate's CRL lists it
// while the responder still answers good. The good staple is withdrawn
// (never served against the CRL) and must is fatal, as for an OCSP
// revocation; in auto nothing good is served and nothing is fatal.
TEST_F(EngineTest, ACrlRevocationFailsClosedLikeAnOcspOne) {
  auto good_but_listed = [&](int64_t at) {
    ProbeResult r = Answer(V_OCSP_CERTSTATUS_GOOD, at, at - 60, at + 7 * kDay);
    r.leaf_crl = LeafCrlStatus{.state = LeafCrlState::kRevoked, .revoked_at = at - 600,
                               .reason = "key_compromise", .url = "http://crl.test/ca.crl"};
    return r;
  };
  auto core = Core("must");
  ProbeResult first = Answer(V_OCSP_CERTSTATUS_GOOD, t0_, t0_ - 60, t0_ + 7 * kDay);
  first.leaf_crl = LeafCrlStatus{.state = LeafCrlState::kGood};
  core->OnFetched(first, t0_);
  EXPECT_TRUE(core->state().serving);
  EXPECT_FALSE(core->state().fatal);
  core->OnFetched(good_but_listed(t0_ + 3600), t0_ + 3600);
  const auto& s = core->state();
  ASSERT_TRUE(s.crl.has_value());
  EXPECT_EQ(s.crl->state, LeafCrlState::kRevoked);
  EXPECT_EQ(s.held.state, ResponseState::kGood) << "the OCSP answer is still held";
  EXPECT_FALSE(s.serving);
  EXPECT_EQ(published_, (std::vector<std::string>{"good", "withdrawn"}));
  EXPECT_TRUE(s.fatal);
  EXPECT_EQ(fatal_, std::vector<bool>{true});

  auto relaxed = Core("auto");
  relaxed->OnFetched(good_but_listed(t0_), t0_);
  EXPECT_FALSE(relaxed->state().serving);
  EXPECT_FALSE(relaxed->state().fatal);
  // An OCSP revocation stays servable (it is what clients must see).
  ProbeResult revoked = Answer(V_OCSP_CERTSTATUS_REVOKED, t0_ + 60, t0_, t0_ + kDay);
  revoked.leaf_crl = LeafCrlStatus{.state = LeafCrlState::kRevoked};
  relaxed->OnFetched(revoked, t0_ + 60);
  EXPECT_TRUE(relaxed->state().serving);
  // An unavailable CRL changes nothing.
  auto plain = Core("must");
  ProbeResult dark = Answer(V_OCSP_CERTSTATUS_GOOD, t0_, t0_ - 60, t0_ + 7 * kDay);
  dark.leaf_crl = LeafCrlStatus{.state = LeafCrlState::kUnavailable};
  plain->OnFetched(dark, t0_);
  EXPECT_TRUE(plain->state().serving);
  EXPECT_FALSE(plain->state().fatal);
}

TEST_F(EngineTest, UnknownAndErrorsNeverOverwriteAGoodStapleAndBackOff) {
  auto core = Core("must");
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_GOOD, t0_, t0_ - 60, t0_ + kDay), t0_);
  int64_t t = t0_ + 3600;
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_UNKNOWN, t, t - 60, t + kDay), t);
  EXPECT_EQ(core->state().held.state, ResponseState::kGood);
  EXPECT_TRUE(core->state().serving);
  EXPECT_EQ(core->state().next_refresh, t + 60);
  EXPECT_EQ(core->state().last_error, "responder answered unknown");
  core->OnFetched(Failure(), t + 60);
  EXPECT_EQ(core->state().next_refresh, t + 60 + 120);
  core->OnFetched(Failure(), t + 180);
  EXPECT_EQ(core->state().next_refresh, t + 180 + 240);
  EXPECT_EQ(core->state().held.state, ResponseState::kGood);
  EXPECT_EQ(core->state().failures_in_row, 3);
  EXPECT_EQ(core->state().refresh_total.at("unknown"), 1u);
  EXPECT_EQ(core->state().refresh_total.at("failed"), 2u);
  EXPECT_EQ(published_, std::vector<std::string>{"good"});
  EXPECT_TRUE(fatal_.empty());
  // A later success resets the backoff.
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_GOOD, t + 500, t + 400, t + 7 * kDay), t + 500);
  EXPECT_EQ(core->state().failures_in_row, 0);
  EXPECT_EQ(core->state().next_refresh, t + 500 + 3600);
}

TEST_F(EngineTest, WithdrawnBeforeNextUpdateThenFatalInMust) {
  auto core = Core("must");
  int64_t next_update = t0_ + 2 * 3600;
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_GOOD, t0_, t0_ - 60, next_update), t0_);
  // The responder goes away; every fetch fails.
  for (int64_t t = t0_ + 60; t < next_update - 400; t += 600) core->OnFetched(Failure(), t);
  EXPECT_TRUE(core->state().serving);
  EXPECT_EQ(core->NextWake(next_update - 400), next_update - 300);
  core->Evaluate(next_update - 300);
  EXPECT_FALSE(core->state().serving);
  EXPECT_EQ(published_.back(), "withdrawn");
  EXPECT_TRUE(core->state().fatal);
  // Ten years later it is still withdrawn, and shown as expired.
  core->Evaluate(next_update + 10 * 365 * kDay);
  EXPECT_FALSE(core->state().serving);
  EXPECT_EQ(core->state().held.state, ResponseState::kInvalid);
  EXPECT_EQ(core->state().held.invalid_reason, "expired");
}

TEST_F(EngineTest, AutoWithdrawsWithoutFatal) {
  auto core = Core("auto");
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_GOOD, t0_, t0_ - 60, t0_ + 3600), t0_);
  core->Evaluate(t0_ + 3600 - 300);
  EXPECT_FALSE(core->state().serving);
  EXPECT_FALSE(core->state().fatal);
}

TEST_F(EngineTest, NoStapleAtStartIsFatalOnlyAfterTheFirstAttempt) {
  auto core = Core("always", /*must_staple=*/false);
  core->Evaluate(t0_);
  EXPECT_FALSE(core->state().fatal);
  core->OnFetched(Failure(), t0_);
  EXPECT_TRUE(core->state().fatal);
  EXPECT_EQ(core->state().held.state, ResponseState::kAbsent);
}

// Issue 11.1: auto skips a Must-Staple certificate that names no OCSP
// responder (no `url` either): nothing to fetch, not fatal.
TEST_F(EngineTest, AutoSkipsACertificateWithoutOcspUrl) {
  StaplerCertificate c = Cert("auto");
  c.urls.clear();
  StaplerEffects fx;
  StaplerCore core(c, RefreshPolicy{}, VerifyOptions{}, fx, [] { return 0.5; });
  EXPECT_TRUE(core.state().no_ocsp_url);
  EXPECT_FALSE(core.state().ocsp_url_present);
  EXPECT_FALSE(core.FetchDue(t0_));
  core.Evaluate(t0_ + 3600);
  EXPECT_FALSE(core.state().fatal);
  EXPECT_FALSE(core.state().serving);
}

TEST_F(EngineTest, ModesThatDoNotFetch) {
  auto never = Core("never");
  EXPECT_FALSE(never->FetchDue(t0_));
  never->Evaluate(t0_);
  EXPECT_TRUE(never->state().warn);  // Must-Staple in never mode
  auto auto_plain = Core("auto", /*must_staple=*/false);
  EXPECT_FALSE(auto_plain->FetchDue(t0_));
  auto_plain->Evaluate(t0_);
  EXPECT_FALSE(auto_plain->state().warn);
  EXPECT_FALSE(auto_plain->state().fatal);
}

TEST_F(EngineTest, CacheEntriesAreReverified) {
  auto good = Answer(V_OCSP_CERTSTATUS_GOOD, t0_, t0_ - 60, t0_ + kDay);
  StoreEntry e;
  e.der = *good.extras().der;
  e.fetched_at = t0_ - 60;
  auto core = Core("must");
  EXPECT_EQ(core->LoadCache(e, t0_), "");
  EXPECT_TRUE(core->state().serving);
  EXPECT_EQ(core->state().held_source, "cache");
  EXPECT_FALSE(core->state().fatal);

  // Expired by the time of the restart: not used.
  auto later = Core("must");
  std::string why = later->LoadCache(e, t0_ + 2 * kDay);
  EXPECT_NE(why.find("expired"), std::string::npos) << why;
  EXPECT_FALSE(later->state().serving);
  EXPECT_TRUE(later->FetchDue(t0_ + 2 * kDay));

  // Corrupt bytes; a missing entry; an unreadable one.
  StoreEntry corrupt;
  corrupt.der = {0x30, 0x03, 0x0a, 0x01};
  EXPECT_NE(Core("must")->LoadCache(corrupt, t0_).find("malformed"), std::string::npos);
  EXPECT_EQ(Core("must")->LoadCache(Error{"missing", "x"}, t0_), "");
  EXPECT_EQ(Core("must")->LoadCache(Error{"corrupt", "bad sidecar"}, t0_), "bad sidecar");
}

TEST_F(EngineTest, ReplayedGoodAfterRevocationIsRefused) {
  auto core = Core("must");
  // A good answer, then the revocation.
  auto good = Answer(V_OCSP_CERTSTATUS_GOOD, t0_, t0_ - 60, t0_ + 7 * kDay);
  core->OnFetched(good, t0_);
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_REVOKED, t0_ + 60, t0_ + 30, t0_ + 7 * kDay),
                  t0_ + 60);
  ASSERT_TRUE(core->state().fatal);
  // An adversary on the plain-HTTP path replays the pre-revocation good
  // response, still within its nextUpdate; so does a fresh good one.
  core->OnFetched(good, t0_ + 120);
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_GOOD, t0_ + 180, t0_ + 170, t0_ + 7 * kDay),
                  t0_ + 180);
  const auto& s = core->state();
  EXPECT_EQ(s.held.state, ResponseState::kRevoked);
  EXPECT_TRUE(s.fatal);
  EXPECT_EQ(fatal_, std::vector<bool>{true});  // never cleared
  EXPECT_EQ(published_, (std::vector<std::string>{"good", "revoked"}));
  EXPECT_EQ(persisted_, (std::vector<std::string>{"good", "revoked"}));
  EXPECT_EQ(s.refresh_total.at("stale"), 2u);
  EXPECT_EQ(s.refresh_total.at("good"), 1u);
  EXPECT_NE(s.last_error.find("revocation is permanent"), std::string::npos) << s.last_error;
  EXPECT_EQ(s.failures_in_row, 2);  // refused answers back off like failures
}

TEST_F(EngineTest, RevocationStaysAfterItsNextUpdate) {
  auto core = Core("must");
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_REVOKED, t0_, t0_ - 60, t0_ + 3600), t0_);
  core->Evaluate(t0_ + 2 * kDay);
  EXPECT_EQ(core->state().held.state, ResponseState::kRevoked);
  EXPECT_TRUE(core->state().held.expired);
  EXPECT_FALSE(core->state().serving);  // not fit to staple any more
  EXPECT_TRUE(core->state().fatal);
  // A good answer later still does not clear it.
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_GOOD, t0_ + 2 * kDay, t0_ + 2 * kDay - 60,
                         t0_ + 9 * kDay),
                  t0_ + 2 * kDay);
  EXPECT_EQ(core->state().held.state, ResponseState::kRevoked);
  EXPECT_EQ(fatal_, std::vector<bool>{true});
}

TEST_F(EngineTest, CertificateHoldIsLiftedByANewerGood) {
  auto core = Core("must");
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_REVOKED, t0_, t0_ - 60, t0_ + kDay, std::nullopt,
                         OCSP_REVOKED_STATUS_CERTIFICATEHOLD),
                  t0_);
  EXPECT_TRUE(core->state().fatal);
  // An older good (replay) is refused; a newer one lifts the hold.
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_GOOD, t0_, t0_ - 120, t0_ + kDay), t0_ + 10);
  EXPECT_EQ(core->state().held.state, ResponseState::kRevoked);
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_GOOD, t0_ + 20, t0_ + 10, t0_ + kDay), t0_ + 20);
  EXPECT_EQ(core->state().held.state, ResponseState::kGood);
  EXPECT_FALSE(core->state().fatal);
  EXPECT_EQ(fatal_, (std::vector<bool>{true, false}));
}

TEST_F(EngineTest, OlderGoodNeverReplacesANewerOne) {
  auto core = Core("must");
  auto older = Answer(V_OCSP_CERTSTATUS_GOOD, t0_, t0_ - 3600, t0_ + 7 * kDay);
  auto newer = Answer(V_OCSP_CERTSTATUS_GOOD, t0_, t0_ - 60, t0_ + 3 * kDay);
  core->OnFetched(newer, t0_);
  core->OnFetched(older, t0_ + 10);
  EXPECT_EQ(core->state().held.this_update, t0_ - 60);
  EXPECT_EQ(last_der_, *newer.extras().der);
  EXPECT_EQ(published_, std::vector<std::string>{"good"});
  EXPECT_EQ(core->state().refresh_total.at("stale"), 1u);
  EXPECT_NE(core->state().last_refusal.find("older"), std::string::npos);
  // Issue 20 point 8: not a failure (OCSPStaplerRefreshStalled counts
  // those), and asked again on the normal schedule, not after a backoff.
  EXPECT_EQ(core->state().failures, 0u);
  EXPECT_EQ(core->state().failures_in_row, 0);
  EXPECT_TRUE(core->state().last_error.empty()) << core->state().last_error;
  EXPECT_EQ(core->state().next_refresh, t0_ + 10 + 3600);  // clamped midpoint, jitter 0
  // Three stale edges in a row still read as a healthy refresh.
  for (int i = 1; i <= 3; ++i) core->OnFetched(older, t0_ + 10 + i * 3600);
  EXPECT_EQ(core->state().failures_in_row, 0);
  EXPECT_EQ(core->state().refresh_total.at("stale"), 4u);
  EXPECT_TRUE(core->state().serving);
}

// Issue 20 point 16: a reload's new skew and refresh settings reach a
// certificate the engine already holds a staple for.
TEST_F(EngineTest, ReconfigureAppliesNewSkewAndRefreshSettings) {
  auto core = Core("auto");
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_GOOD, t0_, t0_ - 60, t0_ + 3600), t0_);
  EXPECT_EQ(VerdictAt(core->state().held, t0_ + 3600 + 200).state, ResponseState::kGood)
      << "within the default 300 s skew";
  RefreshPolicy faster;
  faster.max_refresh = 60;
  faster.min_refresh = 10;
  core->Reconfigure(faster, VerifyOptions{.skew_seconds = 0}, t0_ + 5);
  EXPECT_EQ(VerdictAt(core->state().held, t0_ + 3600 + 200).state, ResponseState::kInvalid);
  EXPECT_LE(core->state().next_refresh, t0_ + 5 + 60);
  EXPECT_TRUE(core->FetchDue(t0_ + 65));
}

// Issue 20 point 9: a staple signed by a delegated responder whose
// certificate expires before the staple does is withdrawn before that, and
// then reads invalid (signer_expired), as the TLS probe reads it.
TEST_F(EngineTest, StapleIsWithdrawnWhenItsDelegatedSignerExpires) {
  auto rkey = testing::GenerateKey();
  const int64_t signer_end = t0_ + 7200;
  auto responder = testing::IssueCert({.common_name = "Responder", .serial = 77,
                                       .not_before = t0_ - kDay, .not_after = signer_end,
                                       .ocsp_signing = true},
                                      rkey.get(), ca_.get(), ca_key_.get());
  testing::ResponseSpec spec;
  spec.this_update = t0_ - 60;
  spec.next_update = t0_ + 7 * kDay;
  auto der = testing::MakeResponse(spec, leaf_.get(), ca_.get(), responder.get(), rkey.get());
  ProbeResult r;
  r.success = true;
  r.extras_mut().der = std::make_shared<const std::vector<uint8_t>>(der);
  r.verdict = VerifyOcspResponse(der, leaf_.get(), ca_.get(), {}, t0_);
  ASSERT_EQ(r.verdict->state, ResponseState::kGood) << r.verdict->detail;
  auto core = Core("must");
  core->OnFetched(r, t0_);
  EXPECT_TRUE(core->state().serving);
  EXPECT_LE(core->NextWake(t0_), signer_end - kWithdrawBeforeSeconds);
  core->Evaluate(signer_end - kWithdrawBeforeSeconds - 1);
  EXPECT_TRUE(core->state().serving);
  core->Evaluate(signer_end - kWithdrawBeforeSeconds);
  EXPECT_FALSE(core->state().serving);
  EXPECT_EQ(published_.back(), "withdrawn");
  EXPECT_TRUE(core->state().fatal) << "must: a lost valid staple is fatal";
  core->Evaluate(signer_end + VerifyOptions{}.skew_seconds + 1);
  EXPECT_EQ(core->state().held.state, ResponseState::kInvalid);
  EXPECT_EQ(core->state().held.invalid_reason, "signer_expired");
  // What a scrape or a TLS probe reads of the same verdict.
  OcspVerdict later = VerdictAt(r.verdict, signer_end + VerifyOptions{}.skew_seconds + 1);
  EXPECT_EQ(later.state, ResponseState::kInvalid);
  EXPECT_EQ(later.invalid_reason, "signer_expired");
  EXPECT_EQ(VerdictAt(r.verdict, signer_end)->state, ResponseState::kGood);
}

TEST_F(EngineTest, NewestVerifiedEntryWinsAtStart) {
  // store_dir still has an older good entry (a persist failed); the
  // published output_file holds the newer revocation. Either order of
  // offering ends with the revocation held.
  auto good = Answer(V_OCSP_CERTSTATUS_GOOD, t0_, t0_ - 3600, t0_ + 7 * kDay);
  auto revoked = Answer(V_OCSP_CERTSTATUS_REVOKED, t0_, t0_ - 60, t0_ + 7 * kDay);
  StoreEntry e;
  e.der = *good.extras().der;
  auto a = Core("must");
  EXPECT_EQ(a->LoadCache(e, t0_), "");
  EXPECT_EQ(a->Offer(*revoked.extras().der, "output_file", t0_), "");
  EXPECT_EQ(a->state().held.state, ResponseState::kRevoked);
  EXPECT_EQ(persisted_.back(), "revoked");  // store_dir catches up
  persisted_.clear();
  StoreEntry r;
  r.der = *revoked.extras().der;
  auto b = Core("must");
  EXPECT_EQ(b->LoadCache(r, t0_), "");
  EXPECT_NE(b->Offer(*good.extras().der, "output_file", t0_).find("revocation"), std::string::npos);
  EXPECT_EQ(b->state().held.state, ResponseState::kRevoked);
  EXPECT_TRUE(persisted_.empty());
  // Two good ones: the newer thisUpdate wins.
  auto newer = Answer(V_OCSP_CERTSTATUS_GOOD, t0_, t0_ - 60, t0_ + 7 * kDay);
  auto c = Core("must");
  e.der = *newer.extras().der;
  EXPECT_EQ(c->LoadCache(e, t0_), "");
  EXPECT_NE(c->Offer(*good.extras().der, "output_file", t0_).find("older"), std::string::npos);
  EXPECT_EQ(c->state().held.this_update, t0_ - 60);
  // An expired revocation in the cache is still a revocation after restart.
  StoreEntry old_revoked;
  old_revoked.der = *revoked.extras().der;
  auto d = Core("must");
  EXPECT_EQ(d->LoadCache(old_revoked, t0_ + 30 * kDay), "");
  EXPECT_EQ(d->state().held.state, ResponseState::kRevoked);
  EXPECT_TRUE(d->state().fatal);
  EXPECT_FALSE(d->state().serving);
}

TEST_F(EngineTest, MaxAgeNeverOutlivesTheStapleAndIsIgnoredOnFailures) {
  auto core = Core("must");
  // nextUpdate in 2 h, max-age of 30 days: refetch before withdrawal.
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_GOOD, t0_, t0_ - 60, t0_ + 7200, 30 * kDay), t0_);
  EXPECT_EQ(core->state().next_refresh, t0_ + 7200 - 300 - 60);
  // An unknown answer with max-age: retry after the backoff, not max-age.
  core->OnFetched(Answer(V_OCSP_CERTSTATUS_UNKNOWN, t0_ + 100, t0_ + 90, t0_ + kDay, kDay),
                  t0_ + 100);
  EXPECT_EQ(core->state().next_refresh, t0_ + 100 + 60);
}

}  // namespace
}  // namespace ose
