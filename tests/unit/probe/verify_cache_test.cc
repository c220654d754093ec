#include "ocsp_staple_exporter/probe/verify_cache.h"

#include <gtest/gtest.h>

namespace ose {
namespace {

InputDigest Key(std::string_view a, std::string_view b = "") {
  InputHasher h;
  h.Add(a);
  h.Add(b);
  return h.Finish();
}

HandshakeFacts GoodFacts(int64_t fresh_until) {
  HandshakeFacts f;
  f.subject = "CN=leaf";
  f.staple_present = true;
  f.chain_verified = true;
  f.identity = CertIdentity{"4242", std::string("CN=issuer"), "AB:CD"};
  OcspVerdict v;
  v.state = ResponseState::kGood;
  v.signature_verified = true;
  v.valid_until = fresh_until;
  v.next_update = fresh_until;
  v.fresh_until = fresh_until;
  f.verdict = std::move(v);
  return f;
}

TEST(InputHasher, FieldsAreLengthPrefixed) {
  EXPECT_NE(Key("ab", "c"), Key("a", "bc"));
  EXPECT_EQ(Key("ab", "c"), Key("ab", "c"));
  EXPECT_NE(Key("ab", "c"), Key("ab", "d"));
}

TEST(VerificationCache, HitReturnsTheFactsAndCountsIt) {
  VerificationCache cache;
  const int64_t now = 1'000'000;
  EXPECT_FALSE(cache.Find(Key("x"), now));
  cache.Insert(Key("x"), GoodFacts(now + 3600), now + 600);
  auto f = cache.Find(Key("x"), now + 1);
  ASSERT_TRUE(f);
  EXPECT_EQ(*f->subject, "CN=leaf");
  EXPECT_EQ(f->verdict->state, ResponseState::kGood);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_FALSE(cache.Find(Key("y"), now + 1)) << "another input is another key";
}

TEST(VerificationCache, TheClockChecksRunAgainOnEveryHit) {
  // Verified good once; once nextUpdate (+ skew) has passed, the same
  // cached verification reads expired: the cache never extends a staple.
  VerificationCache cache;
  const int64_t now = 1'000'000;
  cache.Insert(Key("x"), GoodFacts(now + 10), now + 3600);
  EXPECT_EQ(cache.Find(Key("x"), now + 10)->verdict->state, ResponseState::kGood);
  auto later = cache.Find(Key("x"), now + 11);
  ASSERT_TRUE(later);
  EXPECT_EQ(later->verdict->state, ResponseState::kInvalid);
  EXPECT_EQ(later->verdict->invalid_reason, "expired");
}

// A hit hands out the entry's own names and verdict (no copy: the entry and
// the target's latest result hold one allocation) while the verdict reads
// the same; once it lapses the hit gets a verdict of its own, and the
// entry's stays as verified.
TEST(VerificationCache, HitsShareTheEntrysFactsUntilTheVerdictLapses) {
  VerificationCache cache;
  const int64_t now = 1'000'000;
  cache.Insert(Key("x"), GoodFacts(now + 10), now + 3600);
  auto first = cache.Find(Key("x"), now);
  auto second = cache.Find(Key("x"), now + 10);
  ASSERT_TRUE(first && second);
  EXPECT_TRUE(first->subject.SharesWith(second->subject));
  EXPECT_TRUE(first->identity.SharesWith(second->identity));
  EXPECT_TRUE(first->verdict.SharesWith(second->verdict));
  EXPECT_EQ(second->identity->serial, "4242");

  auto lapsed = cache.Find(Key("x"), now + 11);
  ASSERT_TRUE(lapsed);
  EXPECT_FALSE(lapsed->verdict.SharesWith(first->verdict));
  EXPECT_EQ(lapsed->verdict->state, ResponseState::kInvalid);
  EXPECT_TRUE(lapsed->subject.SharesWith(first->subject));
  EXPECT_EQ(first->verdict->state, ResponseState::kGood) << "the entry's verdict is not written";
  EXPECT_EQ(cache.Find(Key("x"), now + 12)->verdict->state, ResponseState::kInvalid);
}

TEST(VerificationCache, EntriesEndAtTheirLifetime) {
  VerificationCache cache;
  const int64_t now = 1'000'000;
  cache.Insert(Key("x"), GoodFacts(now + 3600), now + 60);
  EXPECT_TRUE(cache.Find(Key("x"), now + 59));
  EXPECT_FALSE(cache.Find(Key("x"), now + 60)) << "past its lifetime it is verified again";
  EXPECT_EQ(cache.size(), 0u);
}

TEST(VerificationCache, CapacityEvictsTheOldestInsertion) {
  VerificationCache cache(2);
  const int64_t now = 1'000'000;
  cache.Insert(Key("a"), GoodFacts(now + 3600), now + 600);
  cache.Insert(Key("b"), GoodFacts(now + 3600), now + 600);
  cache.Insert(Key("a"), GoodFacts(now + 3600), now + 600);  // re-verified: now the newest
  cache.Insert(Key("c"), GoodFacts(now + 3600), now + 600);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.Find(Key("a"), now)) << "a stale position of a must not evict it";
  EXPECT_FALSE(cache.Find(Key("b"), now));
  EXPECT_TRUE(cache.Find(Key("c"), now));
}

// The exporter sizes the cache to its fleet (twice its TLS targets): a
// smaller cap evicts the oldest at the next insertion, a larger one keeps.
TEST(VerificationCache, CapacityFollowsTheFleet) {
  VerificationCache cache(2);
  const int64_t now = 1'000'000;
  cache.SetCapacity(4);
  EXPECT_EQ(cache.capacity(), 4u);
  for (const char* k : {"a", "b", "c", "d"}) cache.Insert(Key(k), GoodFacts(now + 3600), now + 600);
  EXPECT_EQ(cache.size(), 4u);
  EXPECT_TRUE(cache.Find(Key("a"), now)) << "kept under the larger cap";
  cache.SetCapacity(2);
  cache.Insert(Key("e"), GoodFacts(now + 3600), now + 600);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.Find(Key("a"), now));
  EXPECT_TRUE(cache.Find(Key("d"), now));
  EXPECT_TRUE(cache.Find(Key("e"), now));
}

TEST(VerificationCache, OrderStaysBoundedUnderExpiryChurn) {
  VerificationCache cache(4);
  for (int i = 0; i < 1000; ++i) {
    cache.Insert(Key("k", std::to_string(i % 3)), GoodFacts(10), i + 1);
    (void)cache.Find(Key("k", std::to_string(i % 3)), i + 1);  // expires it
  }
  EXPECT_LE(cache.size(), 4u);
}

TEST(VerificationCache, PinLivesAsLongAsTheEntry) {
  VerificationCache cache(1);
  auto pool = std::make_shared<int>(7);
  std::weak_ptr<int> weak = pool;
  cache.Insert(Key("a"), GoodFacts(10), 100, std::move(pool));
  EXPECT_FALSE(weak.expired());
  cache.Insert(Key("b"), GoodFacts(10), 100);  // evicts a
  EXPECT_TRUE(weak.expired());
}

}  // namespace
}  // namespace ose
