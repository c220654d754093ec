#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ocsp_staple_exporter/http/server.h"

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

}  // namespace
}  // namespace ose
