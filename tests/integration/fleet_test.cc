// Fleet coverage against real servers: a name that a real DNS server
// (dnsmasq) resolves to four addresses (127.0.0.2, .3, .4 and ::1) served by
// two real nginx instances, the one on .4 not stapling (`addresses = "all"`), and a
// real HAProxy balancing TCP round-robin over a stapling and a non-stapling
// backend, so that exactly every second handshake carries a staple
// (`handshakes = N`).
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "dnsmasq.h"
#include "exporter_under_test.h"
#include "process.h"

namespace ose::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

class FleetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("ose-fleet-" + std::to_string(::getpid()))).string();
    // Below the ephemeral range (32768-): a port taken by an outgoing
    // connection would make a bind fail.
    base_ = 12000 + (::getpid() % 150) * 40;  // the lab takes 32 ports, then ours
    std::string out;
    ASSERT_EQ(RunCommand("bash " + kLab + " up " + dir_ + " " + std::to_string(base_), &out), 0)
        << out;
    port_ = std::to_string(base_ + 32);
    lb_port_ = std::to_string(base_ + 33);
    const std::string pki = dir_ + "/pki/";

    // Two nginx instances with the Must-Staple certificate: one stapling
    // (its staple file) on three addresses, one that lost its staple on the
    // fourth.
    nginx_ = StartNginx("staples", {"127.0.0.2:" + port_, "127.0.0.3:" + port_, "[::1]:" + port_},
                        "ssl_stapling on;\n    ssl_stapling_file " + pki + "good.ocsp.der;\n");
    bare_nginx_ = StartNginx("bare", {"127.0.0.4:" + port_}, "");
    // A third staples a good response valid two hours (the lab's is valid
    // seven days): behind one balancer with the first, the smaller margin
    // must be the one read.
    ASSERT_EQ(RunCommand("cd " + pki + " && openssl ocsp -issuer ca.pem -cert good.pem -no_nonce "
                         "-reqout good-2h.req && openssl ocsp -index index.txt -rsigner "
                         "responder.pem -rkey responder.key -CA ca.pem -reqin good-2h.req "
                         "-respout good-2h.ocsp.der -nmin 120",
                         &out),
              0)
        << out;
    short_nginx_ = StartNginx("short", {"127.0.0.5:" + port_},
                              "ssl_stapling on;\n    ssl_stapling_file " + pki +
                                  "good-2h.ocsp.der;\n");
    margins_port_ = std::to_string(base_ + 34);

    // HAProxy: TCP round-robin over a stapling and a non-stapling backend,
    // no health checks (they would not move the rotation, but keep it pure).
    std::ofstream(dir_ + "/haproxy-lb.cfg")
        << "global\n  maxconn 64\ndefaults\n  mode tcp\n  timeout connect 2s\n"
        << "  timeout client 10s\n  timeout server 10s\n"
        << "frontend fe\n  bind 127.0.0.1:" << lb_port_ << "\n  default_backend be\n"
        << "backend be\n  balance roundrobin\n  server staples 127.0.0.2:" << port_
        << "\n  server bare 127.0.0.4:" << port_ << "\n"
        << "frontend margins\n  bind 127.0.0.1:" << margins_port_
        << "\n  default_backend week_and_hours\n"
        << "backend week_and_hours\n  balance roundrobin\n  server week 127.0.0.2:" << port_
        << "\n  server hours 127.0.0.5:" << port_ << "\n";
    haproxy_ = new Process({"/usr/sbin/haproxy", "-db", "-f", dir_ + "/haproxy-lb.cfg"},
                           dir_ + "/logs/haproxy-lb.log");

    // dnsmasq: fleet.lab.test has four addresses, good.lab.test two.
    dns_port_ = FreePort();
    const std::string dns_log = dir_ + "/logs/dnsmasq.log";
    dnsmasq_ = StartDnsmasq(dns_port_,
                            {"fleet.lab.test,127.0.0.2", "fleet.lab.test,127.0.0.3",
                             "fleet.lab.test,127.0.0.4", "fleet.lab.test,::1",
                             "good.lab.test,127.0.0.2", "good.lab.test,::1"},
                            dns_log);
    ASSERT_NE(dnsmasq_, nullptr) << ReadFile(dns_log);
    for (const std::string& hostport :
         {"127.0.0.2:" + port_, "127.0.0.4:" + port_, "127.0.0.5:" + port_, "[::1]:" + port_,
          "127.0.0.1:" + lb_port_, "127.0.0.1:" + margins_port_}) {
      ASSERT_TRUE(WaitFor(
          [&] {
            return RunCommand("curl -sk -o /dev/null --max-time 2 https://" + hostport + "/") == 0;
          },
          seconds(10)))
          << hostport << "\n"
          << ReadFile(dir_ + "/nginx-staples/error.log") << ReadFile(dir_ + "/nginx-bare/error.log")
          << ReadFile(dir_ + "/nginx-short/error.log")
          << ReadFile(dir_ + "/logs/haproxy-lb.log");
    }

    config_ = dir_ + "/fleet.toml";
    std::ofstream(config_) << "[global]\ninterval = \"2s\"\ntimeout = \"5s\"\n"
                           << "dns_servers = [\"127.0.0.1:" << dns_port_ << "\"]\n\n"
                           << "[[tls]]\nname = \"fleet\"\naddress = \"fleet.lab.test:" << port_
                           << "\"\nserver_name = \"localhost\"\naddresses = \"all\"\n\n"
                           << "[[tls]]\nname = \"first\"\naddress = \"good.lab.test:" << port_
                           << "\"\nserver_name = \"localhost\"\n\n"
                           << "[[tls]]\nname = \"lb\"\naddress = \"127.0.0.1:" << lb_port_
                           << "\"\nserver_name = \"localhost\"\nhandshakes = 4\n\n"
                           << "[[tls]]\nname = \"margins\"\naddress = \"127.0.0.1:"
                           << margins_port_
                           << "\"\nserver_name = \"localhost\"\nhandshakes = 3\n\n"
                           << "[[tls]]\nname = \"steady\"\naddress = \"127.0.0.2:" << port_
                           << "\"\nserver_name = \"localhost\"\nhandshakes = 3\n\n"
                           << "[[module]]\nname = \"fleet\"\nserver_name = \"localhost\"\n"
                           << "addresses = \"all\"\nhandshakes = 2\n\n"
                           // A [[crl]] target whose name a discovery file will
                           // also list (issue 20 point 16).
                           << "[[crl]]\nname = \"127.0.0.3:" << port_ << "\"\npath = \""
                           << dir_ << "/not-published.crl\"\nissuer_file = \"" << pki
                           << "ca.pem\"\n\n"
                           << "[[discovery]]\nname = \"sd\"\n"
                           << "files = [\"sd/*.json\", \"sd/*.yml\"]\nrefresh_interval = \"1s\"\n"
                           << "server_name = \"localhost\"\nhandshakes = 2\n";
    fs::create_directories(dir_ + "/sd");
    WriteSd("a.json", "[{\"targets\": [\"127.0.0.2:" + port_ +
                          "\"], \"labels\": {\"team\": \"web\", \"env\": \"prod\"}}]");
    log_ = dir_ + "/exporter.log";
    exporter_ = StartExporter(config_, log_, &http_port_);
    ASSERT_GT(http_port_, 0) << ReadFile(log_);
  }

  static void TearDownTestSuite() {
    delete exporter_;
    delete dnsmasq_;
    delete haproxy_;
    delete short_nginx_;
    delete bare_nginx_;
    delete nginx_;
    RunCommand("bash " + kLab + " down " + dir_);
    if (::testing::UnitTest::GetInstance()->failed_test_count() == 0) fs::remove_all(dir_);
  }

  // An nginx of its own (prefix DIR/nginx-NAME) serving the lab's
  // Must-Staple certificate on `listens`, with `stapling` directives.
  static Process* StartNginx(const std::string& name, const std::vector<std::string>& listens,
                             const std::string& stapling) {
    const std::string prefix = dir_ + "/nginx-" + name, pki = dir_ + "/pki/";
    fs::create_directories(prefix + "/tmp");
    std::ofstream conf(prefix + "/nginx.conf");
    conf << (::getuid() == 0 ? "user root;\n" : "") << "worker_processes 1;\n"
         << "pid " << prefix << "/nginx.pid;\nerror_log " << prefix << "/error.log info;\n"
         << "events { worker_connections 64; }\nhttp {\n  access_log off;\n";
    for (const char* t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
      conf << "  " << t << "_temp_path " << prefix << "/tmp/" << t << ";\n";
    }
    conf << "  server {\n";
    for (const auto& l : listens) conf << "    listen " << l << " ssl;\n";
    conf << "    ssl_certificate " << pki << "good-chain.pem;\n    ssl_certificate_key " << pki
         << "good.key;\n    " << stapling << "    return 200 \"" << name << "\\n\";\n  }\n}\n";
    conf.close();
    return new Process({"/usr/sbin/nginx", "-p", prefix, "-c", prefix + "/nginx.conf", "-g",
                        "daemon off;"},
                       prefix + "/stdout.log");
  }

  // Replaces a discovery file by rename, as Kubernetes and careful tools do.
  static void WriteSd(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/sd/" + name + ".tmp") << text;
    fs::rename(dir_ + "/sd/" + name + ".tmp", dir_ + "/sd/" + name);
  }

  static std::string Url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(http_port_) + path;
  }

  // Scrapes until every key has a value (first probes are spread over a
  // few seconds).
  static std::map<std::string, double> ScrapeUntil(const std::vector<std::string>& keys) {
    std::map<std::string, double> m;
    WaitFor(
        [&] {
          m = ParseMetrics(HttpGet(Url("/metrics")).body);
          for (const auto& k : keys) {
            if (m.count(k) == 0) return false;
          }
          return true;
        },
        seconds(30));
    return m;
  }

  static inline std::string dir_, config_, log_, port_, lb_port_, margins_port_;
  static inline int base_ = 0, dns_port_ = 0, http_port_ = 0;
  static inline Process *nginx_ = nullptr, *bare_nginx_ = nullptr, *short_nginx_ = nullptr,
                        *haproxy_ = nullptr,
                        *dnsmasq_ = nullptr, *exporter_ = nullptr;
};

TEST_F(FleetTest, EveryAddressBehindANameIsProbedOnItsOwn) {
  const std::string a2 = "127.0.0.2:" + port_, a3 = "127.0.0.3:" + port_,
                    a4 = "127.0.0.4:" + port_, a6 = "[::1]:" + port_;
  auto s = [](const std::string& metric, const std::string& address, const std::string& extra = "") {
    return metric + "{target=\"fleet\",address=\"" + address + "\"" +
           (extra.empty() ? "" : "," + extra) + "}";
  };
  auto m = ScrapeUntil({"ocsp_target_addresses{target=\"fleet\",state=\"good\"}",
                        "ocsp_staple_present{target=\"first\"}"});
  ASSERT_TRUE(m.count(s("ocsp_probe_success", a6))) << ReadFile(log_);
  for (const std::string& a : {a2, a3, a6}) {
    EXPECT_EQ(m[s("ocsp_probe_success", a)], 1) << a;
    EXPECT_EQ(m[s("ocsp_staple_present", a)], 1) << a;
    EXPECT_EQ(m[s("ocsp_response_status", a, "status=\"good\"")], 1) << a;
    EXPECT_GT(m[s("ocsp_response_next_update_margin_seconds", a)], 3600) << a;
  }
  // The one backend that lost its staple, visible though three others staple.
  EXPECT_EQ(m[s("ocsp_probe_success", a4)], 1);
  EXPECT_EQ(m[s("ocsp_staple_present", a4)], 0);
  EXPECT_EQ(m[s("ocsp_response_status", a4, "status=\"absent\"")], 1);
  EXPECT_EQ(m[s("ocsp_cert_must_staple", a4)], 1);
  EXPECT_EQ(m["ocsp_target_addresses{target=\"fleet\",state=\"good\"}"], 3);
  EXPECT_EQ(m["ocsp_target_addresses{target=\"fleet\",state=\"absent\"}"], 1);
  EXPECT_EQ(m["ocsp_target_addresses{target=\"fleet\",state=\"failed\"}"], 0);
  EXPECT_EQ(m.count("ocsp_probe_success{target=\"fleet\"}"), 0u);

  // "first" (the default) is one handshake with one address, no label.
  EXPECT_EQ(m["ocsp_staple_present{target=\"first\"}"], 1);
  for (const auto& [key, value] : m) {
    EXPECT_EQ(key.find("target=\"first\",address="), std::string::npos) << key;
  }

  // The landing page lists every address under the target.
  std::string page = HttpGet(Url("/")).body;
  for (const std::string& a : {a2, a3, a4, a6}) {
    EXPECT_NE(page.find("data-label=\"Address\">" + a + "</td>"), std::string::npos)
        << a << "\n" << page;
  }

  // /probe with a module of addresses = "all", handshakes = 2.
  auto probe = HttpGet(Url("/probe?module=fleet&target=fleet.lab.test:" + port_));
  ASSERT_EQ(probe.status, 200) << probe.body;
  auto p = ParseMetrics(probe.body);
  EXPECT_EQ(p["ocsp_target_addresses{state=\"good\"}"], 3) << probe.body;
  EXPECT_EQ(p["ocsp_target_addresses{state=\"absent\"}"], 1) << probe.body;
  EXPECT_EQ(p["ocsp_probe_handshakes{address=\"" + a4 + "\"}"], 2) << probe.body;
  EXPECT_EQ(p["ocsp_staple_present_handshakes{address=\"" + a4 + "\"}"], 0) << probe.body;
  EXPECT_EQ(p["ocsp_staple_present_handshakes{address=\"" + a6 + "\"}"], 2) << probe.body;
}

TEST_F(FleetTest, IntermittentStaplesBehindALoadBalancerAreCounted) {
  auto m = ScrapeUntil({"ocsp_probe_handshakes{target=\"lb\"}",
                        "ocsp_probe_handshakes{target=\"steady\"}"});
  // Round-robin over one stapling and one bare backend: 2 of 4, every probe.
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(m["ocsp_probe_success{target=\"lb\"}"], 1) << ReadFile(log_);
    EXPECT_EQ(m["ocsp_probe_handshakes{target=\"lb\"}"], 4);
    EXPECT_EQ(m["ocsp_staple_present_handshakes{target=\"lb\"}"], 2);
    EXPECT_EQ(m["ocsp_staple_present{target=\"lb\"}"], 0);
    // The worst handshake: absent outranks good.
    EXPECT_EQ(m["ocsp_response_status{target=\"lb\",status=\"absent\"}"], 1);
    EXPECT_EQ(m["ocsp_cert_must_staple{target=\"lb\"}"], 1);
    // A backend that always staples: 3 of 3.
    EXPECT_EQ(m["ocsp_probe_handshakes{target=\"steady\"}"], 3);
    EXPECT_EQ(m["ocsp_staple_present_handshakes{target=\"steady\"}"], 3);
    EXPECT_EQ(m["ocsp_staple_present{target=\"steady\"}"], 1);
    EXPECT_EQ(m["ocsp_response_status{target=\"steady\",status=\"good\"}"], 1);
    // Wait for a later probe of both and look again.
    const double seen = m["ocsp_probe_timestamp_seconds{target=\"lb\"}"];
    WaitFor(
        [&] {
          m = ParseMetrics(HttpGet(Url("/metrics")).body);
          return m["ocsp_probe_timestamp_seconds{target=\"lb\"}"] > seen;
        },
        seconds(10));
  }
}

// Issue 20 point 6: two backends behind round robin, both good, one staple
// valid seven days and one two hours: the target reads the two-hour margin,
// whichever backend answered first (three handshakes a probe, so the first
// alternates between the backends from one probe to the next).
TEST_F(FleetTest, TheSmallerMarginBehindALoadBalancerIsRead) {
  const std::string margin = "ocsp_response_next_update_margin_seconds{target=\"margins\"}";
  auto m = ScrapeUntil({margin});
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(m["ocsp_response_status{target=\"margins\",status=\"good\"}"], 1) << ReadFile(log_);
    EXPECT_EQ(m["ocsp_staple_present_handshakes{target=\"margins\"}"], 3);
    EXPECT_GT(m[margin], 0);
    EXPECT_LT(m[margin], 2 * 3600) << "the seven-day staple hid the two-hour one";
    const double seen = m["ocsp_probe_timestamp_seconds{target=\"margins\"}"];
    WaitFor(
        [&] {
          m = ParseMetrics(HttpGet(Url("/metrics")).body);
          return m["ocsp_probe_timestamp_seconds{target=\"margins\"}"] > seen;
        },
        seconds(10));
  }
}

// Files in Prometheus' file_sd format, changed under the running exporter:
// targets come, take new labels, survive a broken file and go.
TEST_F(FleetTest, DiscoveredTargetsFollowTheirFiles) {
  const std::string a = "127.0.0.2:" + port_, b = "127.0.0.4:" + port_;
  const std::string good_a =
      "ocsp_response_status{target=\"" + a + "\",env=\"prod\",team=\"web\",status=\"good\"}";
  auto m = ScrapeUntil({good_a});
  ASSERT_EQ(m[good_a], 1) << ReadFile(log_);
  EXPECT_EQ(m["ocsp_probe_handshakes{target=\"" + a + "\",env=\"prod\",team=\"web\"}"], 2);
  EXPECT_EQ(m["ocsp_staple_exporter_discovery_targets{discovery=\"sd\"}"], 1);

  // A second file, in YAML: its target is probed with its labels.
  WriteSd("b.yml", "- targets: ['" + b + "']\n  labels: {team: edge}\n");
  const std::string absent_b = "ocsp_staple_present{target=\"" + b + "\",team=\"edge\"}";
  m = ScrapeUntil({absent_b});
  ASSERT_EQ(m.count(absent_b), 1u) << ReadFile(log_);
  EXPECT_EQ(m[absent_b], 0);
  EXPECT_EQ(m["ocsp_staple_exporter_discovery_files{discovery=\"sd\"}"], 2);

  // Half-written in place: an error, and the target it gave stays probed.
  std::ofstream(dir_ + "/sd/a.json") << "[{\"targets\": [\"127.0";
  ASSERT_TRUE(WaitFor(
      [&] {
        m = ParseMetrics(HttpGet(Url("/metrics")).body);
        return m["ocsp_staple_exporter_discovery_read_errors_total{discovery=\"sd\"}"] >= 1;
      },
      seconds(10)))
      << ReadFile(log_);
  const double before =
      m["ocsp_probe_timestamp_seconds{target=\"" + a + "\",env=\"prod\",team=\"web\"}"];
  EXPECT_TRUE(WaitFor(
      [&] {
        m = ParseMetrics(HttpGet(Url("/metrics")).body);
        return m["ocsp_probe_timestamp_seconds{target=\"" + a + "\",env=\"prod\",team=\"web\"}"] >
               before;
      },
      seconds(10)))
      << "the target of the broken file stopped being probed";
  EXPECT_NE(ReadFile(log_).find("cannot read discovery file; keeping the targets it gave before"),
            std::string::npos);

  // Fixed with another label: the series move to it.
  WriteSd("a.json", "[{\"targets\": [\"" + a + "\"], \"labels\": {\"team\": \"platform\"}}]");
  const std::string moved = "ocsp_staple_present{target=\"" + a + "\",team=\"platform\"}";
  m = ScrapeUntil({moved});
  EXPECT_EQ(m[moved], 1) << ReadFile(log_);
  EXPECT_EQ(m.count(good_a), 0u);

  // Deleted: its target and every series of it disappear.
  fs::remove(dir_ + "/sd/b.yml");
  EXPECT_TRUE(WaitFor(
      [&] {
        std::string body = HttpGet(Url("/metrics")).body;
        return body.find("target=\"" + b + "\"") == std::string::npos;
      },
      seconds(10)));
  EXPECT_EQ(ParseMetrics(HttpGet(Url("/metrics")).body)
                ["ocsp_staple_exporter_discovery_targets{discovery=\"sd\"}"],
            1);

  // Issue 20 point 16: a discovered host:port that is the name of the
  // [[crl]] target is refused, not probed in its place.
  const std::string crl = "127.0.0.3:" + port_;
  const std::string crl_absent = "ocsp_crl_status{target=\"" + crl + "\",status=\"absent\"}";
  ASSERT_EQ(ScrapeUntil({crl_absent})[crl_absent], 1) << ReadFile(log_);
  WriteSd("c.json", "[{\"targets\": [\"" + crl + "\"], \"labels\": {\"team\": \"x\"}}]");
  EXPECT_TRUE(WaitFor(
      [&] {
        return ReadFile(log_).find("msg=\"discovered target refused: a configured target has "
                                   "this name\" discovery=sd") != std::string::npos;
      },
      seconds(10)))
      << ReadFile(log_);
  std::this_thread::sleep_for(seconds(3));  // a probe round after the change
  m = ParseMetrics(HttpGet(Url("/metrics")).body);
  EXPECT_EQ(m[crl_absent], 1);
  for (const auto& [key, value] : m) {
    EXPECT_EQ(key.find("ocsp_staple_present{target=\"" + crl + "\""), std::string::npos) << key;
  }
  fs::remove(dir_ + "/sd/c.json");
}

}  // namespace
}  // namespace ose::testing
