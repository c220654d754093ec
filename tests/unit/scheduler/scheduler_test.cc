// The scheduler with the real prober against sockets on 127.0.0.1 that
// accept and never answer: every probe runs into its timeout.
#include "ocsp_staple_exporter/scheduler/scheduler.h"

#include "ocsp_staple_exporter/probe/targets.h"

#include <gtest/gtest.h>

#include <map>

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

// A target whose probe finishes after `delay` on the io thread, counting
// how many of its key run at once.
ScheduledTarget Timed(asio::io_context& io, const std::string& name, const std::string& key,
                      milliseconds delay, std::atomic<int>& running, std::atomic<int>& peak) {
  ScheduledTarget t;
  t.info = TargetInfo{.name = name, .kind = "test", .address = name};
  t.interval = milliseconds(200);
  t.limit_key = key;
  t.start = [&io, delay, &running, &peak](std::function<void(ProbeResult)> done) {
    int now = ++running;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    auto timer = std::make_shared<asio::steady_timer>(io, delay);
    timer->async_wait([timer, done, &running](const boost::system::error_code&) {
      --running;
      ProbeResult r;
      r.success = true;
      done(r);
    });
  };
  return t;
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
  void Apply(const Config& c) {
    scheduler_.Apply(BuildTargets(c, prober_, http_), c.global.concurrency,
                     c.global.per_host_concurrency);
  }

  ResultStore store_;
  TlsProber prober_{io_};
  ResponderProber http_{io_, 2};
  Scheduler scheduler_{io_, store_};
  std::thread thread_;
};

TEST_F(SchedulerTest, ConcurrencyLimitHoldsAndEveryTargetIsServed) {
  SilentServer server;
  Apply(ManyTargets(120, server.port(), 15, milliseconds(400), milliseconds(200)));
  // 120 probes of 200 ms, 15 at a time: 8 rounds, about 1.6 s.
  ASSERT_TRUE(WaitUntil([&] { return Probed(120); }, milliseconds(20000)));
  EXPECT_EQ(scheduler_.MaxInFlight(), 15);
  // Issue 10: the scheduler's own health. 120 probes of 200 ms through 15
  // slots every 400 ms cannot keep up: probes wait for a slot (lag), and
  // runs are skipped while a target's previous one still waits or runs.
  const SchedulerStats& st = scheduler_.stats();
  EXPECT_GE(st.lag_count.load(), 120u);
  uint64_t counted = 0, over_half_second = 0;
  for (size_t i = 0; i < std::size(SchedulerStats::kLagBuckets); ++i) {
    counted += st.lag_buckets[i].load();
    if (SchedulerStats::kLagBuckets[i] > 0.5) over_half_second += st.lag_buckets[i].load();
  }
  EXPECT_EQ(counted, st.lag_count.load()) << "every lag is under the largest bucket here";
  EXPECT_GT(over_half_second, 0u) << "waiting for a slot shows as lag";
  EXPECT_GT(st.lag_sum.load(), 0.5);
  EXPECT_GT(st.skipped_busy.load(), 0u);
  EXPECT_LE(st.in_flight.load(), 15);
  for (const auto& t : store_.Snapshot()) {
    ASSERT_NE(t.last, nullptr) << t.name();
    EXPECT_FALSE(t.last->success);
    EXPECT_EQ(t.last->failure_reason, "timeout") << t.name();
    EXPECT_GE(t.last->duration_seconds, 0.19);
    EXPECT_LT(t.last->duration_seconds, 2.0);
  }
}

TEST_F(SchedulerTest, ThousandsInFlightOnOneThread) {
  SilentServer server;
  // First probes spread over 5 s; a 9 s timeout (slack for a loaded
  // sanitizer run) keeps them all waiting at once.
  Apply(ManyTargets(1500, server.port(), 5000, milliseconds(60000),
                               milliseconds(9000)));
  ASSERT_TRUE(WaitUntil([&] { return Probed(1500); }, milliseconds(30000)));
  // All were waiting on their timeout together.
  EXPECT_EQ(scheduler_.MaxInFlight(), 1500);
}

TEST_F(SchedulerTest, ReloadKeepsResultsOfStayingTargetsAndDropsRemovedOnes) {
  SilentServer server;
  Apply(ManyTargets(4, server.port(), 10, milliseconds(300), milliseconds(100)));
  ASSERT_TRUE(WaitUntil([&] { return Probed(4); }, milliseconds(10000)));
  Config smaller = ManyTargets(2, server.port(), 10, milliseconds(300), milliseconds(100));
  Config added = ManyTargets(1, server.port(), 10, milliseconds(300), milliseconds(100), "new");
  smaller.tls.push_back(added.tls[0]);
  Apply(smaller);
  ASSERT_TRUE(WaitUntil([&] { return Probed(3); }, milliseconds(10000)));
  auto s = store_.Snapshot();
  EXPECT_EQ(s[0].name(), "new0");
  EXPECT_EQ(s[1].name(), "t0");
  EXPECT_EQ(s[2].name(), "t1");
  EXPECT_GE(s[1].probes, 1u);
  EXPECT_EQ(s[1].failures["timeout"], s[1].probes);
}

TEST_F(SchedulerTest, PerKeyLimitHolds) {
  std::atomic<int> running_a{0}, peak_a{0}, running_b{0}, peak_b{0};
  std::vector<ScheduledTarget> targets;
  for (int i = 0; i < 6; ++i) {
    targets.push_back(Timed(io_, "a" + std::to_string(i), "host-a", milliseconds(150),
                            running_a, peak_a));
    targets.push_back(Timed(io_, "b" + std::to_string(i), "", milliseconds(150), running_b,
                            peak_b));
  }
  scheduler_.Apply(std::move(targets), 100, 2);
  ASSERT_TRUE(WaitUntil([&] { return Probed(12); }, milliseconds(10000)));
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(peak_a.load(), 2);  // the shared key never had more than 2 at once
  EXPECT_GT(peak_b.load(), 2);  // targets without a key are not held back
}

// One target whose n-th probe (from 1, counted in `calls`) answers
// result(n) at once.
std::vector<ScheduledTarget> CountedTarget(const std::string& name, milliseconds interval,
                                           std::atomic<int>& calls,
                                           std::function<ProbeResult(int)> result) {
  ScheduledTarget t;
  t.info = TargetInfo{.name = name, .kind = "test"};
  t.interval = interval;
  t.start = [&calls, result](std::function<void(ProbeResult)> done) { done(result(++calls)); };
  std::vector<ScheduledTarget> targets;
  targets.push_back(std::move(t));
  return targets;
}

TEST_F(SchedulerTest, MaxAgeDefersTheNextProbe) {
  std::atomic<int> calls{0};
  scheduler_.Apply(CountedTarget("cached", milliseconds(100), calls,
                                 [](int) {
                                   ProbeResult r;
                                   r.success = true;
                                   r.extras_mut().not_before =
                                       std::time(nullptr) + 3600;  // max-age=3600
                                   return r;
                                 }),
                   10, 2);
  ASSERT_TRUE(WaitUntil([&] { return Probed(1); }, milliseconds(5000)));
  std::this_thread::sleep_for(milliseconds(800));  // 8 intervals
  EXPECT_EQ(calls.load(), 1);
}

// A result that goes stale before the next run (a CRL's half-life) brings
// the run forward: the one timer is set again for the earlier time, and
// the run armed before is skipped, so the target runs twice, not three
// times, within its 60 s interval.
TEST_F(SchedulerTest, RefreshAtBringsTheNextRunForward) {
  std::atomic<int> calls{0};
  scheduler_.Apply(CountedTarget("crl", milliseconds(60000), calls,
                                 [](int n) {
                                   ProbeResult r;
                                   r.success = true;
                                   if (n == 1) r.extras_mut().refresh_at = std::time(nullptr) + 1;
                                   return r;
                                 }),
                   10, 2);
  ASSERT_TRUE(WaitUntil([&] { return calls.load() >= 1; }, milliseconds(10000)));
  ASSERT_TRUE(WaitUntil([&] { return calls.load() >= 2; }, milliseconds(5000)))
      << "refresh_at did not bring the run forward";
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_EQ(calls.load(), 2);
}

// A TLS fleet's targets carry no HTTP counters (one empty pointer each);
// a responder's requests and a [[crl]] target's fetches are counted.
// A reload: a target whose name, kind and address stay keeps its counters
// and takes the new info; one whose address changed starts over; removed
// targets go; a repeated name is held once. The store keys its map by a
// view of each info's name, so this is also the test (under ASan) that no
// key outlives the info it views. Snapshots share the store's info.
TEST(ResultStore, ReloadKeepsCountersTakesTheNewInfoAndHoldsEachNameOnce) {
  ResultStore store;
  store.SetTargets({{"a", "tls", "a:1"}, {"b", "tls", "b:1"}, {"c", "tls", "c:1"}});
  ProbeResult failed;
  failed.failure_reason = "timeout";
  for (const char* name : {"a", "b", "c"}) (void)store.Record(name, failed);

  store.SetTargets({{"b", "tls", "b:1", {{"team", "pki"}}, 30},
                    {"c", "tls", "c:2"},
                    {"d", "tls", "d:1"},
                    {"b", "tls", "b:9"}});
  auto s = store.Snapshot();
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].name(), "b");
  EXPECT_EQ(s[0].probes, 1u);
  EXPECT_EQ(s[0].failures["timeout"], 1u);
  EXPECT_EQ(s[0].address(), "b:1") << "the first of a repeated name is the one held";
  ASSERT_EQ(s[0].labels().size(), 1u);
  EXPECT_EQ(s[0].labels()[0].second, "pki");
  EXPECT_EQ(s[0].interval_seconds(), 30);
  EXPECT_EQ(s[1].name(), "c");
  EXPECT_EQ(s[1].probes, 0u) << "a new address is a new target";
  EXPECT_EQ(s[2].name(), "d");
  EXPECT_FALSE(store.Record("a", failed).known);
  EXPECT_TRUE(store.Record("b", failed).known);
  EXPECT_TRUE(store.Snapshot()[0].info.SharesWith(s[0].info));
}

TEST(ResultStore, HttpCountersOnlyForTargetsThatSpeakHttp) {
  ResultStore store;
  store.SetTargets({{"tls", "tls", "a:1"},
                    {"resp", "responder", "http://r"},
                    {"crl", "crl", "http://c/ca.crl"}});
  ProbeResult tls;
  tls.failure_reason = "connect";
  store.Record("tls", tls);
  ProbeResult resp;
  resp.success = true;
  resp.http = ProbeResult::Http{"http://r", "POST", 200, 0.02, std::nullopt};
  store.Record("resp", resp);
  ProbeResult crl;
  crl.failure_reason = "connect";
  crl.http = ProbeResult::Http{"http://c/ca.crl", "GET", 0, 0, std::nullopt};
  store.Record("crl", crl);
  std::map<std::string, TargetSnapshot> by_name;
  for (auto& t : store.Snapshot()) by_name[t.name()] = t;
  EXPECT_FALSE(by_name["tls"].http.has_value());
  EXPECT_EQ(by_name["tls"].failures["connect"], 1u);
  ASSERT_TRUE(by_name["resp"].http.has_value());
  const auto& h = by_name["resp"].http->request_seconds;
  EXPECT_EQ(h.count, 1u);
  ASSERT_EQ(h.buckets.size(), std::size(kResponderBuckets));
  EXPECT_EQ(h.buckets[1], 0u);  // 0.01
  EXPECT_EQ(h.buckets[2], 1u);  // 0.025
  EXPECT_TRUE(by_name["resp"].http->crl_fetches.empty());
  ASSERT_TRUE(by_name["crl"].http.has_value());
  EXPECT_EQ(by_name["crl"].http->crl_fetches["failed"], 1u);
  EXPECT_EQ(by_name["crl"].http->request_seconds.count, 0u) << "no HTTP status, no duration";
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
