#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ocsp_staple_exporter/common/text.h"
#include "ocsp_staple_exporter/http/server.h"
#include "ocsp_staple_exporter/stapler/alertmanager.h"

namespace ose {
namespace {

TEST(StaplerJson, ListsEveryCertificate) {
  StaplerCertState c;
  c.name = "api \"x\"";
  c.mode = StaplerMode::kAlways;
  c.held.state = ResponseState::kGood;
  c.held.signature_verified = true;
  c.held.next_update = 1'800'000'000;
  c.serving = true;
  c.successes = 4;
  c.failures = 2;
  c.failures_in_row = 1;
  c.last_error = "connect: refused";
  auto j = nlohmann::json::parse(StaplerJson({c, StaplerCertState{}}, 1'700'000'000));
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["name"], "api \"x\"");
  EXPECT_EQ(j[0]["mode"], "always");
  EXPECT_EQ(j[0]["status"], "good");
  EXPECT_EQ(j[0]["serving"], true);
  EXPECT_EQ(j[0]["fatal"], false);
  EXPECT_EQ(j[0]["next_update"], "2027-01-15T08:00:00Z");
  EXPECT_TRUE(j[0]["this_update"].is_null());
  EXPECT_EQ(j[0]["successes"], 4);
  EXPECT_EQ(j[0]["failures"], 2);
  EXPECT_EQ(j[0]["consecutive_failures"], 1);
  EXPECT_EQ(j[0]["last_error"], "connect: refused");
  EXPECT_EQ(j[1]["status"], "absent");
  EXPECT_EQ(StaplerJson({}, 0), "[]\n");
}

// Read-time truth: what the API and the landing page show is evaluated at
// the moment they answer, and unauthenticated times are never shown.
TEST(StaplerJson, TruthAtTheMomentItIsRead) {
  StaplerCertState c;
  c.name = "api";
  c.held.state = ResponseState::kGood;
  c.held.signature_verified = true;
  c.held.this_update = 1'000;
  c.held.next_update = 2'000;
  c.held.valid_until = 2'000;
  c.held.fresh_until = 2'300;
  EXPECT_EQ(nlohmann::json::parse(StaplerJson({c}, 2'300))[0]["status"], "good");
  auto late = nlohmann::json::parse(StaplerJson({c}, 2'301))[0];
  EXPECT_EQ(late["status"], "invalid");
  EXPECT_EQ(late["invalid_reason"], "expired");
  std::string page = LandingPage({}, {c}, 2'301);
  EXPECT_NE(page.find("<td class=\"invalid\">invalid</td>"), std::string::npos) << page;
  // A signature that did not verify: no times, anywhere.
  c.held.signature_verified = false;
  c.held.state = ResponseState::kInvalid;
  c.held.invalid_reason = "signature";
  auto forged = nlohmann::json::parse(StaplerJson({c}, 1'500))[0];
  EXPECT_TRUE(forged["next_update"].is_null());
  EXPECT_TRUE(forged["this_update"].is_null());
  EXPECT_TRUE(forged["produced_at"].is_null());
  EXPECT_EQ(LandingPage({}, {c}, 1'500).find("1970-01-01T00:33:20Z"), std::string::npos);
  TargetSnapshot t;
  t.name = "tls";
  t.kind = "tls";
  ProbeResult r;
  r.success = true;
  r.staple_present = true;
  r.verdict = c.held;
  t.last = r;
  EXPECT_EQ(LandingPage({t}, {}, 1'500).find("1970-01-01T00:33:20Z"), std::string::npos);
  r.verdict.signature_verified = true;
  r.verdict.state = ResponseState::kGood;
  r.verdict.fresh_until = 2'300;
  t.last = r;
  std::string fresh = LandingPage({t}, {}, 1'500);
  EXPECT_NE(fresh.find("1970-01-01T00:33:20Z"), std::string::npos) << fresh;
  EXPECT_NE(fresh.find("<td class=\"good\">good</td>"), std::string::npos);
  std::string stale = LandingPage({t}, {}, 2'400);
  EXPECT_NE(stale.find("<td class=\"invalid\">invalid:expired</td>"), std::string::npos) << stale;
}

// addresses = "all": one row per address under the target's summary row;
// handshakes > 1: the staple column says how many carried one.
TEST(LandingPage, AddressRowsAndHandshakeCounts) {
  ProbeResult good;
  good.success = true;
  good.staple_present = true;
  good.verdict.state = ResponseState::kGood;
  good.address = "127.0.0.2:443";
  ProbeResult absent = good;
  absent.staple_present = false;
  absent.verdict.state = ResponseState::kAbsent;
  absent.address = "[::1]:443";
  absent.handshakes = ProbeResult::Handshakes{.requested = 4, .completed = 4, .stapled = 2};
  TargetSnapshot t;
  t.name = "fleet";
  t.kind = "tls";
  t.address = "fleet.example.net:443";
  t.last = ProbeResult{};
  t.last->success = true;
  t.last->every_address = true;
  t.last->verdict.state = ResponseState::kAbsent;
  t.last->per_address = {good, absent};
  std::string page = LandingPage({t}, {}, 1'500);
  const size_t summary = page.find("<td>fleet.example.net:443</td>");
  const size_t v4 = page.find("<td>127.0.0.2:443</td><td class=\"good\">good</td>");
  const size_t v6 = page.find("<td>[::1]:443</td><td class=\"absent\">absent</td><td>2 of 4</td>");
  ASSERT_NE(summary, std::string::npos) << page;
  ASSERT_NE(v4, std::string::npos) << page;
  ASSERT_NE(v6, std::string::npos) << page;
  EXPECT_LT(summary, v4);
  EXPECT_LT(v4, v6);
}

TEST(HtmlEscape, EscapesMarkup) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
}

// Bytes from the network (a Content-Type of "\xff", a truncated UTF-8
// sequence) never make a JSON, HTML or Alertmanager document throw.
TEST(HostileText, InvalidUtf8IsReplacedEverywhere) {
  StaplerCertState c;
  c.name = "caf\xc3\xa9";  // valid UTF-8 stays
  c.last_error = "content_type: Content-Type \"\xff\xfe\x01\", want application/ocsp-response";
  std::string json = StaplerJson({c}, 0);
  auto j = nlohmann::json::parse(json);
  EXPECT_EQ(j[0]["name"], "caf\xc3\xa9");
  EXPECT_EQ(j[0]["last_error"],
            "content_type: Content-Type \"\xef\xbf\xbd\xef\xbf\xbd\x01\", want "
            "application/ocsp-response");
  auto alert = nlohmann::json::parse(FatalAlertJson(c, 1, 2, false));
  EXPECT_NE(alert[0]["annotations"]["description"].get<std::string>().find("\xef\xbf\xbd"),
            std::string::npos);
  EXPECT_EQ(HtmlEscape("a\xff<"), "a\xef\xbf\xbd&lt;");
  EXPECT_EQ(ValidUtf8("\xe2\x82"), "\xef\xbf\xbd");
  EXPECT_EQ(ValidUtf8("plain"), "plain");
}

}  // namespace
}  // namespace ose
