// Prints speed and memory figures of the hot parts; asserts nothing.
//   build/bench/ose_bench [targets]
//  1. OCSP verification: responses verified per second (ECDSA P-256 issuer).
//  2. Scrape: time to build and serialize /metrics for many targets.
//  3. Memory per target (result store, verification cache, config,
//     scheduler, landing page), then probes in flight: memory per probe
//     waiting on a silent server.
//  4. With HOST:PORT (IPv4, a stapling server such as the lab's nginx): CPU
//     per TlsProber probe (handshake, staple, verification through the
//     cache, result) against the bare handshake floor, in the same process.
//   build/ose_bench [targets] [HOST:PORT]
//   OSE_BENCH_SCRAPES=N build/ose_bench [targets]: only the gzip /metrics
//     scrape, N times (for perf record), then the mean; on one thread, then
//     sliced over the exporter's render threads (OSE_BENCH_RENDER_THREADS=N).
#include <malloc.h>
#include <spdlog/spdlog.h>

#include "ocsp_staple_exporter/common/asio.h"
#include <boost/asio/executor_work_guard.hpp>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>
#include <thread>

#include "ocsp_staple_exporter/http/gzip.h"
#include "ocsp_staple_exporter/http/landing_page.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"
#include "ocsp_staple_exporter/probe/verify_cache.h"
#include "ocsp_staple_exporter/metrics/collector.h"
#include "ocsp_staple_exporter/ocsp/response.h"
#include "ocsp_staple_exporter/probe/targets.h"
#include "ocsp_staple_exporter/scheduler/scheduler.h"
#include "floor.h"
#include "pki.h"
#include "silent_server.h"

using namespace ose;
using Clock = std::chrono::steady_clock;

static long RssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

static double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

int main(int argc, char** argv) {
  const int targets = argc > 1 ? std::atoi(argv[1]) : 2000;
  const char* scrapes_env = std::getenv("OSE_BENCH_SCRAPES");
  const int scrapes = scrapes_env != nullptr ? std::atoi(scrapes_env) : 0;
  spdlog::set_level(spdlog::level::warn);
  const int64_t now = std::time(nullptr);

  // 1. Verification.
  auto ca_key = testing::GenerateKey();
  auto ca = testing::IssueCert({.common_name = "CA", .not_before = now - 60,
                                .not_after = now + 86400, .ca = true},
                               ca_key.get(), nullptr, ca_key.get());
  auto leaf_key = testing::GenerateKey();
  auto leaf = testing::IssueCert({.serial = 2, .not_before = now - 60, .not_after = now + 86400},
                                 leaf_key.get(), ca.get(), ca_key.get());
  testing::ResponseSpec spec;
  spec.this_update = now - 60;
  spec.next_update = now + 86400;
  auto der = testing::MakeResponse(spec, leaf.get(), ca.get(), ca.get(), ca_key.get());
  const int n = scrapes > 0 ? 1 : 20000;
  auto t0 = Clock::now();
  int good = 0;
  for (int i = 0; i < n; ++i) {
    good += VerifyOcspResponse(der, leaf.get(), ca.get(), {}, now).state == ResponseState::kGood;
  }
  double s = Seconds(t0);
  std::printf("verify: %d responses (%zu bytes) in %.3f s: %.0f/s, %.1f us each (%d good)\n", n,
              der.size(), s, n / s, s / n * 1e6, good);

  // 2. Scrape of many targets.
  std::vector<TargetSnapshot> snaps;
  const OcspVerdict verified = VerifyOcspResponse(der, leaf.get(), ca.get(), {}, now);
  for (int i = 0; i < targets; ++i) {
    TargetSnapshot t;
    t.info = TargetInfo{.name = "target-" + std::to_string(i), .kind = "tls"};
    ProbeResult r;
    r.success = true;
    r.staple_present = true;
    r.verdict = verified;
    r.not_after = now + 86400;
    t.last = std::make_shared<const ProbeResult>(std::move(r));
    snaps.push_back(std::move(t));
  }
  t0 = Clock::now();
  auto families = TargetFamilies(snaps, now);
  const double build_s = Seconds(t0);
  t0 = Clock::now();
  size_t bytes = SerializeText(families).size();
  const double text_s = Seconds(t0);
  const std::string text = SerializeText(families);
  t0 = Clock::now();
  const size_t gz = Gzip(text).value_or("").size();
  const double gzip_s = Seconds(t0);
  std::printf(
      "scrape (object path): %d targets -> %zu bytes: families %.1f ms, text %.1f ms, "
      "gzip %.1f ms (%zu bytes)\n",
      targets, bytes, build_s * 1e3, text_s * 1e3, gzip_s * 1e3, gz);
  {
    // What /metrics does: snapshot of the store, text straight from it, gzip.
    ResultStore scraped;
    std::vector<TargetInfo> infos;
    for (const auto& t : snaps) infos.push_back({t.name(), t.kind(), "127.0.0.1:443"});
    scraped.SetTargets(infos);
    for (const auto& t : snaps) (void)scraped.Record(t.name(), *t.last);
    ExporterStatus status;
    Collector collector(scraped, status);
    const long rss0 = RssKiB();
    t0 = Clock::now();
    std::string body = collector.CollectText();
    const double collect_s = Seconds(t0);
    const long rss1 = RssKiB();
    t0 = Clock::now();
    const size_t zipped = Gzip(body).value_or("").size();
    std::printf(
        "scrape (/metrics, text): %d targets -> %zu bytes in %.1f ms + gzip %.1f ms (%zu bytes); "
        "RSS +%ld MiB\n",
        targets, body.size(), collect_s * 1e3, Seconds(t0) * 1e3, zipped, (rss1 - rss0) / 1024);
    std::string().swap(body);
    // What a gzip client gets: compressed family by family while rendered,
    // on one thread, then in slices on as many as the exporter uses
    // (OSE_BENCH_RENDER_THREADS=N: that many).
    const char* threads_env = std::getenv("OSE_BENCH_RENDER_THREADS");
    const unsigned sliced_threads =
        threads_env != nullptr ? static_cast<unsigned>(std::atoi(threads_env))
                               : std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
    for (unsigned threads : {1u, sliced_threads}) {
      collector.SetRenderThreads(threads);
      const long rss2 = RssKiB();
      t0 = Clock::now();
      const size_t streamed = collector.CollectGzip().value_or("").size();
      std::printf(
          "scrape (/metrics, gzip while rendering, %u thread%s): %.1f ms (%zu bytes); RSS +%ld "
          "MiB\n",
          threads, threads == 1 ? "" : "s", Seconds(t0) * 1e3, streamed,
          (RssKiB() - rss2) / 1024);
      if (scrapes > 0) {
        t0 = Clock::now();
        for (int i = 0; i < scrapes; ++i) (void)collector.CollectGzip();
        std::printf("scrape (/metrics, gzip while rendering, %u thread%s), mean of %d: %.1f ms\n",
                    threads, threads == 1 ? "" : "s", scrapes, Seconds(t0) * 1e3 / scrapes);
      }
      malloc_trim(0);
    }
    if (scrapes > 0) return 0;
  }

  // 3a. Memory per target: heap bytes in use (mallinfo2) held by each
  // structure for `targets` TLS targets with a verified good staple.
  {
    auto heap = [] { return static_cast<long>(mallinfo2().uordblks); };
    ProbeResult typical;
    typical.success = true;
    typical.staple_present = true;
    typical.subject = SubjectString(leaf.get());
    typical.identity = IdentityOf(leaf.get());
    typical.not_after = now + 86400;
    typical.tls_version = "TLSv1.3";
    typical.address = "127.0.0.1:443";
    typical.verdict = VerifyOcspResponse(der, leaf.get(), ca.get(), {}, now);
    long h0 = heap();
    ResultStore held;
    {
      std::vector<TargetInfo> infos;
      for (int i = 0; i < targets; ++i) {
        infos.push_back({"target-" + std::to_string(i), "tls", "127.0.0.1:443"});
      }
      held.SetTargets(std::move(infos));
    }
    // Results share `typical`'s facts: in the exporter a result shares its
    // target's verification cache entry's, counted with the cache below.
    for (int i = 0; i < targets; ++i) (void)held.Record("target-" + std::to_string(i), typical);
    const long store_bytes = heap() - h0;
    h0 = heap();
    VerificationCache cache(static_cast<size_t>(targets));
    for (int i = 0; i < targets; ++i) {
      InputDigest key{};
      std::memcpy(key.data(), &i, sizeof i);
      HandshakeFacts f;  // each input's own facts (copies, not typical's shared ones)
      f.subject = std::string(*typical.subject);
      f.identity = CertIdentity(*typical.identity);
      f.verdict = OcspVerdict(*typical.verdict);
      cache.Insert(key, std::move(f), now + 3600);
    }
    const long cache_bytes = heap() - h0;
    h0 = heap();
    asio::io_context idle;
    TlsProber tls(idle);
    ResponderProber responders(idle, 1);
    Scheduler sched(idle, held);
    auto cfg = std::make_shared<Config>();  // shared, as the exporter's running config
    for (int i = 0; i < targets; ++i) {
      TlsTarget t;
      t.name = "target-" + std::to_string(i);
      t.address = "127.0.0.1:443";
      t.endpoint = {"127.0.0.1", 443};
      t.server_name = "t" + std::to_string(i) + ".lab.test";
      cfg->tls.push_back(t);
    }
    const long config_bytes = heap() - h0;
    h0 = heap();
    sched.Apply(BuildTargets(std::shared_ptr<const Config>(cfg), tls, responders), 64, 4);
    const long sched_bytes = heap() - h0;
    const std::string page = LandingPage(held.Snapshot(), {}, now);
    auto per = [&](long bytes) { return static_cast<double>(bytes) / targets; };
    std::printf(
        "memory per target (%d TLS targets, heap bytes): result store %.0f, verification "
        "cache %.0f, config %.0f, scheduled (built target + timer) %.0f; landing page %.0f "
        "bytes of HTML\n",
        targets, per(store_bytes), per(cache_bytes), per(config_bytes), per(sched_bytes),
        per(static_cast<long>(page.size())));
  }

  // 3. Probes in flight against a server that never answers.
  testing::SilentServer silent;
  const uint16_t port = silent.port();

  asio::io_context io;
  auto work = asio::make_work_guard(io);
  ResultStore store;
  TlsProber prober(io);
  ResponderProber http(io, 2);
  Scheduler scheduler(io, store);
  Config cfg;
  cfg.global.concurrency = targets;
  for (int i = 0; i < targets; ++i) {
    TlsTarget t;
    t.name = "t" + std::to_string(i);
    t.address = "127.0.0.1:" + std::to_string(port);
    t.endpoint = {"127.0.0.1", port};
    t.interval = std::chrono::hours(1);
    t.timeout = std::chrono::seconds(8);
    cfg.tls.push_back(t);
  }
  long rss_before = RssKiB();
  std::thread loop([&] { io.run(); });
  scheduler.Apply(BuildTargets(cfg, prober, http), cfg.global.concurrency, 4);
  t0 = Clock::now();
  long rss_peak = rss_before;
  while (Seconds(t0) < 7.0) {  // first probes spread over 5 s
    rss_peak = std::max(rss_peak, RssKiB());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  int in_flight = scheduler.MaxInFlight();
  while (!(store.Snapshot().size() == static_cast<size_t>(targets) && store.AllProbed()) &&
         Seconds(t0) < 30) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::printf("in flight: %d probes at once on one thread, RSS %ld -> %ld KiB (%.1f KiB/probe), "
              "all timed out after %.1f s\n",
              in_flight, rss_before, rss_peak,
              in_flight > 0 ? double(rss_peak - rss_before) / in_flight : 0.0, Seconds(t0));
  work.reset();
  io.stop();
  loop.join();

  // 4. A probe against the floor, one at a time on this thread, then eight
  // at a time (as the scheduler runs them).
  if (argc > 2) {
    auto hp = ParseHostPort(argv[2]);
    if (!hp) {
      std::fprintf(stderr, "%s\n", hp.error().detail.c_str());
      return 2;
    }
    auto floor = bench::RunFloor(hp->host, hp->port, 5);
    asio::io_context pio;
    TlsProber tls(pio);
    TlsProbeRequest req;
    req.host = hp->host;
    req.port = hp->port;
    req.timeout = std::chrono::seconds(5);
    for (int parallel : {1, 8}) {
      long done = 0, good = 0;
      const double cpu0 = bench::CpuSeconds();
      t0 = Clock::now();
      std::function<void()> start = [&] {
        tls.Probe(req, [&](ProbeResult r) {
          ++done;
          good += r.success && r.verdict->state == ResponseState::kGood;
          if (Seconds(t0) < 5) start();
        });
      };
      for (int i = 0; i < parallel; ++i) start();
      pio.restart();
      pio.run();
      const double cpu = bench::CpuSeconds() - cpu0;
      std::printf(
          "probe (%d at a time): %ld probes (%ld good) in %.1f s: %.3f ms CPU each; floor %.3f "
          "ms; ratio %.2fx\n",
          parallel, done, good, Seconds(t0), cpu / done * 1e3, floor.CpuMsPerHandshake(),
          cpu / done * 1e3 / floor.CpuMsPerHandshake());
    }
  }
  return 0;
}
