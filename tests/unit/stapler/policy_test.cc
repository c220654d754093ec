#include "ocsp_staple_exporter/stapler/policy.h"

#include <gtest/gtest.h>

namespace ose {
namespace {

constexpr int64_t kNow = 1'800'000'000;
constexpr int64_t kDay = 86400;

using S = ResponseState;
using M = StaplerMode;

// The staple decision as a truth table: every mode x Must-Staple x held
// state, with a fresh response, before and after the first fetch.
TEST(Decide, TruthTable) {
  struct Row {
    M mode;
    bool must_staple;
    S held;
    bool attempted;
    bool staple, serve, fatal, warn;
  };
  const Row rows[] = {
      // mode     MS     held        tried  staple serve  fatal  warn
      {M::kAuto, true, S::kGood, true, true, true, false, false},
      {M::kAuto, true, S::kRevoked, true, true, true, false, false},
      {M::kAuto, true, S::kUnknown, true, true, false, false, false},
      {M::kAuto, true, S::kAbsent, true, true, false, false, false},
      {M::kAuto, true, S::kInvalid, true, true, false, false, false},
      {M::kAuto, false, S::kGood, true, false, false, false, false},
      {M::kMust, true, S::kGood, true, true, true, false, false},
      {M::kMust, true, S::kRevoked, true, true, true, true, false},
      {M::kMust, true, S::kUnknown, true, true, false, true, false},
      {M::kMust, true, S::kAbsent, true, true, false, true, false},
      {M::kMust, true, S::kAbsent, false, true, false, false, false},  // still starting
      {M::kMust, true, S::kInvalid, true, true, false, true, false},
      {M::kMust, false, S::kAbsent, true, false, false, false, false},  // nothing to staple
      {M::kAlways, false, S::kGood, true, true, true, false, false},
      {M::kAlways, false, S::kRevoked, true, true, true, true, false},
      {M::kAlways, false, S::kAbsent, true, true, false, true, false},
      {M::kAlways, true, S::kGood, true, true, true, false, false},
      {M::kNever, true, S::kGood, true, false, false, false, true},
      {M::kNever, false, S::kAbsent, true, false, false, false, false},
  };
  for (const Row& r : rows) {
    HeldStaple held{r.held, kNow + kDay};
    auto d = Decide(r.mode, r.must_staple, held, kNow, r.attempted);
    std::string what = std::string(ModeName(r.mode)) + (r.must_staple ? " must-staple " : " ") +
                       std::string(StateName(r.held)) + (r.attempted ? "" : " (starting)");
    EXPECT_EQ(d.staple, r.staple) << what;
    EXPECT_EQ(d.serve, r.serve) << what;
    EXPECT_EQ(d.fatal, r.fatal) << what;
    EXPECT_EQ(d.warn, r.warn) << what;
  }
}

// The certificate's CRL lists it (revocation = "crl" | "both"): a good
// staple is not served, a revoked one still is; must/always are fatal.
TEST(Decide, ACrlRevocationIsNeverStapledGood) {
  const struct {
    M mode;
    S held;
    bool serve, fatal;
  } rows[] = {
      {M::kAuto, S::kGood, false, false},   {M::kAuto, S::kRevoked, true, false},
      {M::kMust, S::kGood, false, true},    {M::kMust, S::kRevoked, true, true},
      {M::kAlways, S::kGood, false, true},  {M::kMust, S::kAbsent, false, true},
      {M::kNever, S::kGood, false, false},
  };
  for (const auto& r : rows) {
    HeldStaple held{r.held, kNow + kDay, /*crl_revoked=*/true};
    auto d = Decide(r.mode, true, held, kNow, true);
    const std::string what = std::string(ModeName(r.mode)) + " " + std::string(StateName(r.held));
    EXPECT_EQ(d.serve, r.serve) << what;
    EXPECT_EQ(d.fatal, r.fatal) << what;
  }
}

TEST(Decide, WithdrawnBeforeNextUpdateNeverServedStale) {
  HeldStaple held{S::kGood, kNow + 1000};
  EXPECT_TRUE(Decide(M::kMust, true, held, kNow, true).serve);
  EXPECT_TRUE(Decide(M::kMust, true, held, kNow + 1000 - 301, true).serve);
  auto late = Decide(M::kMust, true, held, kNow + 1000 - 300, true);
  EXPECT_FALSE(late.serve);
  EXPECT_TRUE(late.fatal);  // losing the valid staple is fatal in must
  EXPECT_FALSE(Decide(M::kAuto, true, held, kNow + 5000, true).serve);
  EXPECT_FALSE(Decide(M::kAuto, true, held, kNow + 5000, true).fatal);
  HeldStaple no_time{S::kGood, std::nullopt};
  EXPECT_FALSE(Decide(M::kAuto, true, no_time, kNow, true).serve);
}

TEST(NextRefresh, MidpointClampedAndJittered) {
  RefreshPolicy p;  // 5 m .. 1 h, +-10 %
  // 7-day response fetched now: midpoint 3.5 d away, clamped to 1 h.
  EXPECT_EQ(NextRefresh(p, kNow, kNow, kNow + 7 * kDay, {}, {}, {}, 0.5), kNow + 3600);
  EXPECT_EQ(NextRefresh(p, kNow, kNow, kNow + 7 * kDay, {}, {}, {}, 0.0), kNow + 3240);
  EXPECT_EQ(NextRefresh(p, kNow, kNow, kNow + 7 * kDay, {}, {}, {}, 1.0), kNow + 3960);
  // 40-minute response: midpoint 20 min away.
  EXPECT_EQ(NextRefresh(p, kNow, kNow, kNow + 2400, {}, {}, {}, 0.5), kNow + 1200);
  // 4-minute response: clamped up to 5 min.
  EXPECT_EQ(NextRefresh(p, kNow, kNow, kNow + 240, {}, {}, {}, 0.5), kNow + 300);
  // The responder certificate expires first: its notAfter bounds validity.
  EXPECT_EQ(NextRefresh(p, kNow, kNow, kNow + 7 * kDay, kNow + 1800, {}, {}, 0.5), kNow + 900);
  // So does the leaf.
  EXPECT_EQ(NextRefresh(p, kNow, kNow, kNow + 7 * kDay, {}, kNow + 1200, {}, 0.5), kNow + 600);
  // A responder's max-age defers the refetch...
  EXPECT_EQ(NextRefresh(p, kNow, kNow, kNow + 7 * kDay, {}, {}, 7200, 0.5), kNow + 7200);
  // ...but never past the withdrawal point minus one retry interval
  // (2400 - 300 - 60), so the staple is refreshed before it is withdrawn.
  EXPECT_EQ(NextRefresh(p, kNow, kNow, kNow + 2400, {}, {}, 7200, 0.5), kNow + 2040);
  // Values above 7 days are clamped.
  EXPECT_EQ(NextRefresh(p, kNow, kNow, kNow + 30 * kDay, {}, {}, 365 * kDay, 0.5),
            kNow + 7 * kDay);
  // A max-age shorter than the computed refresh changes nothing.
  EXPECT_EQ(NextRefresh(p, kNow, kNow, kNow + 7 * kDay, {}, {}, 60, 0.5), kNow + 3600);
}

OcspVerdict Answer(S state, int64_t this_update, std::string reason = "key_compromise") {
  OcspVerdict v;
  v.state = state;
  v.this_update = this_update;
  if (state == S::kRevoked) v.revocation_reason = reason;
  return v;
}

// The monotonic freshness rule as a truth table.
TEST(MayReplace, FreshnessIsMonotonicAndRevocationSticky) {
  using R = ReplaceVerdict;
  const OcspVerdict none;
  // Anything verified replaces nothing.
  EXPECT_EQ(MayReplace(none, 0, Answer(S::kGood, kNow)), R::kAccept);
  // Newer or equal good replaces good; older never.
  auto good = Answer(S::kGood, kNow);
  EXPECT_EQ(MayReplace(good, kNow, Answer(S::kGood, kNow + 1)), R::kAccept);
  EXPECT_EQ(MayReplace(good, kNow, Answer(S::kGood, kNow)), R::kAccept);
  EXPECT_EQ(MayReplace(good, kNow, Answer(S::kGood, kNow - 1)), R::kOlder);
  // The watermark holds after the held answer expired (state invalid).
  OcspVerdict expired = good;
  expired.state = S::kInvalid;
  EXPECT_EQ(MayReplace(expired, kNow, Answer(S::kGood, kNow - 1)), R::kOlder);
  // A revocation replaces good whatever its age; a hold only when newer.
  EXPECT_EQ(MayReplace(good, kNow, Answer(S::kRevoked, kNow - kDay)), R::kAccept);
  EXPECT_EQ(MayReplace(good, kNow, Answer(S::kRevoked, kNow - kDay, "certificate_hold")),
            R::kOlder);
  // A held revocation is never replaced by good, even a newer one...
  auto revoked = Answer(S::kRevoked, kNow);
  EXPECT_EQ(MayReplace(revoked, kNow, Answer(S::kGood, kNow + kDay)), R::kAfterRevocation);
  EXPECT_EQ(MayReplace(revoked, kNow, Answer(S::kGood, kNow - kDay)), R::kAfterRevocation);
  // ...only by a newer (or equal) revocation.
  EXPECT_EQ(MayReplace(revoked, kNow, Answer(S::kRevoked, kNow + 1)), R::kAccept);
  EXPECT_EQ(MayReplace(revoked, kNow, Answer(S::kRevoked, kNow - 1)), R::kOlder);
  // certificate_hold is lifted by a good answer with a later thisUpdate only.
  auto hold = Answer(S::kRevoked, kNow, "certificate_hold");
  EXPECT_EQ(MayReplace(hold, kNow, Answer(S::kGood, kNow + 1)), R::kAccept);
  EXPECT_EQ(MayReplace(hold, kNow, Answer(S::kGood, kNow)), R::kAfterRevocation);
  EXPECT_EQ(MayReplace(hold, kNow, Answer(S::kGood, kNow - 1)), R::kAfterRevocation);
}

TEST(RetryAfterFailure, ExponentialBackoffCapped) {
  RefreshPolicy p;
  EXPECT_EQ(RetryAfterFailure(p, kNow, 1), kNow + 60);
  EXPECT_EQ(RetryAfterFailure(p, kNow, 2), kNow + 120);
  EXPECT_EQ(RetryAfterFailure(p, kNow, 3), kNow + 240);
  EXPECT_EQ(RetryAfterFailure(p, kNow, 6), kNow + 1920);
  EXPECT_EQ(RetryAfterFailure(p, kNow, 7), kNow + 3600);
  EXPECT_EQ(RetryAfterFailure(p, kNow, 100), kNow + 3600);
}

}  // namespace
}  // namespace ose
