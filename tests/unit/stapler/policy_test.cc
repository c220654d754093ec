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
  // A responder's max-age is the earliest refetch.
  EXPECT_EQ(NextRefresh(p, kNow, kNow, kNow + 2400, {}, {}, 7200, 0.5), kNow + 7200);
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
