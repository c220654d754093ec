// No shared stall: targets whose DNS server never answers, and targets
// whose address accepts and never answers, delay no other target. Real
// parts: the lab's stapling nginx, a real DNS server (dnsmasq) that serves
// the healthy names and forwards one domain to a UDP socket that never
// answers, and the exporter binary with `[global] dns_servers`.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "dnsmasq.h"
#include "exporter_under_test.h"
#include "process.h"
#include "silent_server.h"

namespace ose::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

constexpr int kHealthy = 20;
constexpr int kSlowDns = 6;
constexpr int kBlackHoled = 6;

std::string Healthy(int i) { return "healthy-" + std::to_string(i); }

class IsolationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("ose-iso-" + std::to_string(::getpid()))).string();
    base_ = 30000 + (::getpid() % 65) * 40;  // the lab takes 32 ports
    std::string out;
    ASSERT_EQ(RunCommand("bash " + kLab + " up " + dir_ + " " + std::to_string(base_), &out), 0)
        << out;
    silent_udp_ = new SilentUdp();
    black_hole_ = new SilentServer();

    // dnsmasq: the healthy names with a 5 s TTL; *.slow.test forwarded to
    // the silent socket.
    dns_port_ = FreePort();
    std::vector<std::string> records;
    for (int i = 0; i < kHealthy; ++i) records.push_back(Healthy(i) + ".lab.test,127.0.0.1");
    dns_log_ = dir_ + "/dnsmasq.log";
    dnsmasq_ = StartDnsmasq(
        dns_port_, records, dns_log_, 5,
        {"--log-queries", "--server=/slow.test/127.0.0.1#" + std::to_string(silent_udp_->port())});
    ASSERT_NE(dnsmasq_, nullptr) << ReadFile(dns_log_);

    std::string cfg = "[global]\ninterval = \"2s\"\ntimeout = \"6s\"\ndns_servers = [\"127.0.0.1:" +
                      std::to_string(dns_port_) + "\"]\n";
    const std::string nginx = std::to_string(base_ + 1);  // stapling nginx
    for (int i = 0; i < kHealthy; ++i) {
      cfg += "\n[[tls]]\nname = \"" + Healthy(i) + "\"\naddress = \"" + Healthy(i) +
             ".lab.test:" + nginx + "\"\nserver_name = \"localhost\"\n";
    }
    for (int i = 0; i < kSlowDns; ++i) {
      cfg += "\n[[tls]]\nname = \"slow-dns-" + std::to_string(i) + "\"\naddress = \"n" +
             std::to_string(i) + ".slow.test:" + nginx + "\"\n";
    }
    for (int i = 0; i < kBlackHoled; ++i) {
      cfg += "\n[[tls]]\nname = \"black-holed-" + std::to_string(i) +
             "\"\naddress = \"127.0.0.1:" + std::to_string(black_hole_->port()) + "\"\n";
    }
    config_ = dir_ + "/isolation.toml";
    std::ofstream(config_) << cfg;
    log_ = dir_ + "/exporter.log";
    exporter_ = StartExporter(config_, log_, &port_);
    ASSERT_GT(port_, 0) << ReadFile(log_);
  }

  static void TearDownTestSuite() {
    delete exporter_;
    delete dnsmasq_;
    delete black_hole_;
    delete silent_udp_;
    RunCommand("bash " + kLab + " down " + dir_);
    if (::testing::UnitTest::GetInstance()->failed_test_count() == 0) fs::remove_all(dir_);
  }

  static std::map<std::string, double> Scrape() {
    return ParseMetrics(HttpGet("http://127.0.0.1:" + std::to_string(port_) + "/metrics").body);
  }

  static std::string S(const std::string& metric, const std::string& target,
                       const std::string& extra = "") {
    return metric + "{target=\"" + target + "\"" + (extra.empty() ? "" : "," + extra) + "}";
  }

  static inline std::string dir_, config_, log_, dns_log_;
  static inline int base_ = 0, port_ = 0, dns_port_ = 0;
  static inline SilentUdp* silent_udp_ = nullptr;
  static inline SilentServer* black_hole_ = nullptr;
  static inline Process* dnsmasq_ = nullptr;
  static inline Process* exporter_ = nullptr;
};

TEST_F(IsolationTest, SlowDnsAndBlackHolesDelayNoOtherTarget) {
  // Every healthy target reads good while the slow ones are still hanging
  // in their first 6 s probe.
  const auto start = std::chrono::steady_clock::now();
  std::map<std::string, double> m;
  bool all_good = WaitFor(
      [&] {
        m = Scrape();
        for (int i = 0; i < kHealthy; ++i) {
          if (m[S("ocsp_response_status", Healthy(i), "status=\"good\"")] != 1) return false;
        }
        return true;
      },
      seconds(30));
  ASSERT_TRUE(all_good) << ReadFile(log_);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(6))
      << "healthy targets waited for the slow ones";

  // Over the next 10 s, while 12 probes hang at any moment, every healthy
  // target is probed again and again: its last probe is never older than
  // its interval (2 s) + the ±5% jitter + one scrape step.
  for (int round = 0; round < 10; ++round) {
    std::this_thread::sleep_for(seconds(1));
    m = Scrape();
    const double now = static_cast<double>(::time(nullptr));
    for (int i = 0; i < kHealthy; ++i) {
      double last = m[S("ocsp_probe_timestamp_seconds", Healthy(i))];
      EXPECT_GE(last, now - 4) << Healthy(i) << " went unprobed (round " << round << ")";
      EXPECT_EQ(m[S("ocsp_response_status", Healthy(i), "status=\"good\"")], 1) << Healthy(i);
    }
  }

  // The slow ones fail, naming where they hung, and never read good.
  for (int i = 0; i < kSlowDns; ++i) {
    const std::string t = "slow-dns-" + std::to_string(i);
    EXPECT_EQ(m[S("ocsp_probe_success", t)], 0) << t;
    EXPECT_GE(m[S("ocsp_probe_failures_total", t, "reason=\"timeout\"")] +
                  m[S("ocsp_probe_failures_total", t, "reason=\"resolve\"")],
              1)
        << t;
    EXPECT_EQ(m[S("ocsp_response_status", t, "status=\"good\"")], 0) << t;
  }
  for (int i = 0; i < kBlackHoled; ++i) {
    const std::string t = "black-holed-" + std::to_string(i);
    EXPECT_EQ(m[S("ocsp_probe_success", t)], 0) << t;
    EXPECT_GE(m[S("ocsp_probe_failures_total", t, "reason=\"timeout\"")], 1) << t;
  }
  const std::string log = ReadFile(log_);
  EXPECT_NE(log.find("(resolving)"), std::string::npos) << "a DNS timeout names its phase";
  EXPECT_NE(log.find("(in the TLS handshake)"), std::string::npos)
      << "a black hole's timeout names its phase";
}

TEST_F(IsolationTest, AnswersAreCachedForTheirTtl) {
  // dnsmasq answers with a 5 s TTL; the target is probed every ~2 s for
  // the whole suite (at least 12 s by now). The name is asked for again
  // after its TTL, but not once per probe.
  std::this_thread::sleep_for(seconds(1));
  const std::string dns_log = ReadFile(dns_log_);
  const std::string name = Healthy(0) + ".lab.test";
  std::regex query("query\\[A\\] " + std::regex_replace(name, std::regex("\\."), "\\.") + " ");
  auto queries = std::distance(std::sregex_iterator(dns_log.begin(), dns_log.end(), query),
                               std::sregex_iterator());
  EXPECT_GE(queries, 2) << "the answer was never asked for again after its TTL\n" << dns_log;
  const std::string log = ReadFile(log_);
  std::regex finished("probe finished\" target=" + Healthy(0) + " ");
  auto probe_count = std::distance(std::sregex_iterator(log.begin(), log.end(), finished),
                                   std::sregex_iterator());
  EXPECT_GE(probe_count, 5);
  EXPECT_LE(queries, probe_count * 2 / 3 + 1)
      << queries << " queries for " << probe_count << " probes: the TTL is not honoured";
}

}  // namespace
}  // namespace ose::testing
