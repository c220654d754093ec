#include <openssl/evp.h>

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
  EXPECT_NE(page.find("<td class=\"invalid\" data-label=\"Status\">invalid</td>"),
            std::string::npos)
      << page;
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
  t.info = TargetInfo{.name = "tls", .kind = "tls"};
  ProbeResult r;
  r.success = true;
  r.staple_present = true;
  r.verdict = c.held;
  t.last = std::make_shared<const ProbeResult>(r);
  EXPECT_EQ(LandingPage({t}, {}, 1'500).find("1970-01-01T00:33:20Z"), std::string::npos);
  r.verdict.Mut().signature_verified = true;
  r.verdict.Mut().state = ResponseState::kGood;
  r.verdict.Mut().fresh_until = 2'300;
  t.last = std::make_shared<const ProbeResult>(r);
  std::string fresh = LandingPage({t}, {}, 1'500);
  EXPECT_NE(fresh.find("1970-01-01T00:33:20Z"), std::string::npos) << fresh;
  EXPECT_NE(fresh.find("<td class=\"s good\" data-label=\"State\">good</td>"), std::string::npos);
  std::string stale = LandingPage({t}, {}, 2'400);
  EXPECT_NE(stale.find("<td class=\"s invalid\" data-label=\"State\">invalid:expired</td>"),
            std::string::npos)
      << stale;
}

// addresses = "all": one row per address under the target's summary row;
// handshakes > 1: the staple column says how many carried one.
TEST(LandingPage, AddressRowsAndHandshakeCounts) {
  ProbeResult good;
  good.success = true;
  good.staple_present = true;
  good.verdict.Mut().state = ResponseState::kGood;
  good.address = "127.0.0.2:443";
  ProbeResult absent = good;
  absent.staple_present = false;
  absent.verdict.Mut().state = ResponseState::kAbsent;
  absent.address = "[::1]:443";
  absent.extras_mut().handshakes =
      ProbeResult::Handshakes{.requested = 4, .completed = 4, .stapled = 2};
  TargetSnapshot t;
  t.info = TargetInfo{.name = "fleet", .kind = "tls", .address = "fleet.example.net:443"};
  ProbeResult summary_result;
  summary_result.success = true;
  summary_result.every_address = true;
  summary_result.verdict.Mut().state = ResponseState::kAbsent;
  summary_result.extras_mut().per_address = {good, absent};
  t.last = std::make_shared<const ProbeResult>(std::move(summary_result));
  std::string page = LandingPage({t}, {}, 1'500);
  const size_t summary = page.find(">fleet.example.net:443</td>");
  const size_t v4 = page.find(">127.0.0.2:443</td><td class=\"s good\" data-label=\"State\">good</td>");
  const size_t v6 = page.find(">[::1]:443</td><td class=\"s absent\" data-label=\"State\">absent</td>"
                              "<td class=\"y\" data-label=\"Staple\">2 of 4</td>");
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

namespace ose {
namespace {

ProbeResult Staple(ResponseState state, int64_t valid_until) {
  ProbeResult r;
  r.success = true;
  r.staple_present = state != ResponseState::kAbsent;
  r.finished_at = 1'000;
  r.verdict.Mut().state = state;
  if (state != ResponseState::kAbsent) {
    r.verdict.Mut().signature_verified = true;
    r.verdict.Mut().this_update = 0;
    r.verdict.Mut().next_update = valid_until;
    r.verdict.Mut().valid_until = valid_until;
    r.verdict.Mut().fresh_until = valid_until + 300;
  }
  return r;
}

TargetSnapshot Named(std::string name, std::optional<ProbeResult> r) {
  TargetSnapshot t;
  const std::string address = name + ":443";
  t.info = TargetInfo{.name = std::move(name), .kind = "tls", .address = address};
  if (r) t.last = std::make_shared<const ProbeResult>(std::move(*r));
  return t;
}

// The order: revoked, invalid, Must-Staple without staple, failed,
// absent, unknown, good; within a group the smallest margin first.
TEST(LandingPage, WorstFirstThenSmallestMargin) {
  const int64_t now = 10'000;
  ProbeResult must = Staple(ResponseState::kAbsent, 0);
  must.must_staple = true;
  ProbeResult failed;
  failed.failure_reason = "connect";
  failed.detail = "connect: Connection refused";
  failed.finished_at = 9'990;
  ProbeResult expired = Staple(ResponseState::kGood, now - 400);  // past fresh_until: invalid
  std::vector<TargetSnapshot> targets = {
      Named("a-good-far", Staple(ResponseState::kGood, now + 86'400)),
      Named("b-good-near", Staple(ResponseState::kGood, now + 3'600)),
      Named("c-unknown", Staple(ResponseState::kUnknown, now + 3'600)),
      Named("d-absent", Staple(ResponseState::kAbsent, 0)),
      Named("e-failed", failed),
      Named("f-must", must),
      Named("g-expired", expired),
      Named("h-revoked", Staple(ResponseState::kRevoked, now + 3'600)),
      Named("i-pending", std::nullopt),
  };
  const std::string page = LandingPage(targets, {}, now);
  const char* const order[] = {"h-revoked", "g-expired", "f-must",      "e-failed",
                               "d-absent",  "c-unknown", "b-good-near", "a-good-far",
                               "i-pending"};
  size_t at = 0;
  for (const char* name : order) {
    const size_t next = page.find(std::string(">") + name + "</td>", at);
    ASSERT_NE(next, std::string::npos) << name << " missing or out of order\n" << page;
    at = next;
  }
  // The summary counts each group and links to it.
  for (const char* want : {"href=\"#g-revoked\" data-count=\"1\"", "href=\"#g-invalid\" data-count=\"1\"",
                           "href=\"#g-must-staple\" data-count=\"1\"", "href=\"#g-failed\" data-count=\"1\"",
                           "href=\"#g-absent\" data-count=\"1\"", "href=\"#g-unknown\" data-count=\"1\"",
                           "href=\"#g-good\" data-count=\"2\"", "href=\"#g-pending\" data-count=\"1\"",
                           "<tbody id=\"g-must-staple\">", "<tbody id=\"g-good\">"}) {
    EXPECT_NE(page.find(want), std::string::npos) << want;
  }
  EXPECT_EQ(GroupOf(targets[5], now), RowGroup::kMustStapleMissing);
  // Relative times, the absolute one as a tooltip.
  EXPECT_NE(page.find("title=\"1970-01-02T02:46:40Z (UTC)\">in 1 d</time>"), std::string::npos);
  EXPECT_NE(page.find(">in 1 h</time>"), std::string::npos);
  EXPECT_NE(page.find(">expired 6 min ago</time>"), std::string::npos);
  EXPECT_NE(page.find(">10 s ago</time>"), std::string::npos);
  EXPECT_NE(page.find("<span class=\"r\">connect</span> connect: Connection refused"),
            std::string::npos);
}

TEST(LandingPage, LongDetailsTakeOneLineAndExpand) {
  ProbeResult r;
  r.failure_reason = "tls_handshake";
  r.detail = "TLS handshake: error:0A000410:SSL routines::sslv3 alert handshake failure; " +
             std::string(400, 'x') + " <script>";
  const std::string page = LandingPage({Named("long", r)}, {}, 2'000);
  const size_t details = page.find("<details><summary><span class=\"r\">tls_handshake</span> ");
  ASSERT_NE(details, std::string::npos) << page;
  const size_t summary_end = page.find("</summary>", details);
  EXPECT_LT(summary_end - details, 200u) << "the summary line is bounded";
  EXPECT_NE(page.find("\u2026</summary><div class=\"full\">TLS handshake"), std::string::npos);
  EXPECT_NE(page.find("x &lt;script&gt;</div></details>"), std::string::npos);
  EXPECT_EQ(page.find("<script>"), std::string::npos);
  // A multi-byte character is never cut in half.
  r.detail = std::string(71, 'a') + "\u00e9\u00e9" + std::string(50, 'b');
  const std::string utf8 = LandingPage({Named("u", r)}, {}, 2'000);
  EXPECT_NE(utf8.find(std::string(71, 'a') + "\u2026</summary>"), std::string::npos) << utf8;
}

TEST(LandingPage, DurationsReadAsOnCallSaysThem) {
  EXPECT_EQ(HumanDuration(0), "0 s");
  EXPECT_EQ(HumanDuration(59), "59 s");
  EXPECT_EQ(HumanDuration(60), "1 min");
  EXPECT_EQ(HumanDuration(3'599), "59 min");
  EXPECT_EQ(HumanDuration(3'600), "1 h");
  EXPECT_EQ(HumanDuration(6 * 3'600 + 12 * 60 + 30), "6 h 12 min");
  EXPECT_EQ(HumanDuration(2 * 86'400), "2 d");
  EXPECT_EQ(HumanDuration(2 * 86'400 + 3 * 3'600 + 59), "2 d 3 h");
}

// The policy names the stylesheet by its hash: the page's only <style>
// must hash to it, or browsers would drop it.
TEST(LandingPage, ContentSecurityPolicyAllowsExactlyItsStyle) {
  const std::string page = LandingPage({}, {}, 0);
  const size_t a = page.find("<style>") + 7;
  const size_t b = page.find("</style>");
  ASSERT_LT(a, b);
  EXPECT_EQ(page.find("<style>", b), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  const std::string style = page.substr(a, b - a);
  unsigned char md[32];
  unsigned int n = 0;
  ASSERT_EQ(EVP_Digest(style.data(), style.size(), md, &n, EVP_sha256(), nullptr), 1);
  unsigned char b64[64];
  const int len = EVP_EncodeBlock(b64, md, static_cast<int>(n));
  const std::string want = "style-src 'sha256-" + std::string(reinterpret_cast<char*>(b64), len) + "'";
  EXPECT_NE(LandingPageCsp().find(want), std::string::npos) << LandingPageCsp();
  EXPECT_EQ(LandingPageCsp().find("default-src 'none'"), 0u);
}

}  // namespace
}  // namespace ose
