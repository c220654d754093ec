// The composed exporter, in process: what it answers before its event loop
// has run.
#include "ocsp_staple_exporter/app/exporter.h"

#include <gtest/gtest.h>

#include "process.h"

namespace ose {
namespace {

// The listener starts (Start) before the event loop applies the targets
// (Run): until they are scheduled the store is empty, and "every target
// probed" must not read as ready (a readiness probe in that window would
// send traffic to a pod that has probed nothing; 100,000 targets take
// half a second to schedule).
TEST(Exporter, NotReadyBeforeItsTargetsAreScheduled) {
  Config cfg;
  TlsTarget t;
  t.name = "unreachable";
  t.address = "127.0.0.1:9";
  t.endpoint = {"127.0.0.1", 9};
  t.interval = std::chrono::hours(1);
  t.timeout = std::chrono::seconds(1);
  cfg.tls.push_back(t);
  const int port = testing::FreePort();
  ExporterOptions o;
  o.listen = {"127.0.0.1:" + std::to_string(port)};
  Exporter x(o, cfg);
  ASSERT_TRUE(x.Start());
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  EXPECT_EQ(testing::HttpGet(base + "/-/healthy").status, 200);
  EXPECT_EQ(testing::HttpGet(base + "/-/ready").status, 503);
}

}  // namespace
}  // namespace ose
