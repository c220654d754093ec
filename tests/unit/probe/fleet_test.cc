// How handshakes and addresses fold into a target's result (fleet.h).
#include "ocsp_staple_exporter/probe/fleet.h"

#include <gtest/gtest.h>

namespace ose {
namespace {

ProbeResult Handshake(ResponseState state, std::string address = "127.0.0.2:443") {
  ProbeResult r;
  r.success = true;
  r.address = std::move(address);
  r.staple_present = state != ResponseState::kAbsent;
  r.verdict.state = state;
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
    EXPECT_EQ(r.verdict.state, order[i + 1]);
    r = CombineHandshakes({Handshake(order[i]), Handshake(order[i + 1])}, 2);
    EXPECT_EQ(r.verdict.state, order[i + 1]);
  }
}

TEST(Fleet, StaplePresentOnlyWhenEveryHandshakeStapled) {
  ProbeResult r = CombineHandshakes(
      {Handshake(ResponseState::kGood), Handshake(ResponseState::kAbsent),
       Handshake(ResponseState::kGood), Handshake(ResponseState::kAbsent)},
      4);
  EXPECT_TRUE(r.success);
  EXPECT_FALSE(r.staple_present);
  EXPECT_EQ(r.verdict.state, ResponseState::kAbsent);
  ASSERT_TRUE(r.handshakes);
  EXPECT_EQ(r.handshakes->requested, 4);
  EXPECT_EQ(r.handshakes->completed, 4);
  EXPECT_EQ(r.handshakes->stapled, 2);
  EXPECT_EQ(r.detail, "2 of 4 handshakes carried a staple");

  r = CombineHandshakes({Handshake(ResponseState::kGood), Handshake(ResponseState::kGood)}, 2);
  EXPECT_TRUE(r.staple_present);
  EXPECT_EQ(r.handshakes->stapled, 2);
  EXPECT_EQ(r.verdict.state, ResponseState::kGood);

  // One handshake: today's result, no counts.
  r = CombineHandshakes({Handshake(ResponseState::kAbsent)}, 1);
  EXPECT_FALSE(r.handshakes);
  EXPECT_FALSE(r.staple_present);
}

TEST(Fleet, AFailedHandshakeFailsTheProbeAndSaysWhich) {
  ProbeResult r = CombineHandshakes(
      {Handshake(ResponseState::kGood), Failed(probe_failure::kConnect)}, 3);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.failure_reason, probe_failure::kConnect);
  EXPECT_EQ(r.detail, "handshake 2 of 3: connect: Connection refused");
  ASSERT_TRUE(r.handshakes);
  EXPECT_EQ(r.handshakes->completed, 1);
  EXPECT_EQ(r.handshakes->stapled, 1);
}

TEST(Fleet, AddressesSummaryIsTheWorstAndKeepsEveryAddress) {
  ProbeResult r = CombineAddresses({Handshake(ResponseState::kGood, "127.0.0.2:443"),
                                    Handshake(ResponseState::kAbsent, "127.0.0.4:443"),
                                    Handshake(ResponseState::kGood, "[::1]:443")});
  EXPECT_TRUE(r.every_address);
  EXPECT_TRUE(r.success);
  EXPECT_TRUE(r.address.empty());
  EXPECT_EQ(r.verdict.state, ResponseState::kAbsent);
  EXPECT_EQ(r.detail, "addresses disagree; worst: 127.0.0.4:443");
  ASSERT_EQ(r.per_address.size(), 3u);
  EXPECT_EQ(r.per_address[2].address, "[::1]:443");

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

TEST(Fleet, CertificatesForTheCrlLookupMoveToTheSummary) {
  ProbeResult a = Handshake(ResponseState::kGood, "127.0.0.2:443");
  ProbeResult b = Handshake(ResponseState::kAbsent, "127.0.0.3:443");
  a.crl_subject = std::make_shared<ProbeResult::CrlSubject>();
  b.crl_subject = std::make_shared<ProbeResult::CrlSubject>();
  const auto worst = b.crl_subject;
  ProbeResult r = CombineAddresses({a, b});
  EXPECT_EQ(r.crl_subject, worst);
  for (const auto& p : r.per_address) EXPECT_FALSE(p.crl_subject) << p.address;
}

TEST(Fleet, EndpointsAreLabelledWithIpv6InBrackets) {
  using asio::ip::make_address;
  EXPECT_EQ(FormatEndpoint({make_address("127.0.0.3"), 8443}), "127.0.0.3:8443");
  EXPECT_EQ(FormatEndpoint({make_address("::1"), 443}), "[::1]:443");
  EXPECT_EQ(FormatEndpoint({make_address("2001:db8::5"), 443}), "[2001:db8::5]:443");
}

}  // namespace
}  // namespace ose
