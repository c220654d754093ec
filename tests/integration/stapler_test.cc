// The stapling engine against real programs on 127.0.0.1: the lab's
// `openssl ocsp` responder, HAProxy 2.6 receiving staples over its runtime
// API, nginx serving the published ssl_stapling_file, restarts that resume
// from store_dir with the responder stopped, a corrupt cache entry, and a
// revocation that turns a `must` certificate fatal.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "fake_responder.h"
#include "process.h"

namespace ose::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

const std::string kLab = OSE_SOURCE_DIR "/scripts/lab.sh";
const std::string kExporter = OSE_EXPORTER_BIN;

class StaplerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("ose-stapler-" + std::to_string(::getpid()))).string();
    base_ = 30000 + (::getpid() % 270) * 10;
    std::string out;
    ASSERT_EQ(RunCommand("bash " + kLab + " up " + dir_ + " " + std::to_string(base_), &out), 0)
        << out;
    pki_ = dir_ + "/pki";
    fs::create_directories(dir_ + "/published");

    // HAProxy: certificate with key and chain, a good .ocsp beside it (2.6
    // only accepts runtime updates for certificates that had one at load).
    haproxy_port_ = FreePort();
    RunCommand("cat " + pki_ + "/good.pem " + pki_ + "/good.key " + pki_ + "/ca.pem > " + dir_ +
               "/haproxy.pem && cp " + pki_ + "/good.ocsp.der " + dir_ + "/haproxy.pem.ocsp");
    std::ofstream(dir_ + "/haproxy.cfg")
        << "global\n  stats socket " << dir_ << "/haproxy.sock level admin\n"
        << "defaults\n  mode http\n  timeout connect 5s\n  timeout client 5s\n"
        << "  timeout server 5s\nfrontend fe\n  bind 127.0.0.1:" << haproxy_port_
        << " ssl crt " << dir_ << "/haproxy.pem\n"
        << "  http-request return status 200 content-type text/plain string ok\n";
    haproxy_ = new Process({"/usr/sbin/haproxy", "-db", "-f", dir_ + "/haproxy.cfg"},
                           dir_ + "/haproxy.log");
    ASSERT_TRUE(WaitFor([] { return fs::exists(dir_ + "/haproxy.sock"); }, seconds(10)))
        << ReadFile(dir_ + "/haproxy.log");

    nginx_port_ = FreePort();
    config_ = dir_ + "/stapler.toml";
    std::ofstream(config_)
        << "[global]\ninterval = \"1h\"\n\n"
        << "[stapler]\nstore_dir = \"store\"\nmin_refresh = \"1s\"\nmax_refresh = \"2s\"\n"
        << "reload_min_interval = \"1s\"\nfailure_backoff = \"1s\"\n"
        << "fatal_command = \"touch " << dir_ << "/fatal-$OSE_CERTIFICATE\"\n\n"
        << "[[stapler.certificate]]\nname = \"api\"\ncert_file = \"pki/good-chain.pem\"\n"
        << "mode = \"must\"\noutput_file = \"published/api.ocsp\"\n"
        << "haproxy_socket = \"haproxy.sock\"\n"
        << "reload_command = \"nginx -p " << dir_ << "/nginx-stapler -c " << dir_
        << "/nginx-stapler/nginx.conf -e " << dir_ << "/nginx-stapler/error.log -s reload\"\n\n"
        << "[[stapler.certificate]]\nname = \"plain-auto\"\n"
        << "cert_file = \"pki/nostaple-chain.pem\"\nmode = \"auto\"\n";
  }

  static void TearDownTestSuite() {
    StopExporter();
    delete haproxy_;
    haproxy_ = nullptr;
    RunCommand("nginx -p " + dir_ + "/nginx-stapler -c " + dir_ +
               "/nginx-stapler/nginx.conf -e " + dir_ + "/nginx-stapler/error.log -s stop");
    RunCommand("bash " + kLab + " down " + dir_);
    if (::testing::UnitTest::GetInstance()->failed_test_count() == 0) fs::remove_all(dir_);
  }

  static void StartExporter() {
    StopExporter();
    log_ = dir_ + "/exporter-" + std::to_string(++runs_) + ".log";
    exporter_ = new Process({kExporter, "--config.file=" + config_,
                             "--web.listen-address=127.0.0.1:0"},
                            log_);
    port_ = WaitForListeningPort(log_, seconds(20));
    ASSERT_GT(port_, 0) << ReadFile(log_);
  }

  static void StopExporter() {
    delete exporter_;
    exporter_ = nullptr;
  }

  static std::map<std::string, double> Metrics() {
    return ParseMetrics(HttpGet("http://127.0.0.1:" + std::to_string(port_) + "/metrics").body);
  }

  static bool WaitMetric(const std::string& key, double value, int limit_seconds = 30) {
    return WaitFor([&] { return Metrics()[key] == value; }, seconds(limit_seconds));
  }

  // What `openssl ocsp` reads in a DER response file.
  static std::string Describe(const std::string& der_file) {
    std::string out;
    RunCommand("openssl ocsp -respin " + der_file + " -resp_text -noverify", &out);
    return out;
  }

  // The staple a TLS client gets from 127.0.0.1:port.
  static std::string Handshake(int port) {
    std::string out;
    RunCommand("timeout 5 openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                   " -servername localhost -status < /dev/null",
               &out);
    return out;
  }

  static void StartNginx() {
    std::string d = dir_ + "/nginx-stapler";
    fs::create_directories(d + "/tmp");
    std::ofstream(d + "/nginx.conf")
        << "worker_processes 1;\n" << (::getuid() == 0 ? "user root;\n" : "")
        << "pid " << d << "/nginx.pid;\nerror_log " << d << "/error.log info;\n"
        << "events { worker_connections 64; }\nhttp {\n  access_log off;\n"
        << "  client_body_temp_path " << d << "/tmp/body;\n  proxy_temp_path " << d
        << "/tmp/proxy;\n  fastcgi_temp_path " << d << "/tmp/fastcgi;\n  uwsgi_temp_path " << d
        << "/tmp/uwsgi;\n  scgi_temp_path " << d << "/tmp/scgi;\n  server {\n    listen 127.0.0.1:"
        << nginx_port_ << " ssl;\n    ssl_certificate " << pki_ << "/good-chain.pem;\n"
        << "    ssl_certificate_key " << pki_ << "/good.key;\n    ssl_stapling on;\n"
        << "    ssl_stapling_file " << dir_ << "/published/api.ocsp;\n    return 200 \"ok\\n\";\n"
        << "  }\n}\n";
    std::string out;
    ASSERT_EQ(RunCommand("nginx -p " + d + " -c " + d + "/nginx.conf -e " + d + "/error.log", &out),
              0)
        << out;
  }

  static inline std::string dir_, pki_, config_, log_;
  static inline int base_ = 0, port_ = 0, haproxy_port_ = 0, nginx_port_ = 0, runs_ = 0;
  static inline Process* exporter_ = nullptr;
  static inline Process* haproxy_ = nullptr;
};

const std::string kApi = "{certificate=\"api\"";

TEST_F(StaplerTest, FetchPublishRestartCorruptionAndRevocation) {
  const std::string out_file = dir_ + "/published/api.ocsp";
  // 1. First start: the engine fetches from the real responder and publishes.
  StartExporter();
  ASSERT_TRUE(WaitMetric("ocsp_stapler_serving" + kApi + "}", 1)) << ReadFile(log_);
  auto m = Metrics();
  EXPECT_EQ(m["ocsp_stapler_status" + kApi + ",status=\"good\"}"], 1);
  EXPECT_EQ(m["ocsp_stapler_mode" + kApi + ",mode=\"must\"}"], 1);
  EXPECT_EQ(m["ocsp_stapler_mode" + kApi + ",mode=\"auto\"}"], 0);
  EXPECT_EQ(m["ocsp_stapler_fatal" + kApi + "}"], 0);
  EXPECT_GE(m["ocsp_stapler_refresh_total" + kApi + ",result=\"good\"}"], 1);
  EXPECT_GT(m["ocsp_stapler_next_update_timestamp_seconds" + kApi + "}"], std::time(nullptr));
  EXPECT_GT(m["ocsp_stapler_next_refresh_timestamp_seconds" + kApi + "}"], 0);
  // A certificate without Must-Staple in auto mode is left alone.
  EXPECT_EQ(m["ocsp_stapler_serving{certificate=\"plain-auto\"}"], 0);
  EXPECT_EQ(m["ocsp_stapler_status{certificate=\"plain-auto\",status=\"absent\"}"], 1);
  EXPECT_EQ(m["ocsp_stapler_refresh_total{certificate=\"plain-auto\",result=\"failed\"}"], 0);
  EXPECT_EQ(HttpGet("http://127.0.0.1:" + std::to_string(port_) + "/-/ready").status, 200);
  EXPECT_NE(Describe(out_file).find("Cert Status: good"), std::string::npos);
  EXPECT_NE(ReadFile(log_).find("msg=\"staple update\" certificate=api result=good"),
            std::string::npos)
      << ReadFile(log_);
  auto api = HttpGet("http://127.0.0.1:" + std::to_string(port_) + "/api/v1/stapler");
  EXPECT_EQ(api.content_type, "application/json");
  EXPECT_NE(api.body.find("\"name\": \"api\""), std::string::npos) << api.body;
  EXPECT_NE(api.body.find("\"status\": \"good\""), std::string::npos);
  EXPECT_NE(api.body.find("\"serving\": true"), std::string::npos);

  // 2. nginx serves the published file.
  StartNginx();
  EXPECT_TRUE(WaitFor([&] { return Handshake(nginx_port_).find("Cert Status: good") !=
                                   std::string::npos; },
                      seconds(10)));

  // 3. HAProxy got it over the runtime API: the staple it serves was
  // produced now, not the lab's file from before.
  EXPECT_TRUE(WaitFor([&] {
    return ReadFile(log_).find("msg=\"staple pushed to HAProxy\" certificate=api") !=
           std::string::npos;
  }, seconds(10))) << ReadFile(log_);
  EXPECT_NE(Handshake(haproxy_port_).find("Cert Status: good"), std::string::npos);

  // 4. A corrupt cache entry is ignored at start and replaced.
  StopExporter();
  std::string der_file;
  for (const auto& f : fs::directory_iterator(dir_ + "/store")) {
    if (f.path().extension() == ".der") der_file = f.path().string();
  }
  ASSERT_FALSE(der_file.empty());
  std::ofstream(der_file, std::ios::trunc) << "garbage";
  StartExporter();
  EXPECT_TRUE(WaitFor([&] {
    return ReadFile(log_).find("msg=\"cache entry ignored, will be replaced\" certificate=api") !=
           std::string::npos;
  }, seconds(10))) << ReadFile(log_);
  EXPECT_TRUE(WaitFor([&] { return Describe(der_file).find("Cert Status: good") !=
                                   std::string::npos; },
                      seconds(20)));

  // 5. Restart with the responder stopped: resume from store_dir and keep
  // publishing; the fetches fail and are counted.
  StopExporter();
  std::string pid;
  std::istringstream pids(ReadFile(dir_ + "/pids"));
  for (std::string p, name; pids >> p >> name;) {
    if (name == "ocsp") pid = p;
  }
  ASSERT_FALSE(pid.empty());
  RunCommand("kill " + pid);
  fs::remove(out_file);
  StartExporter();
  EXPECT_TRUE(WaitMetric("ocsp_stapler_serving" + kApi + "}", 1, 10)) << ReadFile(log_);
  EXPECT_NE(ReadFile(log_).find("msg=\"staple loaded from store_dir\" certificate=api status=good"),
            std::string::npos)
      << ReadFile(log_);
  EXPECT_NE(Describe(out_file).find("Cert Status: good"), std::string::npos);
  EXPECT_TRUE(WaitFor([&] {
    return Metrics()["ocsp_stapler_refresh_total" + kApi + ",result=\"failed\"}"] >= 1;
  }, seconds(20)));
  m = Metrics();
  EXPECT_EQ(m["ocsp_stapler_fatal" + kApi + "}"], 0);
  EXPECT_EQ(m["ocsp_stapler_status" + kApi + ",status=\"good\"}"], 1);

  // 6. Revocation: restart the responder on the same index after revoking.
  std::string out;
  ASSERT_EQ(RunCommand("cd " + pki_ + " && OPENSSL_CONF=ca.cnf openssl ca -batch -config ca.cnf "
                       "-revoke good.pem -crl_reason keyCompromise",
                       &out),
            0)
      << out;
  RunCommand("cd " + pki_ + " && (openssl ocsp -index index.txt -port " + std::to_string(base_) +
             " -rsigner responder.pem -rkey responder.key -CA ca.pem -ndays 1 -ignore_err "
             "-timeout 5 > " + dir_ + "/logs/ocsp-2.log 2>&1 & echo $! " + "ocsp2 >> " + dir_ +
             "/pids)");
  ASSERT_TRUE(WaitMetric("ocsp_stapler_fatal" + kApi + "}", 1, 60)) << ReadFile(log_);
  m = Metrics();
  EXPECT_EQ(m["ocsp_stapler_status" + kApi + ",status=\"revoked\"}"], 1);
  EXPECT_EQ(m["ocsp_stapler_serving" + kApi + "}"], 1);  // the revoked response is published
  EXPECT_NE(Describe(out_file).find("Cert Status: revoked"), std::string::npos);
  EXPECT_TRUE(WaitFor([&] { return fs::exists(dir_ + "/fatal-api"); }, seconds(10)));
  EXPECT_NE(ReadFile(log_).find("level=error msg=\"stapler fatal\" certificate=api mode=must "
                                "status=revoked"),
            std::string::npos);
  // Clients see the revocation: HAProxy over its API, nginx after reload_command.
  EXPECT_TRUE(WaitFor([&] { return Handshake(haproxy_port_).find("Cert Status: revoked") !=
                                   std::string::npos; },
                      seconds(15)));
  EXPECT_TRUE(WaitFor([&] { return Handshake(nginx_port_).find("Cert Status: revoked") !=
                                   std::string::npos; },
                      seconds(15)));
  // exit_on_fatal is off: the exporter keeps running.
  EXPECT_TRUE(exporter_->Running());
}

}  // namespace
}  // namespace ose::testing

namespace ose::testing {
namespace {

TEST_F(StaplerTest, ExitOnFatalStopsTheProcess) {
  // The lab's "revoked" certificate in must mode, with exit_on_fatal.
  std::string config = dir_ + "/exit.toml";
  std::ofstream(config) << "[stapler]\nstore_dir = \"store-exit\"\nexit_on_fatal = true\n"
                        << "[[stapler.certificate]]\nname = \"gone\"\n"
                        << "cert_file = \"pki/revoked-chain.pem\"\nmode = \"must\"\n";
  Process p({kExporter, "--config.file=" + config, "--web.listen-address=127.0.0.1:0"},
            dir_ + "/exit.log");
  ASSERT_TRUE(WaitFor([&] { return !p.Running(); }, seconds(30))) << ReadFile(dir_ + "/exit.log");
  EXPECT_EQ(p.Stop(), 1);
  std::string log = ReadFile(dir_ + "/exit.log");
  EXPECT_NE(log.find("msg=\"exiting: exit_on_fatal is set\" certificate=gone"), std::string::npos)
      << log;
}

}  // namespace
}  // namespace ose::testing

namespace ose::testing {
namespace {

// Alertmanager gets OCSPStaplerFatal straight from the engine, and the
// alert is resolved when the condition clears.
TEST_F(StaplerTest, AlertmanagerPushAndResolve) {
  int am_port = FreePort();
  std::string am_dir = dir_ + "/alertmanager";
  fs::create_directories(am_dir);
  std::ofstream(am_dir + "/am.yml") << "route:\n  receiver: blackhole\nreceivers:\n"
                                       "  - name: blackhole\n";
  Process am({"/usr/bin/prometheus-alertmanager", "--config.file=" + am_dir + "/am.yml",
              "--storage.path=" + am_dir + "/data",
              "--web.listen-address=127.0.0.1:" + std::to_string(am_port),
              "--cluster.listen-address="},
             am_dir + "/am.log");
  const std::string am_url = "http://127.0.0.1:" + std::to_string(am_port);
  ASSERT_TRUE(WaitFor([&] { return HttpGet(am_url + "/-/ready").status == 200; }, seconds(30)))
      << ReadFile(am_dir + "/am.log");

  // The responder answers through a switch the test controls.
  FakeResponder fake("http://127.0.0.1:" + std::to_string(base_));
  fake.available_ = false;
  std::string config = dir_ + "/am.toml";
  std::ofstream(config) << "[alertmanager]\nurl = \"" << am_url << "\"\n"
                        << "[stapler]\nstore_dir = \"store-am\"\nfailure_backoff = \"1s\"\n"
                        << "[[stapler.certificate]]\nname = \"paged\"\n"
                        << "cert_file = \"pki/missing-chain.pem\"\nmode = \"must\"\n"
                        << "url = \"" << fake.Url("/switchable") << "\"\n";
  Process p({kExporter, "--config.file=" + config, "--web.listen-address=127.0.0.1:0"},
            dir_ + "/am-exporter.log");

  auto alert = [&]() -> nlohmann::json {
    auto j = nlohmann::json::parse(HttpGet(am_url + "/api/v2/alerts").body, nullptr, false);
    if (j.is_discarded()) return nullptr;
    for (const auto& a : j) {
      if (a["labels"].value("alertname", "") == "OCSPStaplerFatal" &&
          a["labels"].value("certificate", "") == "paged") {
        return a;
      }
    }
    return nullptr;
  };
  // No staple after the first attempt: fatal in must mode, and paged.
  nlohmann::json firing;
  ASSERT_TRUE(WaitFor([&] { return !(firing = alert()).is_null(); }, seconds(30)))
      << ReadFile(dir_ + "/am-exporter.log");
  EXPECT_EQ(firing["labels"]["severity"], "critical");
  EXPECT_EQ(firing["labels"]["mode"], "must");
  EXPECT_EQ(firing["status"]["state"], "active");
  EXPECT_NE(firing["annotations"]["summary"].get<std::string>().find("paged"), std::string::npos);

  // The responder comes back: a good staple, fatal clears, the alert resolves.
  fake.available_ = true;
  EXPECT_TRUE(WaitFor([&] { return alert().is_null(); }, seconds(30)))
      << ReadFile(dir_ + "/am-exporter.log");
  std::string log = ReadFile(dir_ + "/am-exporter.log");
  EXPECT_NE(log.find("msg=\"alert sent to Alertmanager\" certificate=paged"), std::string::npos)
      << log;
  EXPECT_NE(log.find("msg=\"alert resolved in Alertmanager\" certificate=paged"),
            std::string::npos);
}

}  // namespace
}  // namespace ose::testing
