// How handshakes and addresses fold into a target's result (fleet.h).
#include "ocsp_staple_exporter/probe/fleet.h"

#include <gtest/gtest.h>

#include <ctime>

#include "pki.h"

namespace ose {
namespace {

ProbeResult Handshake(ResponseState state, std::string address = "127.0.0.2:443") {
  ProbeResult r;
  r.success = true;
  r.address = std::move(address);
  r.staple_present = state != ResponseState::kAbsent;
  r.verdict.Mut().state = state;
  return r;
}

ProbeResult Failed(std::string_view reason, std::string address = "127.0.0.2:443") {
  ProbeResult r;
  r.failure_reason = std::string(reason);
  r.detail = "connect: Connection refused";
  r.address = std::move(address);
  return r;
}

TEST(Fleet, WorstHandshakeWinsInTheIssuesOrder) {
  using S = ResponseState;
  // revoked > invalid > absent > unknown > good
  const S order[] = {S::kGood, S::kUnknown, S::kAbsent, S::kInvalid, S::kRevoked};
  for (size_t i = 0; i + 1 < std::size(order); ++i) {
    EXPECT_LT(StapleSeverity(order[i]), StapleSeverity(order[i + 1])) << i;
    ProbeResult r = CombineHandshakes({Handshake(order[i + 1]), Handshake(order[i])}, 2);
    EXPECT_EQ(r.verdict->state, order[i + 1]);
    r = CombineHandshakes({Handshake(order[i]), Handshake(order[i + 1])}, 2);
    EXPECT_EQ(r.verdict->state, order[i + 1]);
  }
}

// Most of a fleet is one handshake, no CRL or chain lookup: its result has
// no extras at all (one empty pointer). A leaf held for a CRL lookup moves
// into the summary's extras, and the handshake's own are emptied.
TEST(Fleet, APlainResultCarriesNoExtras) {
  ProbeResult plain = CombineHandshakes({Handshake(ResponseState::kGood)}, 1);
  EXPECT_FALSE(plain.extras_.has_value());
  EXPECT_FALSE(plain.extras().handshakes.has_value());

  ProbeResult held = Handshake(ResponseState::kGood);
  held.extras_mut().crl_subjects.push_back(std::make_shared<ProbeResult::CrlSubject>());
  ProbeResult r = CombineHandshakes({Handshake(ResponseState::kGood), held}, 2);
  ASSERT_TRUE(r.extras_.has_value());
  EXPECT_EQ(r.extras().crl_subjects.size(), 1u);
  EXPECT_EQ(r.extras().handshakes->completed, 2);
}

TEST(Fleet, StaplePresentOnlyWhenEveryHandshakeStapled) {
  ProbeResult r = CombineHandshakes(
      {Handshake(ResponseState::kGood), Handshake(ResponseState::kAbsent),
       Handshake(ResponseState::kGood), Handshake(ResponseState::kAbsent)},
      4);
  EXPECT_TRUE(r.success);
  EXPECT_FALSE(r.staple_present);
  EXPECT_EQ(r.verdict->state, ResponseState::kAbsent);
  ASSERT_TRUE(r.extras().handshakes);
  EXPECT_EQ(r.extras().handshakes->requested, 4);
  EXPECT_EQ(r.extras().handshakes->completed, 4);
  EXPECT_EQ(r.extras().handshakes->stapled, 2);
  EXPECT_EQ(r.detail, "2 of 4 handshakes carried a staple");

  r = CombineHandshakes({Handshake(ResponseState::kGood), Handshake(ResponseState::kGood)}, 2);
  EXPECT_TRUE(r.staple_present);
  EXPECT_EQ(r.extras().handshakes->stapled, 2);
  EXPECT_EQ(r.verdict->state, ResponseState::kGood);

  // One handshake: today's result, no counts.
  r = CombineHandshakes({Handshake(ResponseState::kAbsent)}, 1);
  EXPECT_FALSE(r.extras().handshakes);
  EXPECT_FALSE(r.staple_present);
}

TEST(Fleet, AFailedHandshakeFailsTheProbeAndSaysWhich) {
  ProbeResult r = CombineHandshakes(
      {Handshake(ResponseState::kGood), Failed(probe_failure::kConnect)}, 3);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.failure_reason, probe_failure::kConnect);
  EXPECT_EQ(r.detail, "handshake 2 of 3: connect: Connection refused");
  ASSERT_TRUE(r.extras().handshakes);
  EXPECT_EQ(r.extras().handshakes->completed, 1);
  EXPECT_EQ(r.extras().handshakes->stapled, 1);
}

TEST(Fleet, AddressesSummaryIsTheWorstAndKeepsEveryAddress) {
  ProbeResult r = CombineAddresses({Handshake(ResponseState::kGood, "127.0.0.2:443"),
                                    Handshake(ResponseState::kAbsent, "127.0.0.4:443"),
                                    Handshake(ResponseState::kGood, "[::1]:443")});
  EXPECT_TRUE(r.every_address);
  EXPECT_TRUE(r.success);
  EXPECT_TRUE(r.address.empty());
  EXPECT_EQ(r.verdict->state, ResponseState::kAbsent);
  EXPECT_EQ(r.detail, "addresses disagree; worst: 127.0.0.4:443");
  ASSERT_EQ(r.extras().per_address.size(), 3u);
  EXPECT_EQ(r.extras().per_address[2].address, "[::1]:443");

  const std::vector<int> counts = CountAddressStates(r, 0);
  ASSERT_EQ(counts.size(), std::size(kAddressStateNames));
  EXPECT_EQ(counts[0], 2);  // good
  EXPECT_EQ(counts[3], 1);  // absent
  EXPECT_EQ(counts[5], 0);  // failed
}

TEST(Fleet, AnAddressThatFailsFailsTheSummary) {
  ProbeResult r = CombineAddresses({Handshake(ResponseState::kRevoked, "127.0.0.2:443"),
                                    Failed(probe_failure::kConnect, "127.0.0.3:443")});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.detail, "127.0.0.3:443: connect: Connection refused");
  const std::vector<int> counts = CountAddressStates(r, 0);
  EXPECT_EQ(counts[1], 1);  // revoked
  EXPECT_EQ(counts[5], 1);  // failed
}

// Issue 20 point 5: every distinct leaf is looked up, not only the worst
// result's, also when an address failed.
TEST(Fleet, EveryDistinctLeafMovesToTheSummary) {
  const int64_t now = std::time(nullptr);
  auto key = testing::GenerateKey();
  auto leaf = [&](long serial) {
    auto s = std::make_shared<ProbeResult::CrlSubject>();
    s->leaf = testing::IssueCert({.serial = serial, .not_before = now - 60, .not_after = now + 3600},
                                 key.get(), nullptr, key.get());
    return s;
  };
  ProbeResult a = Handshake(ResponseState::kGood, "127.0.0.2:443");
  ProbeResult b = Handshake(ResponseState::kAbsent, "127.0.0.3:443");
  ProbeResult c = Handshake(ResponseState::kGood, "127.0.0.4:443");
  a.extras_mut().crl_subjects = {leaf(1)};
  b.extras_mut().crl_subjects = {leaf(2)};
  auto same_leaf = std::make_shared<ProbeResult::CrlSubject>();
  same_leaf->leaf = ShareX509(a.extras().crl_subjects.front()->leaf.get());
  c.extras_mut().crl_subjects = {same_leaf};
  ProbeResult r = CombineAddresses({a, b, c, Failed(probe_failure::kConnect, "127.0.0.5:443")});
  EXPECT_FALSE(r.success);
  ASSERT_EQ(r.extras().crl_subjects.size(), 2u) << "leaves 1 and 2, leaf 1 once";
  for (const auto& p : r.extras().per_address)
    EXPECT_TRUE(p.extras().crl_subjects.empty()) << p.address;
  ProbeResult h1 = Handshake(ResponseState::kGood, "");
  ProbeResult h2 = Handshake(ResponseState::kGood, "");
  h1.extras_mut().crl_subjects = {leaf(3)};
  h2.extras_mut().crl_subjects = {leaf(4)};
  EXPECT_EQ(CombineHandshakes({h1, h2}, 2).extras().crl_subjects.size(), 2u);
}

// Point 6: among equal states, the answer that expires first, and the
// earliest notAfter.
TEST(Fleet, TheSmallestMarginAndEarliestNotAfterWin) {
  ProbeResult week = Handshake(ResponseState::kGood, "127.0.0.2:443");
  week.verdict.Mut().valid_until = 1'000'000 + 7 * 86400;
  week.not_after = 5'000'000;
  ProbeResult hours = Handshake(ResponseState::kGood, "127.0.0.3:443");
  hours.verdict.Mut().valid_until = 1'000'000 + 2 * 3600;
  hours.not_after = 9'000'000;
  for (const auto& order : {std::vector{week, hours}, std::vector{hours, week}}) {
    ProbeResult r = CombineHandshakes(order, 2);
    EXPECT_EQ(r.verdict->valid_until, 1'000'000 + 2 * 3600);
    EXPECT_EQ(r.not_after, 5'000'000);
    ProbeResult s = CombineAddresses(order);
    EXPECT_EQ(s.verdict->valid_until, 1'000'000 + 2 * 3600);
    EXPECT_EQ(s.not_after, 5'000'000);
  }
  // A worse state still wins over a smaller margin.
  ProbeResult unknown = Handshake(ResponseState::kUnknown, "127.0.0.4:443");
  unknown.verdict.Mut().valid_until = 1'000'000 + 7 * 86400;
  EXPECT_EQ(CombineHandshakes({hours, unknown}, 2).verdict->state, ResponseState::kUnknown);
}

TEST(Fleet, EndpointsAreLabelledWithIpv6InBrackets) {
  using asio::ip::make_address;
  EXPECT_EQ(FormatEndpoint({make_address("127.0.0.3"), 8443}), "127.0.0.3:8443");
  EXPECT_EQ(FormatEndpoint({make_address("::1"), 443}), "[::1]:443");
  EXPECT_EQ(FormatEndpoint({make_address("2001:db8::5"), 443}), "[2001:db8::5]:443");
}

}  // namespace
}  // namespace ose
