#include "ocsp_staple_exporter/common/duration.h"

#include <gtest/gtest.h>

namespace ose {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(ParseDuration, Valid) {
  EXPECT_EQ(ParseDuration("30s"), seconds(30));
  EXPECT_EQ(ParseDuration("5m"), minutes(5));
  EXPECT_EQ(ParseDuration("1h"), hours(1));
  EXPECT_EQ(ParseDuration("1h30m"), minutes(90));
  EXPECT_EQ(ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(ParseDuration("1m500ms"), milliseconds(60500));
  EXPECT_EQ(ParseDuration("2d"), hours(48));
  EXPECT_EQ(ParseDuration("1w"), hours(168));
  EXPECT_EQ(ParseDuration("0s"), seconds(0));
}

TEST(ParseDuration, Invalid) {
  for (const char* bad : {"", "s", "10", "-1s", "1.5s", "30 s", "1s1h", "1s1s", "1x",
                          "99999999999999999999s", "1h ", " 1h", "1y1y"}) {
    EXPECT_FALSE(ParseDuration(bad).has_value()) << bad;
  }
}

TEST(FormatDuration, RoundTrips) {
  EXPECT_EQ(FormatDuration(seconds(0)), "0s");
  EXPECT_EQ(FormatDuration(minutes(90)), "1h30m");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1s500ms");
  EXPECT_EQ(FormatDuration(hours(49)), "2d1h");
  for (const char* s : {"1h30m", "250ms", "2d1h", "59m59s"}) {
    EXPECT_EQ(FormatDuration(*ParseDuration(s)), s);
  }
}

}  // namespace
}  // namespace ose
