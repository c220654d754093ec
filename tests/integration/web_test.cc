// The exporter's own front door (issue 12), against the real binary with
// real clients: curl with client certificates, passwords and TLS version
// limits, the web config re-read while it runs, IPv4 and IPv6 on one port,
// /probe saturated by black-holed targets while the other endpoints answer,
// a client that sends one byte a second, and Prometheus itself scraping over
// TLS with basic auth.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "exporter_under_test.h"
#include "process.h"
#include "silent_server.h"

namespace ose::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

class WebTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("ose-web-it-" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    // A CA, the server's certificate (localhost, 127.0.0.1, ::1), a client
    // certificate it issued, and a self-signed client nobody trusts.
    const std::string pki =
        "cd " + dir_ + " && set -e; "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
        "  -out ca.pem -subj /CN=WebTestCA -days 2 -addext basicConstraints=critical,CA:TRUE "
        "  -addext keyUsage=critical,keyCertSign; "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key "
        "  -out server.csr -subj /CN=localhost; "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\\nextendedKeyUsage=serverAuth\\n'"
        "  > server.ext; "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 2 "
        "  -extfile server.ext -out server.pem; "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key "
        "  -out client.csr -subj /CN=prometheus; "
        "printf 'extendedKeyUsage=clientAuth\\n' > client.ext; "
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -set_serial 3 -days 2 "
        "  -extfile client.ext -out client.pem; "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout rogue.key "
        "  -out rogue.pem -subj /CN=rogue -days 2; "
        "htpasswd -nbBC 10 prom s3cret | tr -d '\\n' | cut -d: -f2- > prom.hash";
    std::string out;
    ASSERT_EQ(RunCommand("(" + pki + ") 2>&1", &out), 0) << out;
    hash_ = ReadFile(dir_ + "/prom.hash");
    ASSERT_EQ(hash_.rfind("$2y$10$", 0), 0u) << hash_;
    silent_ = new SilentServer();
    std::ofstream(dir_ + "/exporter.toml")
        << "[global]\ninterval = \"1h\"\n\n[[module]]\nname = \"slow\"\ntimeout = \"8s\"\n";
  }
  static void TearDownTestSuite() {
    delete silent_;
    silent_ = nullptr;
    if (::testing::UnitTest::GetInstance()->failed_test_count() == 0) fs::remove_all(dir_);
  }

  // Starts the exporter with `flags`; returns its ports (from its log).
  static std::vector<int> Start(std::unique_ptr<Process>& p, const std::string& name,
                                const std::vector<std::string>& flags,
                                const std::string& config = "exporter.toml") {
    std::vector<std::string> argv = {kExporter, "--config.file=" + dir_ + "/" + config,
                                     "--log.level=debug"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const std::string log = dir_ + "/" + name + ".log";
    p = std::make_unique<Process>(argv, log);
    std::vector<int> ports;
    WaitFor(
        [&] {
          std::smatch m;
          const std::string text = ReadFile(log);
          if (!std::regex_search(text, m, std::regex("msg=listening .*port=([0-9,]+)"))) {
            return false;
          }
          std::string list = m[1];
          for (size_t pos = 0; pos < list.size();) {
            size_t comma = list.find(',', pos);
            if (comma == std::string::npos) comma = list.size();
            ports.push_back(std::stoi(list.substr(pos, comma - pos)));
            pos = comma + 1;
          }
          return true;
        },
        seconds(20));
    return ports;
  }

  // curl's HTTP status (000 when no response) for `args`.
  static std::string Curl(const std::string& args) {
    std::string out;
    RunCommand("curl -s -o /dev/null -w '%{http_code}' --max-time 10 " + args, &out);
    return out;
  }

  static void WriteWebConfig(const std::string& text) {
    // Written aside and renamed, as config management does.
    std::ofstream(dir_ + "/web.yml.new") << text;
    fs::rename(dir_ + "/web.yml.new", dir_ + "/web.yml");
  }

  // TLS requiring a client certificate the test CA issued, then `more`.
  static std::string MutualTls(const std::string& more) {
    return "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
           "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n" +
           more;
  }

  static inline std::string dir_, hash_;
  static inline SilentServer* silent_ = nullptr;
};

// Issue 20 point 15: credentials already checked are answered on the
// connection's own thread; bcrypt checks of new ones queue on threads of
// their own. A flood of wrong passwords (each a bcrypt check) does not
// delay Prometheus' scrape with its known credentials.
TEST_F(WebTest, WrongPasswordFloodDoesNotDelayTheScrape) {
  WriteWebConfig("basic_auth_users:\n  prom: " + hash_ + "\n");
  std::unique_ptr<Process> exporter;
  auto ports = Start(exporter, "flood", {"--web.listen-address=127.0.0.1:0",
                                         "--web.config.file=" + dir_ + "/web.yml"});
  ASSERT_EQ(ports.size(), 1u) << ReadFile(dir_ + "/flood.log");
  const std::string url = "http://127.0.0.1:" + std::to_string(ports[0]) + "/metrics";
  ASSERT_EQ(Curl("-u prom:s3cret " + url), "200");  // Prometheus' first scrape: cached since
  auto timed_scrape = [&] {
    std::string out;
    RunCommand("curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 60 -u prom:s3cret " +
                   url,
               &out);
    return out;
  };
  double flood_seconds = 0;
  std::string flood_codes;
  std::thread flood([&] {
    const auto start = std::chrono::steady_clock::now();
    RunCommand("for i in $(seq 60); do curl -s -o /dev/null -w '%{http_code}\\n' --max-time 120 "
               "-u prom:wrong$i " + url + " & done; wait",
               &flood_codes);
    flood_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the flood is queued
  std::vector<double> scrapes;
  for (int i = 0; i < 5; ++i) {
    const std::string r = timed_scrape();
    ASSERT_EQ(r.substr(0, 3), "200") << r;
    scrapes.push_back(std::stod(r.substr(4)));
  }
  flood.join();
  EXPECT_EQ(std::count(flood_codes.begin(), flood_codes.end(), '\n'), 60) << flood_codes;
  EXPECT_EQ(flood_codes.find("200"), std::string::npos) << "a wrong password was let in";
  // The flood's 60 bcrypt checks run one at a time: it lasts seconds.
  ASSERT_GT(flood_seconds, 1.0) << "the flood was too short to prove anything";
  const double slowest = *std::max_element(scrapes.begin(), scrapes.end());
  EXPECT_LT(slowest, flood_seconds / 3)
      << "a scrape waited behind the flood: " << slowest << " s of " << flood_seconds << " s";
}

TEST_F(WebTest, TlsWithClientCertificatesBasicAuthAndVersionLimits) {
  WriteWebConfig(MutualTls("basic_auth_users:\n"
                 "  prom: " + hash_ + "\n"
                 "http_server_config:\n"
                 "  headers:\n"
                 "    Strict-Transport-Security: max-age=31536000\n"));
  std::unique_ptr<Process> exporter;
  auto ports = Start(exporter, "tls", {"--web.listen-address=127.0.0.1:0",
                                       "--web.config.file=" + dir_ + "/web.yml"});
  ASSERT_EQ(ports.size(), 1u) << ReadFile(dir_ + "/tls.log");
  const std::string url = "https://localhost:" + std::to_string(ports[0]);
  const std::string ca = "--cacert " + dir_ + "/ca.pem ";
  const std::string client = "--cert " + dir_ + "/client.pem --key " + dir_ + "/client.key ";
  const std::string rogue = "--cert " + dir_ + "/rogue.pem --key " + dir_ + "/rogue.key ";

  EXPECT_EQ(Curl(ca + client + "-u prom:s3cret " + url + "/metrics"), "200");
  EXPECT_EQ(Curl(ca + client + "-u prom:wrong " + url + "/metrics"), "401");
  EXPECT_EQ(Curl(ca + client + url + "/metrics"), "401");
  EXPECT_EQ(Curl(ca + client + "-u eve:s3cret " + url + "/-/ready"), "401");
  EXPECT_EQ(Curl(ca + client + url + "/-/healthy"), "200") << "liveness needs no password";
  // Without a client certificate, or with one the CA did not issue: no TLS.
  EXPECT_EQ(Curl(ca + "-u prom:s3cret " + url + "/metrics"), "000");
  EXPECT_EQ(Curl(ca + rogue + "-u prom:s3cret " + url + "/metrics"), "000");
  EXPECT_EQ(Curl("http://localhost:" + std::to_string(ports[0]) + "/-/healthy"), "000")
      << "plain HTTP on a TLS listener";
  std::string headers;
  RunCommand("curl -s -D - -o /dev/null " + ca + client + url + "/-/healthy", &headers);
  EXPECT_NE(headers.find("Strict-Transport-Security: max-age=31536000"), std::string::npos)
      << headers;
  // Default versions: TLS 1.2 and 1.3 both accepted.
  EXPECT_EQ(Curl(ca + client + "--tls-max 1.2 " + url + "/-/healthy"), "200");
  EXPECT_EQ(Curl(ca + client + "--tlsv1.3 " + url + "/-/healthy"), "200");

  // The file changes: TLS 1.3 only, another user. Picked up without restart.
  WriteWebConfig(MutualTls("  min_version: TLS13\n"
                 "basic_auth_users:\n"
                 "  ops: " + hash_ + "\n"));
  EXPECT_TRUE(WaitFor([&] { return Curl(ca + client + "--tls-max 1.2 " + url + "/-/healthy") == "000"; },
                      seconds(15)))
      << ReadFile(dir_ + "/tls.log");
  EXPECT_EQ(Curl(ca + client + "--tlsv1.3 " + url + "/-/healthy"), "200");
  EXPECT_EQ(Curl(ca + client + "-u ops:s3cret " + url + "/metrics"), "200");
  EXPECT_EQ(Curl(ca + client + "-u prom:s3cret " + url + "/metrics"), "401");
  // A broken file is logged and the last good one stays.
  WriteWebConfig("tls_server_config:\n  cert_file: server.pem\n  key_file: nope.key\n");
  EXPECT_TRUE(WaitFor([&] {
    return ReadFile(dir_ + "/tls.log").find("web config reload failed") != std::string::npos;
  }, seconds(15)));
  EXPECT_NE(ReadFile(dir_ + "/tls.log").find("nope.key"), std::string::npos);
  EXPECT_EQ(Curl(ca + client + "-u ops:s3cret " + url + "/metrics"), "200");
  EXPECT_EQ(Curl(ca + client + "--tls-max 1.2 " + url + "/-/healthy"), "000");
  // TLS 1.2 at most: a TLS 1.3-only client is refused.
  WriteWebConfig("tls_server_config:\n"
                 "  cert_file: server.pem\n"
                 "  key_file: server.key\n"
                 "  max_version: TLS12\n");
  EXPECT_TRUE(WaitFor([&] { return Curl(ca + "--tls-max 1.2 " + url + "/metrics") == "200"; },
                      seconds(15)))
      << "no auth, no client certificate any more";
  EXPECT_EQ(Curl(ca + "--tlsv1.3 " + url + "/-/healthy"), "000");
}

// `ready`, the exec readiness probe of the Helm chart: the credential
// comes from the environment (a Kubernetes Secret), never the command line;
// only the exporter's own loopback listener is asked.
TEST_F(WebTest, ReadyCommandTakesItsCredentialFromTheEnvironment) {
  WriteWebConfig("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
                 "basic_auth_users:\n  prom: " + hash_ + "\n");
  std::unique_ptr<Process> exporter;
  auto ports = Start(exporter, "ready", {"--web.listen-address=127.0.0.1:0",
                                         "--web.config.file=" + dir_ + "/web.yml"});
  ASSERT_EQ(ports.size(), 1u) << ReadFile(dir_ + "/ready.log");
  const std::string ready = std::string(kExporter) + " ready --timeout=5s --url=https://127.0.0.1:" +
                            std::to_string(ports[0]) + "/-/ready";
  auto run = [&](const std::string& env) {
    std::string out;
    int rc = RunCommand(env + " " + ready + " 2>&1", &out);
    return std::make_pair(rc, out);
  };
  // base64("prom:s3cret") and base64("prom:wrong")
  EXPECT_TRUE(WaitFor([&] { return run("OSE_PROBE_AUTHORIZATION='Basic cHJvbTpzM2NyZXQ='").first == 0; },
                      seconds(20)));
  auto [rc, out] = run("OSE_PROBE_AUTHORIZATION='Basic cHJvbTpzM2NyZXQ='");
  EXPECT_EQ(out, "ready\n");
  std::tie(rc, out) = run("OSE_PROBE_AUTHORIZATION='Basic cHJvbTp3cm9uZw=='");
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("not ready: HTTP 401"), std::string::npos) << out;
  std::tie(rc, out) = run("env -u OSE_PROBE_AUTHORIZATION");
  EXPECT_NE(out.find("HTTP 401"), std::string::npos) << out;
  // Only loopback: the command is no general HTTP client.
  std::string refused;
  EXPECT_NE(RunCommand(std::string(kExporter) + " ready --url=https://192.0.2.1/-/ready 2>&1",
                       &refused), 0);
  EXPECT_NE(refused.find("loopback"), std::string::npos) << refused;
  // A server that is gone: not ready, promptly.
  exporter.reset();
  std::tie(rc, out) = run("");
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("not ready"), std::string::npos) << out;
}

TEST_F(WebTest, PrometheusScrapesOverTlsWithBasicAuth) {
  WriteWebConfig(MutualTls("basic_auth_users:\n"
                 "  prom: " + hash_ + "\n"));
  std::unique_ptr<Process> exporter;
  auto ports = Start(exporter, "prom-tls", {"--web.listen-address=127.0.0.1:0",
                                            "--web.config.file=" + dir_ + "/web.yml"});
  ASSERT_EQ(ports.size(), 1u);
  const int prom_port = FreePort();
  const std::string pdir = dir_ + "/prometheus";
  fs::create_directories(pdir);
  std::ofstream(pdir + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n"
      << "scrape_configs:\n  - job_name: ose\n    scheme: https\n"
      << "    basic_auth:\n      username: prom\n      password: s3cret\n"
      << "    tls_config:\n      ca_file: " << dir_ << "/ca.pem\n"
      << "      cert_file: " << dir_ << "/client.pem\n      key_file: " << dir_ << "/client.key\n"
      << "      server_name: localhost\n"
      << "    static_configs:\n      - targets: ['127.0.0.1:" << ports[0] << "']\n";
  Process prom({"/usr/bin/prometheus", "--config.file=" + pdir + "/prometheus.yml",
                "--storage.tsdb.path=" + pdir + "/data",
                "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
               pdir + "/prometheus.log");
  const std::string api = "http://127.0.0.1:" + std::to_string(prom_port);
  auto up = [&] {
    auto r = HttpGet(api + "/api/v1/query?query=up%7Bjob%3D%22ose%22%7D");
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_discarded() || j["status"] != "success" || j["data"]["result"].empty()) return -1;
    return std::stoi(j["data"]["result"][0]["value"][1].get<std::string>());
  };
  EXPECT_TRUE(WaitFor([&] { return up() == 1; }, seconds(60)))
      << ReadFile(pdir + "/prometheus.log");
  // And it saw the exporter's own request metrics through that door.
  const std::string counted =
      api + "/api/v1/query?query=ocsp_staple_exporter_http_requests_total"
            "%7Bhandler%3D%22%2Fmetrics%22%2Ccode%3D%22200%22%7D";
  EXPECT_TRUE(WaitFor([&] {
    return HttpGet(counted).body.find("\"handler\":\"/metrics\"") != std::string::npos;
  }, seconds(30)));
}

TEST_F(WebTest, DualStackSeveralAddressesAndExporterMetricsSwitch) {
  std::unique_ptr<Process> exporter;
  const int port = FreePort();
  auto ports = Start(exporter, "dual", {"--web.listen-address=:" + std::to_string(port),
                                        "--web.listen-address=127.0.0.1:0",
                                        "--web.listen-address=[::1]:0",
                                        "--web.telemetry-path=/internal/metrics",
                                        "--web.disable-exporter-metrics"});
  ASSERT_EQ(ports.size(), 3u) << ReadFile(dir_ + "/dual.log");
  EXPECT_EQ(ports[0], port);
  EXPECT_EQ(Curl("http://127.0.0.1:" + std::to_string(port) + "/-/healthy"), "200");
  EXPECT_EQ(Curl("'http://[::1]:" + std::to_string(port) + "/-/healthy'"), "200");
  EXPECT_EQ(Curl("http://127.0.0.1:" + std::to_string(ports[1]) + "/-/healthy"), "200");
  EXPECT_EQ(Curl("'http://[::1]:" + std::to_string(ports[2]) + "/-/healthy'"), "200");
  EXPECT_EQ(Curl("http://127.0.0.1:" + std::to_string(ports[2]) + "/-/healthy"), "000")
      << "[::1] is IPv6 only";
  auto metrics = HttpGet("http://127.0.0.1:" + std::to_string(port) + "/internal/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("ocsp_staple_exporter_build_info"), std::string::npos);
  EXPECT_EQ(metrics.body.find("process_cpu_seconds_total"), std::string::npos)
      << "--web.disable-exporter-metrics";
  EXPECT_EQ(metrics.body.find("ocsp_staple_exporter_http_requests_total"), std::string::npos);
  EXPECT_EQ(HttpGet("http://127.0.0.1:" + std::to_string(port) + "/metrics").status, 404);
  // Reload: POST only, never from another site.
  const std::string reload = "http://127.0.0.1:" + std::to_string(port) + "/-/reload";
  EXPECT_EQ(Curl(reload), "405");
  EXPECT_EQ(Curl("-X PUT " + reload), "405");
  EXPECT_EQ(Curl("-X POST -H 'Origin: https://evil.example' " + reload), "403");
  EXPECT_EQ(Curl("-X POST -H 'Sec-Fetch-Site: cross-site' " + reload), "403");
  EXPECT_EQ(Curl("-X POST " + reload), "200");

  // With exporter metrics (the default), the standard process families.
  std::unique_ptr<Process> plain;
  auto p2 = Start(plain, "plain", {"--web.listen-address=127.0.0.1:0"});
  ASSERT_EQ(p2.size(), 1u);
  const std::string base = "http://127.0.0.1:" + std::to_string(p2[0]);
  HttpGet(base + "/-/healthy");
  auto series = ParseMetrics(HttpGet(base + "/metrics").body);
  EXPECT_GT(series["process_resident_memory_bytes"], 1e6);
  EXPECT_GT(series["process_open_fds"], 3);
  EXPECT_GT(series["process_max_fds"], series["process_open_fds"]);
  EXPECT_NEAR(series["process_start_time_seconds"], std::time(nullptr), 120);
  EXPECT_EQ(series["ocsp_staple_exporter_http_requests_total{handler=\"/-/healthy\",code=\"200\"}"], 1);
}

// Issue 26: past 8,192 targets (on a machine of two cores or more), the
// gzip /metrics is rendered in slices on threads of their own and
// compressed as it goes; a client without gzip gets the single-pass text.
// Both say the same target series, each family's HELP and TYPE once.
// (Under ThreadSanitizer in the test command.)
TEST_F(WebTest, ALargeFleetScrapesTheSameSeriesWithAndWithoutGzip) {
  const int kTargets = 9000;
  const int closed = FreePort();  // every probe refused at once
  {
    std::ofstream cfg(dir_ + "/large.toml");
    cfg << "[global]\ninterval = \"1h\"\n";
    for (int i = 0; i < kTargets; ++i) {
      cfg << "\n[[tls]]\nname = \"t" << i << "\"\naddress = \"127.0.0.1:" << closed << "\"\n";
    }
  }
  std::unique_ptr<Process> exporter;
  auto ports = Start(exporter, "large", {"--web.listen-address=127.0.0.1:0", "--log.level=info"},
                     "large.toml");
  ASSERT_EQ(ports.size(), 1u) << ReadFile(dir_ + "/large.log");
  const std::string base = "http://127.0.0.1:" + std::to_string(ports[0]);
  ASSERT_TRUE(WaitFor([&] { return HttpGet(base + "/-/ready").status == 200; }, seconds(180)))
      << "not every target probed";
  const HttpResponse gz = HttpGet(base + "/metrics");  // Accept-Encoding: gzip
  const HttpResponse plain = HttpGet(base + "/metrics", {"Accept-Encoding: identity"});
  ASSERT_EQ(gz.status, 200);
  ASSERT_EQ(plain.status, 200);
  EXPECT_LT(gz.wire_bytes * 5, static_cast<long>(gz.body.size())) << "not compressed";
  EXPECT_EQ(plain.wire_bytes, static_cast<long>(plain.body.size())) << "compressed";
  // The targets' families (the exporter's own counters move between two
  // scrapes; one probe an hour, the targets' series do not).
  auto targets_part = [](const std::string& text) {
    std::string out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.find("ocsp_staple_exporter_") != std::string::npos ||
          line.find("process_") != std::string::npos) {
        continue;
      }
      out += line + "\n";
    }
    return out;
  };
  const std::string sliced = targets_part(gz.body);
  const std::string single = targets_part(plain.body);
  // (Not EXPECT_EQ: gtest's diff of two 2 MB texts takes gigabytes.)
  const auto [a, b] = std::mismatch(sliced.begin(), sliced.end(), single.begin(), single.end());
  EXPECT_TRUE(a == sliced.end() && b == single.end())
      << "first difference at byte " << (a - sliced.begin()) << ": gzip has\n"
      << std::string(a, a + std::min<ptrdiff_t>(200, sliced.end() - a)) << "\nplain has\n"
      << std::string(b, b + std::min<ptrdiff_t>(200, single.end() - b));
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = sliced.find(needle); at != std::string::npos;
         at = sliced.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(count("\nocsp_probe_success{target=\""), static_cast<size_t>(kTargets));
  EXPECT_EQ(count("ocsp_probe_success{target=\"t8999\"} 0\n"), 1u);
  EXPECT_EQ(count("# TYPE ocsp_probe_success gauge\n"), 1u);
  EXPECT_EQ(count("# TYPE ocsp_probe_failures_total counter\n"), 1u);
  EXPECT_EQ(count("ocsp_probe_failures_total{target=\"t4500\",reason=\"connect\"} 1\n"), 1u)
      << sliced.substr(0, 2000);
}

TEST_F(WebTest, ProbeLimitsAfterDnsResolution) {
  const int closed = FreePort();  // nothing listens: probes fail fast with "connect"
  std::ofstream(dir_ + "/limits.toml")
      << "[probe]\nallow = [\"localhost:*\", \"127.0.0.0/8\"]\n"
      << "deny = [\"127.0.0.66/32\", \"blocked.localhost:*\"]\n";
  std::unique_ptr<Process> exporter;
  auto ports = Start(exporter, "policy", {"--web.listen-address=127.0.0.1:0"}, "limits.toml");
  ASSERT_EQ(ports.size(), 1u) << ReadFile(dir_ + "/policy.log");
  const int port = ports[0];
  const std::string base = "http://127.0.0.1:" + std::to_string(port) + "/probe?target=";
  auto probe = [&](const std::string& target) { return HttpGet(base + target); };
  // Allowed by name and by CIDR: the probe runs (and fails to connect).
  auto ok = probe("localhost:" + std::to_string(closed));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(ok.body.find("ocsp_probe_success 0"), std::string::npos) << ok.body;
  EXPECT_EQ(probe("127.0.0.1:" + std::to_string(closed)).status, 200);
  // Denied by CIDR, by name pattern, and a metadata address nobody allowed.
  auto denied = probe("127.0.0.66:443");
  EXPECT_EQ(denied.status, 403);
  EXPECT_NE(denied.body.find("denied by [probe] deny \"127.0.0.66/32\""), std::string::npos)
      << denied.body;
  EXPECT_EQ(probe("blocked.localhost:443").status, 403);
  EXPECT_EQ(probe("blocked.localhost.:443").status, 403) << "a trailing dot is the same name";
  EXPECT_EQ(probe("BLOCKED.localhost:443").status, 403);
  auto metadata = probe("169.254.169.254:80");
  EXPECT_EQ(metadata.status, 403);
  EXPECT_NE(metadata.body.find("link-local or cloud metadata"), std::string::npos);
  // Outside the allow list.
  auto outside = probe("192.0.2.1:443");
  EXPECT_EQ(outside.status, 403);
  EXPECT_NE(outside.body.find("which no [probe] allow entry names"), std::string::npos);

  // A name that resolves to a denied address is refused after resolution:
  // "localhost" resolves (from /etc/hosts) to 127.0.0.1, now denied.
  std::ofstream(dir_ + "/limits.toml") << "[probe]\ndeny = [\"127.0.0.1/32\", \"::1/128\"]\n";
  EXPECT_EQ(HttpPost("http://127.0.0.1:" + std::to_string(port) + "/-/reload").status, 200);
  auto rebound = probe("localhost:" + std::to_string(closed));
  EXPECT_EQ(rebound.status, 403);
  EXPECT_NE(rebound.body.find("localhost:" + std::to_string(closed) + " resolves to "),
            std::string::npos)
      << rebound.body;
  // Issue 20 point 11: other spellings of loopback reach it too, and are
  // denied as what they reach.
  for (const std::string host : {"0.0.0.0", "[::]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]",
                                 "[::127.0.0.1]"}) {
    auto r = probe(host + ":" + std::to_string(closed));
    EXPECT_EQ(r.status, 403) << host << ": " << r.body;
  }
  // Disabled altogether.
  std::ofstream(dir_ + "/limits.toml") << "[probe]\nenabled = false\n";
  EXPECT_EQ(HttpPost("http://127.0.0.1:" + std::to_string(port) + "/-/reload").status, 200);
  auto off = probe("localhost:" + std::to_string(closed));
  EXPECT_EQ(off.status, 403);
  EXPECT_NE(off.body.find("[probe] enabled = false"), std::string::npos);
}

// Issue 13 point 4: three replicas on one config cover every target exactly
// once, and each holds exactly the targets Prometheus' own `hashmod`
// relabeling gives its index (the reference is Prometheus, not our code).
TEST_F(WebTest, ShardsCoverEveryTargetOnceAsPrometheusHashmodSays) {
  const int closed = FreePort();  // every probe fails fast: only the series matter
  std::ofstream cfg(dir_ + "/shards.toml");
  cfg << "[global]\ninterval = \"1h\"\ntimeout = \"2s\"\n";
  std::vector<std::string> names;
  for (int i = 0; i < 24; ++i) {
    names.push_back("shard-target-" + std::to_string(i * 7919));
    cfg << "\n[[tls]]\nname = \"" << names.back() << "\"\naddress = \"127.0.0.1:" << closed
        << "\"\n";
  }
  cfg.close();
  std::map<std::string, int> owner;  // target -> replica that exports it
  std::vector<std::unique_ptr<Process>> replicas(3);
  std::vector<int> ports(3);
  for (int i = 0; i < 3; ++i) {  // all three at once: their first rounds overlap
    auto p = Start(replicas[i], "shard" + std::to_string(i),
                   {"--web.listen-address=127.0.0.1:0", "--shard.index=" + std::to_string(i),
                    "--shard.count=3"},
                   "shards.toml");
    ASSERT_EQ(p.size(), 1u);
    ports[i] = p[0];
    EXPECT_NE(ReadFile(dir_ + "/shard" + std::to_string(i) + ".log").find("shard=" +
                                                                         std::to_string(i) + "/3"),
              std::string::npos);
  }
  for (int i = 0; i < 3; ++i) {
    const std::string base = "http://127.0.0.1:" + std::to_string(ports[i]);
    EXPECT_TRUE(WaitFor([&] { return HttpGet(base + "/-/ready").status == 200; }, seconds(30)));
    auto series = ParseMetrics(HttpGet(base + "/metrics").body);
    for (const std::string& n : names) {
      if (series.count("ocsp_probe_success{target=\"" + n + "\"}")) {
        EXPECT_EQ(owner.count(n), 0u) << n << " is probed by two replicas";
        owner[n] = i;
      }
    }
  }
  EXPECT_EQ(owner.size(), names.size()) << "every target is probed by one replica";

  // Prometheus' hashmod over the same names.
  const int prom_port = FreePort();
  const std::string pdir = dir_ + "/prometheus-shards";
  fs::create_directories(pdir);
  std::ofstream prom_cfg(pdir + "/prometheus.yml");
  prom_cfg << "global:\n  scrape_interval: 1h\nscrape_configs:\n  - job_name: shards\n"
           << "    static_configs:\n";
  for (const std::string& n : names) {
    prom_cfg << "      - targets: ['127.0.0.1:" << closed << "']\n        labels: {target: " << n
             << "}\n";
  }
  prom_cfg << "    relabel_configs:\n      - source_labels: [target]\n        modulus: 3\n"
           << "        target_label: shard\n        action: hashmod\n";
  prom_cfg.close();
  Process prom({"/usr/bin/prometheus", "--config.file=" + pdir + "/prometheus.yml",
                "--storage.tsdb.path=" + pdir + "/data",
                "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
               pdir + "/prometheus.log");
  const std::string api = "http://127.0.0.1:" + std::to_string(prom_port);
  std::map<std::string, int> prometheus;
  EXPECT_TRUE(WaitFor([&] {
    auto j = nlohmann::json::parse(HttpGet(api + "/api/v1/targets").body, nullptr, false);
    if (j.is_discarded() || j["status"] != "success") return false;
    prometheus.clear();
    for (const auto& t : j["data"]["activeTargets"]) {
      prometheus[t["labels"].value("target", "")] = std::stoi(t["labels"].value("shard", "-1"));
    }
    return prometheus.size() == names.size();
  }, seconds(60))) << ReadFile(pdir + "/prometheus.log");
  EXPECT_EQ(owner, prometheus);
}

// Connects to 127.0.0.1:port; -1 on failure.
int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST_F(WebTest, ProbesSaturatedAndASlowClientDoNotHoldTheOtherEndpoints) {
  std::unique_ptr<Process> exporter;
  auto ports = Start(exporter, "limits", {"--web.listen-address=127.0.0.1:0",
                                          "--web.max-probe-requests=4"});
  ASSERT_EQ(ports.size(), 1u);
  const std::string base = "http://127.0.0.1:" + std::to_string(ports[0]);
  const std::string probe =
      base + "/probe?module=slow&target=127.0.0.1:" + std::to_string(silent_->port());
  // A client that sends its request one byte a second.
  std::atomic<bool> cut{false};
  std::atomic<int> sent{0};
  std::thread slow([&] {
    int fd = Connect(ports[0]);
    const std::string req = "GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Padding: " +
                            std::string(60, 'a') + "\r\n\r\n";
    for (char c : req) {
      if (::send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
        cut = true;
        break;
      }
      ++sent;
      std::this_thread::sleep_for(seconds(1));
    }
    ::close(fd);
  });
  // Four probes of a server that never answers fill the limit.
  std::vector<std::thread> probes;
  std::atomic<int> answered{0};
  for (int i = 0; i < 4; ++i) {
    probes.emplace_back([&] {
      HttpGet(probe);
      ++answered;
    });
  }
  std::this_thread::sleep_for(seconds(1));  // (each holds a slot for its 8 s timeout)
  auto refused = HttpGet(probe);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(answered.load(), 0);
  // Meanwhile the rest answers at once.
  for (const char* path : {"/-/healthy", "/-/ready", "/metrics", "/"}) {
    const auto start = std::chrono::steady_clock::now();
    auto r = HttpGet(base + path);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(r.status == 200 || (std::string(path) == "/-/ready" && r.status == 503)) << path;
    EXPECT_LT(took, milliseconds(100)) << path;
  }
  for (auto& t : probes) t.join();
  EXPECT_EQ(answered.load(), 4);
  // The slow client is cut off by the request deadline (15 s), long before
  // its 90-byte request is complete.
  slow.join();
  EXPECT_TRUE(cut.load()) << "sent " << sent.load() << " bytes without being cut off";
  EXPECT_LT(sent.load(), 30);
}

// Connections live on the probe loops, which the listener cannot stop: on
// SIGTERM it closes each one there and waits for it to go. Idle keep-alive
// connections and one half-sent request do not hold the exit up, each sees
// its connection closed, and the exit is clean (under ASan: no connection
// outlives the listener).
TEST_F(WebTest, StopsAtOnceWithConnectionsOpen) {
  std::unique_ptr<Process> exporter;
  auto ports = Start(exporter, "stop", {"--web.listen-address=127.0.0.1:0"});
  ASSERT_EQ(ports.size(), 1u);
  std::vector<int> fds;
  for (int i = 0; i < 4; ++i) {
    int fd = Connect(ports[0]);
    ASSERT_GE(fd, 0);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const std::string req = "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string(buf, static_cast<size_t>(n)).rfind("HTTP/1.1 200", 0), 0u);
    fds.push_back(fd);  // kept alive, idle
  }
  int half = Connect(ports[0]);
  ASSERT_GE(half, 0);
  timeval tv{5, 0};
  ::setsockopt(half, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_EQ(::send(half, "GET /-/hea", 10, MSG_NOSIGNAL), 10);
  fds.push_back(half);
  std::this_thread::sleep_for(milliseconds(200));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(exporter->Stop(seconds(10)), 0) << ReadFile(dir_ + "/stop.log");
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(3));
  for (int fd : fds) {
    char c;
    EXPECT_EQ(::recv(fd, &c, 1, 0), 0) << "the connection is closed, not left to time out";
    ::close(fd);
  }
}

}  // namespace
}  // namespace ose::testing
