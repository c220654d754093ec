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
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "fake_responder.h"
#include "exporter_under_test.h"
#include "process.h"
#include "silent_server.h"

namespace ose::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;


class StaplerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("ose-stapler-" + std::to_string(::getpid()))).string();
    base_ = 28000 + (::getpid() % 50) * 40;  // the lab takes 32 ports
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
        << "reload_command = \"" << Nginx("nginx-stapler") << " -s reload\"\n\n"
        << "[[stapler.certificate]]\nname = \"plain-auto\"\n"
        << "cert_file = \"pki/nostaple-chain.pem\"\nmode = \"auto\"\n";
  }

  static void TearDownTestSuite() {
    StopExporter();
    delete haproxy_;
    haproxy_ = nullptr;
    for (const char* n : {"nginx-stapler", "nginx-replay", "nginx-wd"}) {
      RunCommand(Nginx(n) + " -s stop");
    }
    RunCommand("bash " + kLab + " down " + dir_);
    if (::testing::UnitTest::GetInstance()->failed_test_count() == 0) fs::remove_all(dir_);
  }

  static void StartExporter(const std::string& config = config_) {
    StopExporter();
    log_ = dir_ + "/exporter-" + std::to_string(++runs_) + ".log";
    exporter_ = new Process({kExporter, "--config.file=" + config,
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

  // nginx with prefix DIR/<name>, as the test and reload_command call it.
  static std::string Nginx(const std::string& name) {
    std::string d = dir_ + "/" + name;
    return "nginx -p " + d + " -c " + d + "/nginx.conf -e " + d + "/error.log";
  }

  // An nginx on 127.0.0.1:port serving pki/good-chain.pem with
  // ssl_stapling_file `staple`. Returns nginx's exit code (0 when started).
  static int StartNginx(const std::string& name, int port, const std::string& staple,
                        std::string* out = nullptr) {
    std::string d = dir_ + "/" + name;
    fs::create_directories(d + "/tmp");
    std::ofstream(d + "/nginx.conf")
        << "worker_processes 1;\n" << (::getuid() == 0 ? "user root;\n" : "")
        << "pid " << d << "/nginx.pid;\nerror_log " << d << "/error.log info;\n"
        << "events { worker_connections 64; }\nhttp {\n  access_log off;\n"
        << "  client_body_temp_path " << d << "/tmp/body;\n  proxy_temp_path " << d
        << "/tmp/proxy;\n  fastcgi_temp_path " << d << "/tmp/fastcgi;\n  uwsgi_temp_path " << d
        << "/tmp/uwsgi;\n  scgi_temp_path " << d << "/tmp/scgi;\n  server {\n    listen 127.0.0.1:"
        << port << " ssl;\n    ssl_certificate " << pki_ << "/good-chain.pem;\n"
        << "    ssl_certificate_key " << pki_ << "/good.key;\n    ssl_stapling on;\n"
        << "    ssl_stapling_file " << staple << ";\n    return 200 \"ok\\n\";\n"
        << "  }\n}\n";
    return RunCommand(Nginx(name), out);
  }

  // A DER OCSP response for pki/<cert>.pem, signed offline by the lab's
  // delegated responder from a copy of the CA index in which that serial is
  // valid ('V') or revoked ('R', keyCompromise a day ago); nextUpdate
  // `minutes` after thisUpdate; `shift` (faketime, e.g. "+25s") moves the
  // signing clock.
  static std::vector<uint8_t> Sign(const std::string& cert, char status, int minutes,
                                   const std::string& shift = "") {
    static int n = 0;
    std::string base = dir_ + "/signed-" + std::to_string(++n);
    std::string revoked = status == 'R' ? "$(date -u -d '-1 day' +%y%m%d%H%M%SZ),keyCompromise" : "";
    std::string out;
    int rc = RunCommand(
        "cd " + pki_ + " && serial=$(openssl x509 -in " + cert + ".pem -noout -serial | cut -d= -f2)"
        " && awk -F'\\t' -v OFS='\\t' -v s=$serial -v st=" + std::string(1, status) +
        " -v r=\"" + revoked + "\" '$4==s{$1=st; $3=r} {print}' index.txt > " + base + ".idx"
        " && openssl ocsp -issuer ca.pem -cert " + cert + ".pem -no_nonce -reqout " + base +
        ".req && " + (shift.empty() ? "" : "faketime -f '" + shift + "' ") +
        "openssl ocsp -index " + base + ".idx -rsigner responder.pem -rkey responder.key "
        "-CA ca.pem -reqin " + base + ".req -respout " + base + ".der -nmin " +
        std::to_string(minutes),
        &out);
    EXPECT_EQ(rc, 0) << out;
    std::string der = ReadFile(base + ".der");
    return std::vector<uint8_t>(der.begin(), der.end());
  }

  static std::string Str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

  static void WriteConfig(const std::string& text) { std::ofstream(config_) << text; }

  static std::string Url() { return "http://127.0.0.1:" + std::to_string(port_); }

  static std::string Log() { return ReadFile(log_); }

  static bool WaitLog(const std::string& needle, int limit_seconds = 20) {
    return WaitFor([&] { return Log().find(needle) != std::string::npos; },
                   seconds(limit_seconds));
  }

  // A real Alertmanager on a free port (dies with the returned Process).
  static std::unique_ptr<Process> StartAlertmanager(const std::string& name, std::string* url) {
    int am_port = FreePort();
    std::string am_dir = dir_ + "/" + name;
    fs::create_directories(am_dir);
    std::ofstream(am_dir + "/am.yml") << "route:\n  receiver: blackhole\nreceivers:\n"
                                         "  - name: blackhole\n";
    auto am = std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/prometheus-alertmanager",
                                 "--config.file=" + am_dir + "/am.yml",
                                 "--storage.path=" + am_dir + "/data",
                                 "--web.listen-address=127.0.0.1:" + std::to_string(am_port),
                                 "--cluster.listen-address="},
        am_dir + "/am.log");
    *url = "http://127.0.0.1:" + std::to_string(am_port);
    std::string u = *url;
    EXPECT_TRUE(WaitFor([&] { return HttpGet(u + "/-/ready").status == 200; }, seconds(30)))
        << ReadFile(am_dir + "/am.log");
    return am;
  }

  // The alert named OCSPStaplerFatal for `certificate` in Alertmanager, or null.
  static nlohmann::json ActiveAlert(const std::string& am_url, const std::string& certificate) {
    auto j = nlohmann::json::parse(HttpGet(am_url + "/api/v2/alerts").body, nullptr, false);
    if (j.is_discarded()) return nullptr;
    for (const auto& a : j) {
      if (a["labels"].value("alertname", "") == "OCSPStaplerFatal" &&
          a["labels"].value("certificate", "") == certificate) {
        return a;
      }
    }
    return nullptr;
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
  ASSERT_EQ(StartNginx("nginx-stapler", nginx_port_, dir_ + "/published/api.ocsp"), 0);
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
  std::string am_url;
  auto am = StartAlertmanager("alertmanager", &am_url);
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

  auto alert = [&] { return ActiveAlert(am_url, "paged"); };
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

namespace ose::testing {
namespace {

// The common head of the hardening tests' configs: a fast engine.
std::string Engine(const std::string& store, const std::string& extra = "") {
  return "[stapler]\nstore_dir = \"" + store + "\"\nmin_refresh = \"1s\"\nmax_refresh = \"2s\"\n"
         "reload_min_interval = \"1s\"\nfailure_backoff = \"1s\"\n" + extra + "\n";
}

std::string Cert(const std::string& name, const std::string& body) {
  return "[[stapler.certificate]]\nname = \"" + name + "\"\n" + body + "\n";
}

// Issue 24: `revocation = "crl"` on a stapler certificate. The lab's
// deltarevoked leaf is listed only in the issuing CA's delta CRL; the lab's
// OCSP responder (reading the base index) still answers good. With the CRL
// checked the engine reads revoked, staples nothing good and fails closed
// in `always` mode (the leaf is not Must-Staple), as for an OCSP
// revocation; OCSP alone staples good.
TEST_F(StaplerTest, ACrlRevocationFailsTheEngineClosed) {
  const std::string responder = "url = \"http://127.0.0.1:" + std::to_string(base_) + "\"\n";
  std::string config = dir_ + "/crl.toml";
  std::ofstream(config) << Engine("store-crl")
                        << Cert("listed", "cert_file = \"pki/deltarevoked-chain.pem\"\n"
                                          "mode = \"always\"\nrevocation = \"crl\"\n" + responder +
                                          "output_file = \"published/listed.ocsp\"")
                        << Cert("ocsp-only", "cert_file = \"pki/deltarevoked-chain.pem\"\n"
                                             "mode = \"always\"\n" + responder +
                                             "output_file = \"published/ocsp-only.ocsp\"");
  StartExporter(config);
  ASSERT_TRUE(WaitMetric("ocsp_stapler_fatal{certificate=\"listed\"}", 1, 20)) << Log();
  auto m = Metrics();
  EXPECT_EQ(m["ocsp_stapler_crl_status{certificate=\"listed\",status=\"revoked\"}"], 1);
  EXPECT_EQ(m["ocsp_stapler_serving{certificate=\"listed\"}"], 0);
  // Only the tryLater placeholder, never the good answer the CRL contradicts.
  const std::string listed = Describe(dir_ + "/published/listed.ocsp");
  EXPECT_EQ(listed.find("Cert Status: good"), std::string::npos) << listed;
  EXPECT_NE(listed.find("trylater"), std::string::npos) << listed;
  ASSERT_TRUE(WaitMetric("ocsp_stapler_serving{certificate=\"ocsp-only\"}", 1, 20)) << Log();
  m = Metrics();
  EXPECT_EQ(m["ocsp_stapler_fatal{certificate=\"ocsp-only\"}"], 0);
  EXPECT_EQ(m.count("ocsp_stapler_crl_status{certificate=\"ocsp-only\",status=\"revoked\"}"), 0u);
  EXPECT_NE(Describe(dir_ + "/published/ocsp-only.ocsp").find("Cert Status: good"),
            std::string::npos);
  StopExporter();
}

// #8.1: an adversary on the plain-HTTP OCSP path replays the
// pre-revocation good response (still within its nextUpdate). It must not
// clear fatal, reach nginx or HAProxy, or resolve the Alertmanager alert;
// nor after a restart.
TEST_F(StaplerTest, ReplayedGoodAfterRevocationChangesNothing) {
  StopExporter();
  std::string am_url;
  auto am = StartAlertmanager("am-replay", &am_url);
  FakeResponder fake("http://127.0.0.1:1");
  auto good = Sign("good", 'V', 600);
  auto revoked = Sign("good", 'R', 600);
  fake.SetCanned("replay", Str(good));
  std::string config = dir_ + "/replay.toml";
  int port = FreePort();
  std::ofstream(config) << "[alertmanager]\nurl = \"" << am_url << "\"\nresend_interval = \"1s\"\n"
                        << Engine("store-replay")
                        << Cert("replay", "cert_file = \"pki/good-chain.pem\"\nmode = \"must\"\n"
                                          "url = \"" + fake.Url("/canned/replay") + "\"\n"
                                          "output_file = \"published/replay.ocsp\"\n"
                                          "haproxy_socket = \"haproxy.sock\"\n"
                                          "reload_command = \"" + Nginx("nginx-replay") +
                                          " -s reload\"");
  const std::string m = "{certificate=\"replay\"";
  const std::string file = dir_ + "/published/replay.ocsp";
  StartExporter(config);
  ASSERT_TRUE(WaitMetric("ocsp_stapler_serving" + m + "}", 1)) << Log();
  std::string out;
  ASSERT_EQ(StartNginx("nginx-replay", port, file, &out), 0) << out;
  EXPECT_TRUE(WaitFor([&] { return Handshake(port).find("Cert Status: good") != std::string::npos; },
                      seconds(10)));

  fake.SetCanned("replay", Str(revoked));
  ASSERT_TRUE(WaitMetric("ocsp_stapler_fatal" + m + "}", 1)) << Log();
  EXPECT_TRUE(WaitFor([&] { return !ActiveAlert(am_url, "replay").is_null(); }, seconds(15)));
  EXPECT_TRUE(WaitFor([&] { return Handshake(port).find("Cert Status: revoked") != std::string::npos; },
                      seconds(15)));
  EXPECT_TRUE(WaitFor([&] {
    return Handshake(haproxy_port_).find("Cert Status: revoked") != std::string::npos;
  }, seconds(15)));

  // The replay: several fetches get the old good answer.
  fake.SetCanned("replay", Str(good));
  int hits = fake.CannedHits("replay");
  ASSERT_TRUE(WaitFor([&] { return fake.CannedHits("replay") >= hits + 2; }, seconds(20)));
  ASSERT_TRUE(WaitFor([&] {
    return Metrics()["ocsp_stapler_refresh_total" + m + ",result=\"stale\"}"] >= 2;
  }, seconds(10)));
  auto mm = Metrics();
  EXPECT_EQ(mm["ocsp_stapler_fatal" + m + "}"], 1);
  EXPECT_EQ(mm["ocsp_stapler_status" + m + ",status=\"revoked\"}"], 1);
  EXPECT_EQ(mm["ocsp_stapler_refresh_total" + m + ",result=\"good\"}"], 1);
  EXPECT_NE(Describe(file).find("Cert Status: revoked"), std::string::npos);
  EXPECT_NE(Log().find("revocation is permanent"), std::string::npos) << Log();
  EXPECT_EQ(Log().find("stapler no longer fatal"), std::string::npos);
  EXPECT_NE(Handshake(port).find("Cert Status: revoked"), std::string::npos);
  EXPECT_NE(Handshake(haproxy_port_).find("Cert Status: revoked"), std::string::npos);
  EXPECT_EQ(ActiveAlert(am_url, "replay")["status"]["state"], "active");

  // After a restart, store_dir's revocation wins over the replayed good.
  StartExporter(config);
  ASSERT_TRUE(WaitFor([&] {
    return Metrics()["ocsp_stapler_refresh_total" + m + ",result=\"stale\"}"] >= 1;
  }, seconds(20))) << Log();
  mm = Metrics();
  EXPECT_EQ(mm["ocsp_stapler_fatal" + m + "}"], 1);
  EXPECT_EQ(mm["ocsp_stapler_status" + m + ",status=\"revoked\"}"], 1);
  EXPECT_NE(Describe(file).find("Cert Status: revoked"), std::string::npos);
  StopExporter();
}

// #8.6: a withdrawal leaves nginx and HAProxy startable and presents
// nothing expired as fresh. The staple's validity ends during the test
// (signed 25 s ahead with nextUpdate 5 min later: withdrawn ~25 s from now).
TEST_F(StaplerTest, WithdrawalKeepsNginxAndHaproxyStartable) {
  StopExporter();
  FakeResponder fake("http://127.0.0.1:1");
  fake.SetCanned("short", Str(Sign("good", 'V', 5, "+25s")));
  const std::string nginx_file = dir_ + "/published/wd.ocsp";
  const std::string hp = dir_ + "/hp2";
  fs::create_directories(hp);
  RunCommand("cat " + pki_ + "/good.pem " + pki_ + "/good.key " + pki_ + "/ca.pem > " + hp +
             "/site.pem");
  std::string config = dir_ + "/withdraw.toml";
  std::string url = "url = \"" + fake.Url("/canned/short") + "\"\n";
  std::ofstream(config) << Engine("store-wd")
                        << Cert("wd-nginx", "cert_file = \"pki/good-chain.pem\"\nmode = \"must\"\n" +
                                                url + "output_file = \"published/wd.ocsp\"\n"
                                                "reload_command = \"" + Nginx("nginx-wd") +
                                                " -s reload\"")
                        << Cert("wd-haproxy", "cert_file = \"pki/good-chain.pem\"\nmode = \"must\"\n" +
                                                  url + "output_file = \"hp2/site.pem.ocsp\"\n"
                                                  "haproxy_socket = \"hp2/admin.sock\"");
  StartExporter(config);
  ASSERT_TRUE(WaitMetric("ocsp_stapler_serving{certificate=\"wd-nginx\"}", 1, 15)) << Log();
  int nginx_port = FreePort(), hp_port = FreePort();
  std::string out;
  ASSERT_EQ(StartNginx("nginx-wd", nginx_port, nginx_file, &out), 0) << out;
  std::ofstream(hp + "/haproxy.cfg")
      << "global\n  stats socket " << hp << "/admin.sock level admin\n"
      << "defaults\n  mode http\n  timeout connect 5s\n  timeout client 5s\n"
      << "  timeout server 5s\nfrontend fe\n  bind 127.0.0.1:" << hp_port << " ssl crt " << hp
      << "/site.pem\n  http-request return status 200 content-type text/plain string ok\n";
  auto haproxy = std::make_unique<Process>(
      std::vector<std::string>{"/usr/sbin/haproxy", "-db", "-f", hp + "/haproxy.cfg"},
      hp + "/haproxy-1.log");
  ASSERT_TRUE(WaitFor([&] { return fs::exists(hp + "/admin.sock"); }, seconds(10)));
  // While valid, both serve it.
  EXPECT_NE(Handshake(nginx_port).find("Cert Status: good"), std::string::npos);
  EXPECT_NE(Handshake(hp_port).find("Cert Status: good"), std::string::npos);

  // The validity ends: both are withdrawn.
  ASSERT_TRUE(WaitMetric("ocsp_stapler_serving{certificate=\"wd-nginx\"}", 0, 40)) << Log();
  ASSERT_TRUE(WaitMetric("ocsp_stapler_serving{certificate=\"wd-haproxy\"}", 0, 5)) << Log();
  auto mm = Metrics();
  EXPECT_EQ(mm["ocsp_stapler_published_expired{certificate=\"wd-nginx\"}"], 0);
  EXPECT_EQ(mm["ocsp_stapler_fatal{certificate=\"wd-nginx\"}"], 1);
  // The tryLater OCSPResponse the engine leaves after a withdrawal.
  const std::string trylater("\x30\x03\x0a\x01\x03", 5);
  EXPECT_TRUE(WaitFor([&] { return ReadFile(nginx_file) == trylater; }, seconds(5)));
  EXPECT_EQ(ReadFile(hp + "/site.pem.ocsp"), trylater);
  // nginx: config test, reload and a cold start all succeed, and clients
  // get "try later", never the expired good response.
  EXPECT_EQ(RunCommand(Nginx("nginx-wd") + " -t", &out), 0) << out;
  EXPECT_EQ(RunCommand(Nginx("nginx-wd") + " -s reload", &out), 0) << out;
  EXPECT_TRUE(WaitFor([&] {
    std::string h = Handshake(nginx_port);
    return h.find("trylater") != std::string::npos && h.find("Cert Status") == std::string::npos;
  }, seconds(10))) << Handshake(nginx_port);
  RunCommand(Nginx("nginx-wd") + " -s stop");
  ASSERT_TRUE(WaitFor([&] { return !fs::exists(dir_ + "/nginx-wd/nginx.pid"); }, seconds(10)));
  EXPECT_EQ(StartNginx("nginx-wd", nginx_port, nginx_file, &out), 0) << out;
  EXPECT_TRUE(WaitFor([&] { return Handshake(nginx_port).find("trylater") != std::string::npos; },
                      seconds(10)));
  // HAProxy stops stapling by itself, by its own clock, 300 s before
  // nextUpdate (the engine's withdrawal point, give or take a second), and
  // restarts with the placeholder beside its certificate.
  EXPECT_TRUE(WaitFor([&] {
    return Handshake(hp_port).find("Cert Status") == std::string::npos;
  }, seconds(10))) << Handshake(hp_port);
  haproxy.reset();
  haproxy = std::make_unique<Process>(
      std::vector<std::string>{"/usr/sbin/haproxy", "-db", "-f", hp + "/haproxy.cfg"},
      hp + "/haproxy-2.log");
  EXPECT_TRUE(WaitFor([&] { return Handshake(hp_port).find("no response sent") != std::string::npos; },
                      seconds(10))) << ReadFile(hp + "/haproxy-2.log");
  EXPECT_TRUE(haproxy->Running());
  StopExporter();
}

// #8.4 and #8.8: a foreign staple left on a full file system is reported
// (published_expired), write and persist failures are counted and retried,
// `serving` tells what nginx would read; then a read-only file system.
TEST_F(StaplerTest, FullAndReadOnlyFileSystems) {
  StopExporter();
  const std::string fsdir = dir_ + "/smallfs";
  fs::create_directories(fsdir);
  std::string out;
  ASSERT_EQ(RunCommand("mount -t tmpfs -o size=64k ose-test " + fsdir, &out), 0)
      << "this test needs root and a mountable tmpfs: " << out;
  struct Unmount {
    std::string d;
    ~Unmount() { RunCommand("umount " + d); }
  } unmount{fsdir};
  fs::create_directories(fsdir + "/store");
  // Another certificate's staple is what nginx would read now.
  fs::copy_file(pki_ + "/expired.ocsp.der", fsdir + "/out.ocsp");
  RunCommand("dd if=/dev/zero of=" + fsdir + "/filler bs=1k count=200 2>/dev/null");
  FakeResponder fake("http://127.0.0.1:1");
  fake.SetCanned("disk", Str(Sign("good", 'V', 600)));
  std::string config = dir_ + "/disk.toml";
  std::ofstream(config) << Engine("smallfs/store")
                        << Cert("disk", "cert_file = \"pki/good-chain.pem\"\nmode = \"must\"\n"
                                        "url = \"" + fake.Url("/canned/disk") + "\"\n"
                                        "output_file = \"smallfs/out.ocsp\"");
  const std::string m = "{certificate=\"disk\"";
  StartExporter(config);
  ASSERT_TRUE(WaitFor([&] {
    auto x = Metrics();
    return x["ocsp_stapler_publish_errors_total" + m + ",stage=\"write\"}"] >= 2 &&
           x["ocsp_stapler_publish_errors_total" + m + ",stage=\"persist\"}"] >= 1;
  }, seconds(20))) << Log();
  auto mm = Metrics();
  EXPECT_EQ(mm["ocsp_stapler_serving" + m + "}"], 0);
  EXPECT_EQ(mm["ocsp_stapler_published_expired" + m + "}"], 1);
  EXPECT_EQ(mm["ocsp_stapler_publish_failing" + m + "}"], 1);
  EXPECT_EQ(mm["ocsp_stapler_status" + m + ",status=\"good\"}"], 1);
  EXPECT_NE(Log().find("No space left on device"), std::string::npos) << Log();
  EXPECT_NE(Log().find("output_file holds no staple the engine can keep"), std::string::npos);
  // Space comes back: the retry publishes and persists.
  fs::remove(fsdir + "/filler");
  ASSERT_TRUE(WaitMetric("ocsp_stapler_serving" + m + "}", 1, 20)) << Log();
  EXPECT_EQ(Metrics()["ocsp_stapler_published_expired" + m + "}"], 0);
  EXPECT_TRUE(WaitMetric("ocsp_stapler_publish_failing" + m + "}", 0, 20)) << Log();
  EXPECT_NE(Describe(fsdir + "/out.ocsp").find("Cert Status: good"), std::string::npos);
  EXPECT_TRUE(WaitFor([&] { return !fs::is_empty(fsdir + "/store"); }, seconds(10)));

  // Read-only: a revocation cannot be published; serving says so.
  ASSERT_EQ(RunCommand("mount -o remount,ro " + fsdir, &out), 0) << out;
  double errors = Metrics()["ocsp_stapler_publish_errors_total" + m + ",stage=\"write\"}"];
  fake.SetCanned("disk", Str(Sign("good", 'R', 600)));
  ASSERT_TRUE(WaitFor([&] {
    auto x = Metrics();
    return x["ocsp_stapler_status" + m + ",status=\"revoked\"}"] == 1 &&
           x["ocsp_stapler_publish_errors_total" + m + ",stage=\"write\"}"] > errors;
  }, seconds(20))) << Log();
  EXPECT_EQ(Metrics()["ocsp_stapler_serving" + m + "}"], 0);
  EXPECT_NE(Log().find("Read-only file system"), std::string::npos);
  ASSERT_EQ(RunCommand("mount -o remount,rw " + fsdir, &out), 0) << out;
  ASSERT_TRUE(WaitMetric("ocsp_stapler_serving" + m + "}", 1, 20)) << Log();
  EXPECT_NE(Describe(fsdir + "/out.ocsp").find("Cert Status: revoked"), std::string::npos);
  StopExporter();
}

// #8.5: a renewed cert_file (by rename, then in place) is noticed without
// SIGHUP; the published staple always names the certificate on disk.
TEST_F(StaplerTest, CertificateRotationWithoutSighup) {
  StopExporter();
  const std::string rot = dir_ + "/rot";
  fs::create_directories(rot);
  fs::copy_file(pki_ + "/nostaple-chain.pem", rot + "/cert.pem",
                fs::copy_options::overwrite_existing);
  fs::copy_file(pki_ + "/nostaple-chain.pem", rot + "/responder.pem",
                fs::copy_options::overwrite_existing);
  fs::copy_file(pki_ + "/good-chain.pem", rot + "/file.pem", fs::copy_options::overwrite_existing);
  std::string config = dir_ + "/rot.toml";
  // [[responder]] and [[file]] targets follow their cert_file too.
  std::ofstream(config) << "[global]\ninterval = \"1s\"\n"
                        << "[[responder]]\nname = \"rot-r\"\ncert_file = \"rot/responder.pem\"\n"
                        << "[[file]]\nname = \"rot-f\"\npath = \"staples/good.ocsp\"\n"
                        << "cert_file = \"rot/file.pem\"\n"
                        << Engine("store-rot")
                        << Cert("rot", "cert_file = \"rot/cert.pem\"\nmode = \"always\"\n"
                                       "output_file = \"rot/rot.ocsp\"");
  auto serial = [&] {
    std::string d = Describe(rot + "/rot.ocsp");
    std::smatch match;
    return std::regex_search(d, match, std::regex("Serial Number: ([0-9A-F]+)")) ? match[1].str()
                                                                                  : "";
  };
  StartExporter(config);
  ASSERT_TRUE(WaitFor([&] { return serial() == "1003"; }, seconds(20))) << Log();
  // certbot style: a new file renamed over the old one.
  fs::copy_file(pki_ + "/missing-chain.pem", rot + "/cert.pem.new");
  fs::rename(rot + "/cert.pem.new", rot + "/cert.pem");
  EXPECT_TRUE(WaitFor([&] { return serial() == "1005"; }, seconds(15))) << Log();
  EXPECT_NE(Log().find("certificate renewed on disk"), std::string::npos);
  EXPECT_EQ(Metrics()["ocsp_stapler_serving{certificate=\"rot\"}"], 1);
  // In place, as cp does.
  RunCommand("cat " + pki_ + "/nostaple-chain.pem > " + rot + "/cert.pem");
  EXPECT_TRUE(WaitFor([&] { return serial() == "1003"; }, seconds(15))) << Log();

  // The responder target now asks about a revoked certificate; the staple
  // file no longer matches its (renewed) certificate.
  EXPECT_TRUE(WaitMetric("ocsp_response_status{target=\"rot-r\",status=\"good\"}", 1, 10));
  EXPECT_TRUE(WaitMetric("ocsp_response_status{target=\"rot-f\",status=\"good\"}", 1, 10));
  RunCommand("cat " + pki_ + "/revoked-chain.pem > " + rot + "/responder.pem");
  RunCommand("cat " + pki_ + "/nostaple-chain.pem > " + rot + "/file.pem");
  EXPECT_TRUE(WaitMetric("ocsp_response_status{target=\"rot-r\",status=\"revoked\"}", 1, 15))
      << Log();
  EXPECT_TRUE(WaitMetric("ocsp_response_status{target=\"rot-f\",status=\"invalid\"}", 1, 15))
      << Log();
  EXPECT_NE(Log().find("msg=\"certificate renewed on disk\" target=rot-r"), std::string::npos);
  StopExporter();
}

// #8.7: a reload that changes output_file or haproxy_socket publishes the
// held staple there at once (no fetch is due for an hour); a certificate
// dropped by a reload stops being managed and its file is left alone.
TEST_F(StaplerTest, ReloadMovesOutputsAtOnce) {
  StopExporter();
  FakeResponder fake("http://127.0.0.1:1");
  fake.SetCanned("move", Str(Sign("good", 'V', 600)));
  std::string config = dir_ + "/move.toml";
  auto write = [&](const std::string& outputs, bool with_dropped) {
    std::ofstream(config)
        << "[stapler]\nstore_dir = \"store-move\"\nmin_refresh = \"1h\"\nmax_refresh = \"1h\"\n"
        << Cert("move", "cert_file = \"pki/good-chain.pem\"\nmode = \"must\"\nurl = \"" +
                            fake.Url("/canned/move") + "\"\n" + outputs)
        << (with_dropped ? Cert("dropped", "cert_file = \"pki/good-chain.pem\"\nmode = \"must\"\n"
                                           "url = \"" + fake.Url("/canned/move") + "\"\n"
                                           "output_file = \"published/dropped.ocsp\"")
                         : "");
  };
  write("output_file = \"published/move-a.ocsp\"", true);
  StartExporter(config);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(dir_ + "/published/move-a.ocsp") &&
                                   fs::exists(dir_ + "/published/dropped.ocsp"); },
                      seconds(15))) << Log();
  ASSERT_TRUE(WaitMetric("ocsp_stapler_serving{certificate=\"move\"}", 1, 10));
  int hits = fake.CannedHits("move");
  write("output_file = \"published/move-b.ocsp\"\nhaproxy_socket = \"haproxy.sock\"", false);
  ASSERT_EQ(HttpPost(Url() + "/-/reload").status, 200) << Log();
  EXPECT_TRUE(WaitFor([&] { return fs::exists(dir_ + "/published/move-b.ocsp"); }, seconds(3)))
      << Log();
  EXPECT_NE(Describe(dir_ + "/published/move-b.ocsp").find("Cert Status: good"),
            std::string::npos);
  EXPECT_TRUE(WaitLog("msg=\"staple pushed to HAProxy\" certificate=move", 5)) << Log();
  EXPECT_EQ(fake.CannedHits("move"), hits);  // published from what was held
  EXPECT_TRUE(WaitLog("msg=\"certificate no longer managed; its output_file is left as it is\" "
                      "certificate=dropped", 5));
  EXPECT_NE(Describe(dir_ + "/published/dropped.ocsp").find("Cert Status: good"),
            std::string::npos);
  StopExporter();
}

// Issue 20 point 10: when a certificate stops being stapled (a renewal
// without Must-Staple under auto, or a reload to never), its output_file
// gets the tryLater placeholder, so no server keeps the old staple, and
// published_expired says 0 (nothing stale is left out there).
TEST_F(StaplerTest, StoppingStaplingLeavesThePlaceholder) {
  StopExporter();
  FakeResponder fake("http://127.0.0.1:1");
  fake.SetCanned("stop", Str(Sign("good", 'V', 600)));
  const std::string dir = dir_ + "/stop";
  fs::create_directories(dir);
  fs::copy_file(pki_ + "/good-chain.pem", dir + "/cert.pem", fs::copy_options::overwrite_existing);
  const std::string out = dir + "/stop.ocsp", config = dir_ + "/stop.toml";
  auto write = [&](const std::string& mode) {
    std::ofstream(config) << Engine("store-stop")
                          << Cert("stop", "cert_file = \"stop/cert.pem\"\nmode = \"" + mode +
                                              "\"\nurl = \"" + fake.Url("/canned/stop") +
                                              "\"\noutput_file = \"stop/stop.ocsp\"");
  };
  auto holds = [&](const std::string& text) {
    return WaitFor([&] { return Describe(out).find(text) != std::string::npos; }, seconds(15));
  };
  write("auto");
  StartExporter(config);
  ASSERT_TRUE(holds("Cert Status: good")) << Log();
  // Renewed without Must-Staple: auto no longer staples it.
  fs::copy_file(pki_ + "/nostaple-chain.pem", dir + "/cert.pem.new");
  fs::rename(dir + "/cert.pem.new", dir + "/cert.pem");
  EXPECT_TRUE(holds("trylater")) << Describe(out) << Log();
  EXPECT_TRUE(WaitMetric("ocsp_stapler_serving{certificate=\"stop\"}", 0, 5));
  EXPECT_EQ(Metrics()["ocsp_stapler_published_expired{certificate=\"stop\"}"], 0);
  // Must-Staple again, stapled again; then a reload sets never.
  RunCommand("cat " + pki_ + "/good-chain.pem > " + dir + "/cert.pem");
  ASSERT_TRUE(holds("Cert Status: good")) << Describe(out) << Log();
  write("never");
  ASSERT_EQ(HttpPost(Url() + "/-/reload").status, 200) << Log();
  EXPECT_TRUE(holds("trylater")) << Describe(out) << Log();
  EXPECT_EQ(Metrics()["ocsp_stapler_published_expired{certificate=\"stop\"}"], 0);
  EXPECT_EQ(Log().find("certificate no longer managed"), std::string::npos)
      << "a mode change replaces the certificate's engine; it is still managed";
  StopExporter();
}

// Issue 20 point 4: CRL lookups never run on the engine's fetch threads.
// Thirty targets whose CRL distribution point accepts and never answers
// hold every lookup thread for 20 s; the engine keeps refreshing.
TEST_F(StaplerTest, HungCrlDistributionPointDoesNotDelayStapling) {
  StopExporter();
  SilentServer hang;
  const std::string dir = dir_ + "/hang";
  fs::create_directories(dir);
  std::string out;
  ASSERT_EQ(RunCommand("cd " + dir + " && set -e; openssl req -newkey ec -pkeyopt "
                       "ec_paramgen_curve:P-256 -nodes -keyout hang.key -out hang.csr "
                       "-subj /CN=hang.lab.test 2>&1; printf 'crlDistributionPoints=URI:http://"
                       "127.0.0.1:" + std::to_string(hang.port()) + "/hang.crl\\n' > hang.ext; "
                       "openssl x509 -req -in hang.csr -CA " + pki_ + "/ca.pem -CAkey " + pki_ +
                       "/ca.key -set_serial 0x4242 -days 2 -extfile hang.ext -out hang.pem "
                       "2>&1; cat hang.pem " + pki_ + "/ca.pem > hang-chain.pem",
                       &out),
            0)
      << out;
  FakeResponder fake("http://127.0.0.1:1");
  fake.SetCanned("iso", Str(Sign("good", 'V', 600)));
  std::string config = "[global]\ninterval = \"1s\"\ntimeout = \"20s\"\n";
  for (int i = 0; i < 30; ++i) {
    // ([[file]] targets: no per-host limit holds their lookups back)
    config += "[[file]]\nname = \"hang-" + std::to_string(i) +
              "\"\npath = \"staples/good.ocsp\"\ncert_file = \"hang/hang-chain.pem\"\n"
              "revocation = \"crl\"\n";
  }
  config += Engine("store-iso") + Cert("iso", "cert_file = \"pki/good-chain.pem\"\nmode = "
                                              "\"always\"\nurl = \"" + fake.Url("/canned/iso") +
                                              "\"");
  std::ofstream(dir_ + "/hang.toml") << config;
  StartExporter(dir_ + "/hang.toml");
  const std::string good = "ocsp_stapler_refresh_total{certificate=\"iso\",result=\"good\"}";
  ASSERT_TRUE(WaitMetric("ocsp_stapler_serving{certificate=\"iso\"}", 1, 10)) << Log();
  // First probes are spread over 5 s: by 6 s every lookup thread waits on
  // the hung fetch (20 s timeout).
  std::this_thread::sleep_for(seconds(6));
  const double first = Metrics()[good];
  // min_refresh 1 s, max_refresh 2 s: several refreshes in 8 s.
  std::this_thread::sleep_for(seconds(8));
  auto m = Metrics();
  EXPECT_GE(m[good] - first, 3) << Log();
  EXPECT_EQ(m.count("ocsp_probe_success{target=\"hang-0\"}"), 0u)
      << "the lookups are still hanging: no result yet";
  StopExporter();
}

// #8.10: commands inherit no descriptor, run with default signal
// dispositions, and are killed after command_timeout.
TEST_F(StaplerTest, CommandsAreIsolatedAndBounded) {
  StopExporter();
  FakeResponder fake("http://127.0.0.1:1");
  fake.SetCanned("cmd", Str(Sign("good", 'V', 600)));
  std::string config = dir_ + "/cmd.toml";
  std::string probe = dir_ + "/cmd-probe";
  std::ofstream(config) << Engine("store-cmd", "command_timeout = \"2s\"")
                        << Cert("cmd", "cert_file = \"pki/good-chain.pem\"\nmode = \"must\"\n"
                                       "url = \"" + fake.Url("/canned/cmd") + "\"\n"
                                       "output_file = \"published/cmd.ocsp\"\n"
                                       "reload_command = \"grep -E '^Sig(Blk|Ign)' /proc/self/status > " +
                                       probe + ".sig; ls /proc/$$/fd > " + probe +
                                       ".fds; exec sleep 61\"");
  StartExporter(config);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(probe + ".fds") &&
                                   !ReadFile(probe + ".fds").empty(); }, seconds(20))) << Log();
  // The shell's own descriptors: stdin, stdout, stderr, and the one dash
  // uses to save stdout around a redirection (10). The exporter's listening
  // socket, responder connections and files would show here.
  std::string fds = ReadFile(probe + ".fds");
  EXPECT_TRUE(fds == "0\n1\n2\n" || fds == "0\n1\n10\n2\n") << fds;
  // What the command's programs inherit (grep reads its own status: the
  // shell itself blocks signals for moments while it forks): nothing
  // blocked or ignored (the exporter itself ignores SIGPIPE), but for
  // glibc's two internal real-time signals (32, 33), which posix_spawn sets
  // to SIG_IGN itself.
  std::smatch sig;
  std::string sigs = ReadFile(probe + ".sig");
  ASSERT_TRUE(std::regex_search(sigs, sig,
                                std::regex("SigBlk:\t([0-9a-f]+)\nSigIgn:\t([0-9a-f]+)")))
      << sigs;
  EXPECT_EQ(std::stoull(sig[1].str(), nullptr, 16), 0u) << sigs;
  EXPECT_EQ(std::stoull(sig[2].str(), nullptr, 16) & ~0x180000000ull, 0u) << sigs;
  EXPECT_TRUE(WaitLog("msg=\"reload_command failed\" certificate=cmd exit_code=137", 15)) << Log();
  EXPECT_GE(Metrics()["ocsp_stapler_publish_errors_total{certificate=\"cmd\",stage=\"reload\"}"], 1);
  std::string out;
  EXPECT_NE(RunCommand("pgrep -f '[s]leep 61'", &out), 0) << out;  // the group was killed
  StopExporter();
}

// #8.11 and #8.12: a Content-Type of "\xff" on a `must` certificate with
// Alertmanager set (black-holed: it accepts and never answers) neither
// crashes nor stalls the exporter, and another certificate's HAProxy push
// is not delayed by the hung Alertmanager.
TEST_F(StaplerTest, HostileContentTypeAndBlackholedAlertmanager) {
  StopExporter();
  SilentServer am;
  FakeResponder fake("http://127.0.0.1:1");
  fake.SetCanned("hostile", "\x30\x03\x0a\x01\x03", "\xff\xfe\x01");
  const auto good = Str(Sign("good", 'V', 600));  // for "pushed", once the alert hangs
  std::string config = dir_ + "/hostile.toml";
  std::ofstream(config) << "[alertmanager]\nurl = \"http://127.0.0.1:" << am.port()
                        << "\"\ntimeout = \"30s\"\nresend_interval = \"1s\"\n"
                        << Engine("store-hostile")
                        << Cert("hostile", "cert_file = \"pki/good-chain.pem\"\n"
                                "mode = \"must\"\nurl = \"" + fake.Url("/canned/hostile") + "\"")
                        << Cert("pushed", "cert_file = \"pki/good-chain.pem\"\nmode = \"must\"\n"
                                "url = \"" + fake.Url("/canned/pushed") + "\"\n"
                                "haproxy_socket = \"haproxy.sock\"");
  StartExporter(config);
  ASSERT_TRUE(WaitMetric("ocsp_stapler_fatal{certificate=\"hostile\"}", 1, 15)) << Log();
  // The alert push to the black hole is now in flight; HAProxy is fed anyway.
  fake.SetCanned("pushed", good);
  EXPECT_TRUE(WaitLog("msg=\"staple pushed to HAProxy\" certificate=pushed", 10)) << Log();
  auto api = HttpGet(Url() + "/api/v1/stapler");
  ASSERT_EQ(api.status, 200);
  auto j = nlohmann::json::parse(api.body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << api.body;
  bool replaced = false;
  for (const auto& c : j) {
    replaced = replaced || c.value("last_error", "").find("\xef\xbf\xbd") != std::string::npos;
  }
  EXPECT_TRUE(replaced) << api.body;
  EXPECT_EQ(HttpGet(Url() + "/").status, 200);
  EXPECT_EQ(HttpGet(Url() + "/metrics").status, 200);
  EXPECT_NE(Log().find("\xef\xbf\xbd"), std::string::npos);  // U+FFFD
  EXPECT_EQ(Log().find('\xff'), std::string::npos);
  EXPECT_TRUE(exporter_->Running());
  StopExporter();
}

// #8.11: while Alertmanager is slow, re-sends are coalesced (at most one in
// flight per certificate, only the latest waiting), so no backlog floods it
// when it recovers.
TEST_F(StaplerTest, AlertmanagerResendsAreCoalesced) {
  StopExporter();
  FakeResponder fake("http://127.0.0.1:1");
  fake.am_delay_ms_ = 3000;
  std::string config = dir_ + "/coalesce.toml";
  std::ofstream(config) << "[alertmanager]\nurl = \"" << fake.Url("/am") << "\"\n"
                        << "timeout = \"10s\"\nresend_interval = \"1s\"\n"
                        << Engine("store-coalesce")
                        << Cert("paged", "cert_file = \"pki/good-chain.pem\"\nmode = \"must\"\n"
                                         "url = \"" + fake.Url("/canned/none") + "\"");
  StartExporter(config);
  ASSERT_TRUE(WaitMetric("ocsp_stapler_fatal{certificate=\"paged\"}", 1, 15)) << Log();
  // Nine seconds of one-second re-sends against a 3 s Alertmanager...
  std::this_thread::sleep_for(seconds(9));
  fake.am_delay_ms_ = 0;
  // ...then it recovers: what arrives is the few sent plus one coalesced,
  // not the nine queued.
  std::this_thread::sleep_for(seconds(3));
  int hits = fake.am_hits_;
  EXPECT_GE(hits, 3);
  EXPECT_LE(hits, 8) << "re-sends were queued, not coalesced";
  EXPECT_TRUE(exporter_->Running());
  StopExporter();
}

}  // namespace
}  // namespace ose::testing
