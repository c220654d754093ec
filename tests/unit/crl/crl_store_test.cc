// CRL revocation for leaves: the CRLs of a certificate's distribution
// points, shared per URL, with delta CRLs applied. Generated CRLs relative
// to now, served by an in-memory fetcher.
#include "ocsp_staple_exporter/crl/crl_store.h"

#include <gtest/gtest.h>

#include <ctime>
#include <map>

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
        [this](const std::string& url) -> Result<std::string> {
          auto it = served_.find(url);
          if (it == served_.end()) return Error{"connect", "nothing at " + url};
          return it->second;
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

}  // namespace
}  // namespace ose
