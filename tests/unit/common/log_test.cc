#include "ocsp_staple_exporter/common/log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

namespace ose {
namespace {

TEST(Log, LogfmtQuotesOnlyWhenNeeded) {
  EXPECT_EQ(log::LogfmtValue("good"), "good");
  EXPECT_EQ(log::LogfmtValue("a b"), "\"a b\"");
  EXPECT_EQ(log::LogfmtValue(""), "\"\"");
  EXPECT_EQ(log::LogfmtValue("k=v"), "\"k=v\"");
  EXPECT_EQ(log::LogfmtValue("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
  // Control bytes are escaped; invalid UTF-8 is replaced by U+FFFD.
  EXPECT_EQ(log::LogfmtValue("a\x1b[31m"), "\"a\\u001b[31m\"");
  EXPECT_EQ(log::LogfmtValue("\xff"), "\"\xef\xbf\xbd\"");
  EXPECT_EQ(log::LogfmtValue("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

TEST(Log, LinesAreLogfmtOrJson) {
  ASSERT_TRUE(log::Setup("debug", log::Format::kLogfmt));
  EXPECT_EQ(log::FormatBody("state changed", {{"target", "api"}, {"to", "absent"}}),
            "msg=\"state changed\" target=api to=absent");
  ASSERT_TRUE(log::Setup("info", log::Format::kJson));
  EXPECT_EQ(log::FormatBody("x\"y", {{"target", "a\\b"}}),
            R"("msg":"x\"y","target":"a\\b")");

  // The whole line, through spdlog, with a capturing sink.
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::default_logger()->sinks().push_back(sink);
  sink->set_pattern(R"({"level":"%l",%v})");
  log::Info("hello", {{"k", "v"}});
  log::Debug("hidden at info level");
  EXPECT_EQ(out.str(), "{\"level\":\"info\",\"msg\":\"hello\",\"k\":\"v\"}\n");
  ASSERT_TRUE(log::Setup("info", log::Format::kLogfmt));
  EXPECT_FALSE(log::Setup("verbose", log::Format::kLogfmt));
}

}  // namespace
}  // namespace ose
