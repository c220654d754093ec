// CRL revocation for leaves: the CRLs of a certificate's distribution
// points, shared per URL, with delta CRLs applied. Generated CRLs relative
// to now, served by an in-memory fetcher.
#include "ocsp_staple_exporter/crl/crl_store.h"

#include <gtest/gtest.h>

#include <ctime>
#include <atomic>
#include <map>
#include <thread>

#include "ocsp_staple_exporter/common/clock.h"

#include "pki.h"

namespace ose {
namespace {

using testing::GenerateKey;
using testing::IssueCert;
using testing::MakeCrl;

constexpr int64_t kDay = 86400;
const std::string kBase = "http://crl.test/ca.crl";
const std::string kDelta = "http://crl.test/ca-delta.crl";

class CrlStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ = std::time(nullptr);
    auto ca = testing::MakeTestCa(now_);
    ca_key_ = std::move(ca.key);
    ca_ = std::move(ca.cert);
    for (long serial : {10, 11, 12}) {
      auto key = GenerateKey();
      leaves_[serial] = IssueCert({.serial = serial, .not_before = now_ - kDay,
                                   .not_after = now_ + kDay},
                                  key.get(), ca_.get(), ca_key_.get());
    }
  }
  testing::CrlSpec Spec(long number) const {
    testing::CrlSpec s;
    s.this_update = now_ - 3600;
    s.next_update = now_ + 7 * kDay - 3600;
    s.crl_number = number;
    return s;
  }
  void Serve(const std::string& url, const testing::CrlSpec& spec) {
    auto der = MakeCrl(spec, ca_.get(), ca_key_.get());
    served_[url] = std::string(der.begin(), der.end());
  }
  CrlStore Store() {
    return CrlStore(
        [this](const std::string& url, const CrlValidators&) -> Result<CrlDownload> {
          auto it = served_.find(url);
          if (it == served_.end()) return Error{"connect", "nothing at " + url};
          return CrlDownload{.body = it->second, .bytes = it->second.size()};
        },
        VerifyOptions{});
  }
  LeafCrlStatus Check(CrlStore& store, long serial, std::vector<std::string> urls = {kBase},
                      int64_t at = 0) {
    return store.Check(urls, leaves_[serial].get(), ca_.get(), at ? at : now_);
  }

  int64_t now_ = 0;
  EvpPkeyPtr ca_key_;
  X509Ptr ca_;
  std::map<long, X509Ptr> leaves_;
  std::map<std::string, std::string> served_;
};

TEST_F(CrlStoreTest, GoodAndRevokedFromOneSharedFetch) {
  auto spec = Spec(5);
  spec.revoked = {{.serial = 11, .revoked_at = now_ - kDay, .reason = 1}};
  Serve(kBase, spec);
  CrlStore store = Store();
  auto good = Check(store, 10);
  EXPECT_EQ(good.state, LeafCrlState::kGood) << good.detail;
  EXPECT_EQ(good.url, kBase);
  auto revoked = Check(store, 11);
  EXPECT_EQ(revoked.state, LeafCrlState::kRevoked);
  EXPECT_EQ(revoked.reason, "key_compromise");
  EXPECT_EQ(revoked.revoked_at, now_ - kDay);
  EXPECT_EQ(store.fetches(), 1u) << "one fetch per URL, shared by every certificate";
  // Past the CRL's half-life it is fetched again.
  (void)Check(store, 10, {kBase}, now_ - 3600 + 7 * kDay / 2 + 1);
  EXPECT_EQ(store.fetches(), 2u);
}

TEST_F(CrlStoreTest, NextDistributionPointWhenOneFailsAndUnavailableWhenAllDo) {
  Serve("http://crl.test/second.crl", Spec(1));
  CrlStore store = Store();
  auto s = Check(store, 10, {"http://crl.test/down.crl", "http://crl.test/second.crl"});
  EXPECT_EQ(s.state, LeafCrlState::kGood);
  EXPECT_EQ(s.url, "http://crl.test/second.crl");
  // Expired, or signed by someone else: never good.
  auto expired = Spec(2);
  expired.this_update = now_ - 10 * kDay;
  expired.next_update = now_ - 3 * kDay;
  Serve(kBase, expired);
  s = Check(store, 10);
  EXPECT_EQ(s.state, LeafCrlState::kUnavailable);
  EXPECT_NE(s.detail.find("expired"), std::string::npos) << s.detail;
  auto rogue = GenerateKey();
  auto der = MakeCrl(Spec(3), ca_.get(), rogue.get());
  served_["http://crl.test/forged.crl"] = std::string(der.begin(), der.end());
  s = Check(store, 10, {"http://crl.test/forged.crl"});
  EXPECT_EQ(s.state, LeafCrlState::kUnavailable);
  EXPECT_NE(s.detail.find("signature"), std::string::npos) << s.detail;
  EXPECT_EQ(Check(store, 10, {}).state, LeafCrlState::kUnavailable);
  // A failed fetch is not repeated per lookup: retried after 60 s.
  const uint64_t before = store.fetches();
  (void)Check(store, 10, {"http://crl.test/down.crl"});
  EXPECT_EQ(store.fetches(), before);
  (void)Check(store, 10, {"http://crl.test/down.crl"}, now_ + 61);
  EXPECT_EQ(store.fetches(), before + 1);
}

TEST_F(CrlStoreTest, DeltaCrlRevokesAndLiftsAHold) {
  // Base 7: leaf 12 on hold. Delta on base 7: leaf 11 revoked since, leaf
  // 12's hold lifted (removeFromCRL).
  auto base = Spec(7);
  base.revoked = {{.serial = 12, .revoked_at = now_ - kDay, .reason = 6}};
  base.freshest_uris = {kDelta};
  Serve(kBase, base);
  auto delta = Spec(8);
  delta.delta_base = 7;
  delta.revoked = {{.serial = 11, .revoked_at = now_ - 600, .reason = 1},
                   {.serial = 12, .revoked_at = now_ - 600, .reason = 8}};
  Serve(kDelta, delta);
  CrlStore store = Store();
  auto s11 = Check(store, 11);
  EXPECT_EQ(s11.state, LeafCrlState::kRevoked);
  EXPECT_TRUE(s11.from_delta);
  EXPECT_EQ(s11.url, kDelta);
  auto s12 = Check(store, 12);
  EXPECT_EQ(s12.state, LeafCrlState::kGood) << "removeFromCRL in the delta lifts the hold";
  EXPECT_TRUE(s12.from_delta);
  EXPECT_EQ(Check(store, 10).state, LeafCrlState::kGood);
  // A delta for a newer base than the one held does not apply.
  delta.delta_base = 9;
  Serve(kDelta, delta);
  CrlStore fresh = Store();
  EXPECT_EQ(Check(fresh, 11).state, LeafCrlState::kGood);
  auto held = Check(fresh, 12);
  EXPECT_EQ(held.state, LeafCrlState::kRevoked);
  EXPECT_EQ(held.reason, "certificate_hold");
  // A delta CRL is never used as the full CRL.
  served_[kBase] = served_[kDelta];
  CrlStore only_delta = Store();
  EXPECT_EQ(Check(only_delta, 10).state, LeafCrlState::kUnavailable);
}


// Issue 20 point 0: lookups every few seconds do not postpone the refetch;
// a newer CRL published before the held one's half-life is taken then.
TEST_F(CrlStoreTest, RefetchedAtHalfLifeHoweverOftenLookedUp) {
  auto spec = Spec(5);  // 7-day CRL: half-life 3.5 days, held at most a day
  Serve(kBase, spec);
  CrlStore store = Store();
  EXPECT_EQ(Check(store, 11).state, LeafCrlState::kGood);
  auto next = Spec(6);
  next.revoked = {{.serial = 11, .revoked_at = now_, .reason = 1}};
  Serve(kBase, next);
  int64_t t = now_;
  for (; t < now_ + kDay - 5; t += 5) ASSERT_EQ(Check(store, 11, {kBase}, t).state,
                                                 LeafCrlState::kGood);
  EXPECT_EQ(store.fetches(), 1u);
  auto s = Check(store, 11, {kBase}, now_ + kDay + 1);
  EXPECT_EQ(s.state, LeafCrlState::kRevoked) << s.detail;
  EXPECT_EQ(store.fetches(), 2u);
}

// Point 1: an outage of the CRL server keeps the held CRL and its verdicts
// until the held CRL's own nextUpdate (+ skew); failures are counted and
// retried with backoff; past nextUpdate the leaf is never good.
TEST_F(CrlStoreTest, FailedRefetchKeepsTheHeldCrlUntilItsNextUpdate) {
  auto spec = Spec(5);
  spec.revoked = {{.serial = 11, .revoked_at = now_ - kDay, .reason = 6}};  // a hold
  Serve(kBase, spec);
  CrlStore store = Store();
  EXPECT_EQ(Check(store, 11).state, LeafCrlState::kRevoked);
  served_.clear();  // the CRL server goes down
  int64_t t = now_ + kDay + 1;
  auto s = Check(store, 11, {kBase}, t);
  EXPECT_EQ(s.state, LeafCrlState::kRevoked) << "an outage must not resolve a revocation";
  auto good = Check(store, 10, {kBase}, t);
  EXPECT_EQ(good.state, LeafCrlState::kGood);
  EXPECT_NE(good.detail.find("refetch failed"), std::string::npos) << good.detail;
  auto counts = store.FetchCounts();
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].fetched, 1u);
  EXPECT_EQ(counts[0].failed, 1u);
  // Backoff: not again within 60 s, then after 60 s, then only after 120 s.
  (void)Check(store, 10, {kBase}, t + 59);
  EXPECT_EQ(store.FetchCounts()[0].failed, 1u);
  (void)Check(store, 10, {kBase}, t + 60);
  EXPECT_EQ(store.FetchCounts()[0].failed, 2u);
  (void)Check(store, 10, {kBase}, t + 60 + 119);
  EXPECT_EQ(store.FetchCounts()[0].failed, 2u);
  (void)Check(store, 10, {kBase}, t + 60 + 120);
  EXPECT_EQ(store.FetchCounts()[0].failed, 3u);
  // Past nextUpdate + skew: unavailable (the hold is not remembered).
  const int64_t after = *spec.next_update + VerifyOptions{}.skew_seconds + 1;
  EXPECT_EQ(Check(store, 10, {kBase}, after).state, LeafCrlState::kUnavailable);
  EXPECT_EQ(Check(store, 11, {kBase}, after).state, LeafCrlState::kUnavailable);
}

// Point 2: no rollback to an older CRL; a final revocation is remembered.
TEST_F(CrlStoreTest, OlderCrlRefusedAndFinalRevocationsStay) {
  auto v6 = Spec(6);
  v6.revoked = {{.serial = 11, .revoked_at = now_ - kDay, .reason = 1},   // keyCompromise
                {.serial = 12, .revoked_at = now_ - kDay, .reason = 6}};  // certificateHold
  Serve(kBase, v6);
  CrlStore store = Store();
  EXPECT_EQ(Check(store, 11).state, LeafCrlState::kRevoked);
  EXPECT_EQ(Check(store, 12).state, LeafCrlState::kRevoked);
  // A replayed CRL 5 (lower number, listing nothing) is refused.
  Serve(kBase, Spec(5));
  int64_t t = now_ + kDay + 1;
  EXPECT_EQ(Check(store, 12, {kBase}, t).state, LeafCrlState::kRevoked);
  EXPECT_EQ(store.FetchCounts()[0].refused, 1u);
  // So is a CRL with a higher number but an older thisUpdate.
  auto older = Spec(9);
  older.this_update = now_ - 2 * kDay;
  Serve(kBase, older);
  EXPECT_EQ(Check(store, 12, {kBase}, t + 60).state, LeafCrlState::kRevoked);
  EXPECT_EQ(store.FetchCounts()[0].refused, 2u);
  // CRL 7, newer, omits both: the hold is lifted, the key compromise stays.
  auto v7 = Spec(7);
  v7.this_update = now_ + 60;
  Serve(kBase, v7);
  t += 60 + 120;
  EXPECT_EQ(Check(store, 12, {kBase}, t).state, LeafCrlState::kGood);
  auto s = Check(store, 11, {kBase}, t);
  EXPECT_EQ(s.state, LeafCrlState::kRevoked);
  EXPECT_EQ(s.reason, "key_compromise");
  EXPECT_EQ(s.revoked_at, now_ - kDay);
  EXPECT_NE(s.detail.find("earlier authentic CRL"), std::string::npos) << s.detail;
  // Even once every CRL has expired.
  EXPECT_EQ(Check(store, 11, {kBase}, now_ + 30 * kDay).state, LeafCrlState::kRevoked);
  // An unauthentic CRL never replaces an authentic one.
  auto rogue = GenerateKey();
  auto forged = MakeCrl(Spec(8), ca_.get(), rogue.get());
  served_[kBase] = std::string(forged.begin(), forged.end());
  CrlStore other = Store();
  Serve(kBase, Spec(8));
  EXPECT_EQ(Check(other, 10).state, LeafCrlState::kGood);
  served_[kBase] = std::string(forged.begin(), forged.end());
  auto kept = Check(other, 10, {kBase}, now_ + kDay + 1);
  EXPECT_EQ(kept.state, LeafCrlState::kGood);
  EXPECT_EQ(other.FetchCounts()[0].refused, 1u);
}

TEST_F(CrlStoreTest, RemoveFromCrlLiftsAHoldOnly) {
  auto base = Spec(7);
  base.revoked = {{.serial = 11, .revoked_at = now_ - kDay, .reason = 1},
                  {.serial = 12, .revoked_at = now_ - kDay, .reason = 6}};
  base.freshest_uris = {kDelta};
  Serve(kBase, base);
  auto delta = Spec(8);
  delta.delta_base = 7;
  delta.revoked = {{.serial = 11, .revoked_at = now_ - 60, .reason = 8},
                   {.serial = 12, .revoked_at = now_ - 60, .reason = 8}};
  Serve(kDelta, delta);
  CrlStore store = Store();
  auto s11 = Check(store, 11);
  EXPECT_EQ(s11.state, LeafCrlState::kRevoked) << "removeFromCRL cannot lift keyCompromise";
  EXPECT_EQ(s11.reason, "key_compromise");
  EXPECT_EQ(Check(store, 12).state, LeafCrlState::kGood);
  // A delta whose own number does not exceed its base's is not applied.
  delta.crl_number = 7;
  Serve(kDelta, delta);
  CrlStore fresh = Store();
  EXPECT_EQ(Check(fresh, 12).reason, "certificate_hold");
}

// Point 3: the Issuing Distribution Point's and the distribution point's
// scope.
TEST_F(CrlStoreTest, ScopeOfTheCrl) {
  auto ca_only = Spec(1);
  ca_only.idp_only_ca = true;
  Serve(kBase, ca_only);
  CrlStore a = Store();
  auto s = Check(a, 10);
  EXPECT_EQ(s.state, LeafCrlState::kUnavailable);
  EXPECT_NE(s.detail.find("CA certificates only"), std::string::npos) << s.detail;
  auto attr = Spec(1);
  attr.idp_only_attribute = true;
  Serve(kBase, attr);
  CrlStore b = Store();
  EXPECT_EQ(Check(b, 10).state, LeafCrlState::kUnavailable);
  auto indirect = Spec(1);
  indirect.idp_indirect = true;
  Serve(kBase, indirect);
  CrlStore c = Store();
  s = Check(c, 10);
  EXPECT_EQ(s.state, LeafCrlState::kUnavailable);
  EXPECT_NE(s.detail.find("indirect"), std::string::npos) << s.detail;
  // onlySomeReasons: keyCompromise and cACompromise in one shard, the rest
  // in another. One alone is not enough for good; both are.
  const std::string kOther = "http://crl.test/other-reasons.crl";
  auto key_reasons = Spec(1);
  key_reasons.idp_only_some_reasons = {1, 2};
  Serve(kBase, key_reasons);
  auto rest = Spec(1);
  rest.idp_only_some_reasons = {3, 4, 5, 6, 7, 8};
  rest.revoked = {{.serial = 11, .revoked_at = now_ - kDay, .reason = 4}};
  Serve(kOther, rest);
  CrlStore d = Store();
  s = Check(d, 10);
  EXPECT_EQ(s.state, LeafCrlState::kUnavailable);
  EXPECT_NE(s.detail.find("only some revocation reasons"), std::string::npos) << s.detail;
  EXPECT_EQ(Check(d, 10, {kBase, kOther}).state, LeafCrlState::kGood);
  EXPECT_EQ(Check(d, 11, {kBase, kOther}).state, LeafCrlState::kRevoked);
  // A distribution point with reasons answers for those only.
  auto key = GenerateKey();
  auto partial = IssueCert({.serial = 20, .not_before = now_ - kDay, .not_after = now_ + kDay,
                            .crl_url = kBase, .crl_reasons = {1}},
                           key.get(), ca_.get(), ca_key_.get());
  Serve(kBase, Spec(2));
  CrlStore e = Store();
  EXPECT_EQ(e.Check({kBase}, partial.get(), ca_.get(), now_).state, LeafCrlState::kUnavailable);
  auto via_issuer = IssueCert({.serial = 21, .not_before = now_ - kDay,
                               .not_after = now_ + kDay, .crl_url = kBase, .crl_indirect = true},
                              key.get(), ca_.get(), ca_key_.get());
  s = e.Check({kBase}, via_issuer.get(), ca_.get(), now_);
  EXPECT_EQ(s.state, LeafCrlState::kUnavailable);
  EXPECT_NE(s.detail.find("cRLIssuer"), std::string::npos) << s.detail;
}

TEST_F(CrlStoreTest, TwentyOctetCrlNumbersAndNoNextUpdate) {
  // 2^159 - 1 and 2^159 - 2: strtoll would saturate both to the same value.
  auto held = Spec(0);
  held.crl_number_decimal = "730750818665451459101842416358141509827966271487";
  Serve(kBase, held);
  CrlStore store = Store();
  EXPECT_EQ(Check(store, 10).state, LeafCrlState::kGood);
  auto lower = Spec(0);
  lower.crl_number_decimal = "730750818665451459101842416358141509827966271486";
  lower.this_update = now_;
  Serve(kBase, lower);
  (void)Check(store, 10, {kBase}, now_ + kDay + 1);
  EXPECT_EQ(store.FetchCounts()[0].refused, 1u);
  // Without nextUpdate, the CRL is current for default_validity (1 h).
  auto open_ended = Spec(3);
  open_ended.this_update = now_ - 600;
  open_ended.next_update.reset();
  Serve(kDelta, open_ended);
  CrlStore other = Store();
  EXPECT_EQ(Check(other, 10, {kDelta}).state, LeafCrlState::kGood);
  auto late = Check(other, 10, {kDelta}, now_ + 3600);
  EXPECT_EQ(late.state, LeafCrlState::kUnavailable) << late.detail;
}

TEST_F(CrlStoreTest, CrlValidUntil9999IsFetchedAgainNextDay) {
  auto spec = Spec(1);
  spec.next_update = 253402300799;  // 9999-12-31T23:59:59Z
  Serve(kBase, spec);
  CrlStore store = Store();
  EXPECT_EQ(Check(store, 10).state, LeafCrlState::kGood);
  (void)Check(store, 10, {kBase}, now_ + kDay - 1);
  EXPECT_EQ(store.fetches(), 1u);
  (void)Check(store, 10, {kBase}, now_ + kDay);
  EXPECT_EQ(store.fetches(), 2u);
}

// Issue 20 point 4: the store forgets URLs nobody asked for in a while,
// and holds at most max_bytes (least recently used out first, never the
// one just used).
TEST_F(CrlStoreTest, BoundedByIdleTimeAndBytes) {
  const std::string kA = "http://crl.test/a.crl", kB = "http://crl.test/b.crl";
  auto big = Spec(1);
  for (long serial = 1000; serial < 1400; ++serial) {
    big.revoked.push_back({.serial = serial, .revoked_at = now_ - kDay, .reason = 4});
  }
  Serve(kA, big);
  Serve(kB, big);
  const size_t size = served_[kA].size();
  CrlStore store = Store();
  store.SetLimits(static_cast<int64_t>(size * 3 / 2), 600);
  EXPECT_EQ(Check(store, 10, {kA}).state, LeafCrlState::kGood);
  EXPECT_EQ(Check(store, 10, {kB}, now_ + 11).state, LeafCrlState::kGood);
  // Over the bound now: the next lookup forgets A (least recently used).
  EXPECT_EQ(Check(store, 10, {kB}, now_ + 22).state, LeafCrlState::kGood);
  auto counts = store.FetchCounts();
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].url, kB);
  // A is fetched again when asked for.
  const uint64_t fetches = store.fetches();
  EXPECT_EQ(Check(store, 10, {kA}, now_ + 33).state, LeafCrlState::kGood);
  EXPECT_EQ(store.fetches(), fetches + 1);
  // Idle for longer than 600 s: forgotten, whatever the bytes.
  store.SetLimits(int64_t{1} << 30, 600);
  EXPECT_EQ(Check(store, 10, {kA}, now_ + 700).state, LeafCrlState::kGood);
  (void)Check(store, 10, {kA}, now_ + 711);
  counts = store.FetchCounts();
  ASSERT_EQ(counts.size(), 1u) << "B was not asked for since now_ + 22";
  EXPECT_EQ(counts[0].url, kA);
  // A CRL larger than the bound is still held (the most recent one).
  store.SetLimits(16, 600);
  const uint64_t before = store.fetches();
  (void)Check(store, 10, {kA}, now_ + 722);
  (void)Check(store, 10, {kA}, now_ + 733);
  EXPECT_EQ(store.fetches(), before);
}

// Point 4: the distribution points of one certificate are fetched at once
// (one timeout in all, not one per point).
TEST_F(CrlStoreTest, DistributionPointsAreFetchedConcurrently) {
  std::atomic<int> in_flight{0}, most{0};
  const std::vector<std::string> urls = {"http://a.test/1.crl", "http://b.test/2.crl",
                                         "http://c.test/3.crl"};
  for (const auto& u : urls) Serve(u, Spec(1));
  CrlStore store(
      [&](const std::string& url, const CrlValidators&) -> Result<CrlDownload> {
        const int now_in = ++in_flight;
        int seen = most.load();
        while (now_in > seen && !most.compare_exchange_weak(seen, now_in)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        --in_flight;
        return CrlDownload{.body = served_.at(url)};
      },
      VerifyOptions{});
  EXPECT_EQ(store.Check(urls, leaves_[10].get(), ca_.get(), now_).state, LeafCrlState::kGood);
  EXPECT_EQ(most.load(), 3) << "the three fetches did not overlap";
  EXPECT_EQ(store.fetches(), 3u) << "each fetched once";
}

TEST(CrlNumbers, CompareAtAnyLength) {
  EXPECT_EQ(CompareCrlNumbers("9", "10"), -1);
  EXPECT_EQ(CompareCrlNumbers("10", "9"), 1);
  EXPECT_EQ(CompareCrlNumbers("007", "7"), 0);
  EXPECT_EQ(CompareCrlNumbers("99999999999999999999999", "99999999999999999999998"), 1);
  EXPECT_EQ(CompareCrlNumbers("-1", "0"), -1);
}

// Point 17: a CRL valid until 9999 is asked for again within a day, and
// time arithmetic saturates.
TEST(CrlHalfLife, FarFutureNextUpdateIsRefetchedDaily) {
  CrlVerdict v;
  v.signature_verified = true;
  v.this_update = 1'700'000'000;
  v.valid_until = 253402300799;  // 9999-12-31T23:59:59Z
  const int64_t now = 1'700'000'100;
  EXPECT_EQ(CrlHalfLife(v, now), now + kMaxCrlHoldSeconds);
  EXPECT_EQ(SaturatingAdd(INT64_MAX - 5, 10), INT64_MAX);
  EXPECT_EQ(SaturatingAdd(INT64_MIN + 5, -10), INT64_MIN);
  EXPECT_EQ(SaturatingAdd(5, -10), -5);
}

// Issue 24 point 1: the validators of the CRL held go back on its refetch;
// a 304 keeps it (counted, no bytes); a 304 to an unconditional request
// (a broken server or cache) is a failure, never a CRL.
TEST_F(CrlStoreTest, ConditionalRefetchKeepsTheHeldCrlOnNotModified) {
  Serve(kBase, Spec(1));
  std::vector<CrlValidators> sent;
  bool answer_304 = false;
  CrlStore store(
      [&](const std::string& url, const CrlValidators& since) -> Result<CrlDownload> {
        sent.push_back(since);
        if (answer_304) return CrlDownload{.not_modified = true, .validators = since};
        const std::string& body = served_.at(url);
        return CrlDownload{.body = body, .validators = {"\"v1\"", ""}, .bytes = body.size()};
      },
      VerifyOptions{});
  EXPECT_EQ(Check(store, 10).state, LeafCrlState::kGood);
  answer_304 = true;
  const int64_t later = now_ + 4 * kDay;  // past the half-life
  EXPECT_EQ(Check(store, 10, {kBase}, later).state, LeafCrlState::kGood);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_TRUE(sent[0].empty());
  EXPECT_EQ(sent[1].etag, "\"v1\"");
  const CrlFetchCounts c = store.FetchCounts().at(0);
  EXPECT_EQ(c.fetched, 1u);
  EXPECT_EQ(c.not_modified, 1u);
  EXPECT_EQ(c.failed, 0u);
  EXPECT_EQ(c.bytes, served_.at(kBase).size());

  // Nothing held, yet a 304: not a CRL.
  CrlStore empty(
      [](const std::string&, const CrlValidators&) -> Result<CrlDownload> {
        return CrlDownload{.not_modified = true};
      },
      VerifyOptions{});
  const LeafCrlStatus s = Check(empty, 10);
  EXPECT_EQ(s.state, LeafCrlState::kUnavailable);
  EXPECT_EQ(s.failure_reason, "http_status") << s.detail;
  EXPECT_EQ(empty.FetchCounts().at(0).failed, 1u);
  EXPECT_EQ(empty.FetchCounts().at(0).not_modified, 0u);
}

}  // namespace
}  // namespace ose
