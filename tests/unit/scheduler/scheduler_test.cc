// The scheduler with the real prober against sockets on 127.0.0.1 that
// accept and never answer: every probe runs into its timeout.
#include "ocsp_staple_exporter/scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <spdlog/spdlog.h>

#include <thread>

#include "silent_server.h"

namespace ose {
namespace {

using std::chrono::milliseconds;

using testing::SilentServer;

Config ManyTargets(int n, uint16_t port, int concurrency, milliseconds interval,
                   milliseconds timeout, const std::string& prefix = "t") {
  Config c;
  c.global.concurrency = concurrency;
  for (int i = 0; i < n; ++i) {
    TlsTarget t;
    t.name = prefix + std::to_string(i);
    t.address = "127.0.0.1:" + std::to_string(port);
    t.endpoint = {"127.0.0.1", port};
    t.interval = interval;
    t.timeout = timeout;
    c.tls.push_back(t);
  }
  return c;
}

bool WaitUntil(const std::function<bool()>& f, milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return f();
}

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::warn);  // one state-change line per target is noise here
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    spdlog::set_level(spdlog::level::info);
    work_.reset();
    io_.stop();
    thread_.join();
  }
  // The store knows `n` targets and each has a result (Apply is asynchronous).
  bool Probed(size_t n) { return store_.Snapshot().size() == n && store_.AllProbed(); }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  ResultStore store_;
  TlsProber prober_{io_};
  Scheduler scheduler_{io_, store_, prober_};
  std::thread thread_;
};

TEST_F(SchedulerTest, ConcurrencyLimitHoldsAndEveryTargetIsServed) {
  SilentServer server;
  scheduler_.Apply(ManyTargets(120, server.port(), 15, milliseconds(400), milliseconds(200)));
  // 120 probes of 200 ms, 15 at a time: 8 rounds, about 1.6 s.
  ASSERT_TRUE(WaitUntil([&] { return Probed(120); }, milliseconds(20000)));
  EXPECT_EQ(scheduler_.MaxInFlight(), 15);
  for (const auto& t : store_.Snapshot()) {
    ASSERT_TRUE(t.last.has_value()) << t.name;
    EXPECT_FALSE(t.last->success);
    EXPECT_EQ(t.last->failure_reason, "timeout") << t.name;
    EXPECT_GE(t.last->duration_seconds, 0.19);
    EXPECT_LT(t.last->duration_seconds, 2.0);
  }
}

TEST_F(SchedulerTest, ThousandsInFlightOnOneThread) {
  SilentServer server;
  // First probes spread over 5 s; a 6 s timeout keeps them all waiting at once.
  scheduler_.Apply(ManyTargets(1500, server.port(), 5000, milliseconds(60000),
                               milliseconds(6000)));
  ASSERT_TRUE(WaitUntil([&] { return Probed(1500); }, milliseconds(30000)));
  // All were waiting on their timeout together.
  EXPECT_EQ(scheduler_.MaxInFlight(), 1500);
}

TEST_F(SchedulerTest, ReloadKeepsResultsOfStayingTargetsAndDropsRemovedOnes) {
  SilentServer server;
  scheduler_.Apply(ManyTargets(4, server.port(), 10, milliseconds(300), milliseconds(100)));
  ASSERT_TRUE(WaitUntil([&] { return Probed(4); }, milliseconds(10000)));
  Config smaller = ManyTargets(2, server.port(), 10, milliseconds(300), milliseconds(100));
  Config added = ManyTargets(1, server.port(), 10, milliseconds(300), milliseconds(100), "new");
  smaller.tls.push_back(added.tls[0]);
  scheduler_.Apply(smaller);
  ASSERT_TRUE(WaitUntil([&] { return Probed(3); }, milliseconds(10000)));
  auto s = store_.Snapshot();
  EXPECT_EQ(s[0].name, "new0");
  EXPECT_EQ(s[1].name, "t0");
  EXPECT_EQ(s[2].name, "t1");
  EXPECT_GE(s[1].probes, 1u);
  EXPECT_EQ(s[1].failures["timeout"], s[1].probes);
}

TEST(MakeTlsRequest, TakesTargetAndGlobalOptions) {
  TlsTarget t;
  t.endpoint = {"::1", 8443};
  t.server_name = "api.example.net";
  t.timeout = milliseconds(1500);
  GlobalConfig g;
  g.skew = std::chrono::seconds(30);
  g.default_validity = std::chrono::hours(2);
  auto r = MakeTlsRequest(t, g);
  EXPECT_EQ(r.host, "::1");
  EXPECT_EQ(r.port, 8443);
  EXPECT_EQ(r.server_name, "api.example.net");
  EXPECT_EQ(r.timeout, milliseconds(1500));
  EXPECT_EQ(r.verify.skew_seconds, 30);
  EXPECT_EQ(r.verify.default_validity_seconds, 7200);
}

}  // namespace
}  // namespace ose
