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
  c.held.next_update = 1'800'000'000;
  c.serving = true;
  c.successes = 4;
  c.failures = 2;
  c.failures_in_row = 1;
  c.last_error = "connect: refused";
  auto j = nlohmann::json::parse(StaplerJson({c, StaplerCertState{}}));
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
  EXPECT_EQ(StaplerJson({}), "[]\n");
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
  std::string json = StaplerJson({c});
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
