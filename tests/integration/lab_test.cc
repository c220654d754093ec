// The exporter binary against the real lab of scripts/lab.sh: an `openssl
// ocsp` responder over an `openssl ca` index, nginx (stapling fetched from
// the responder, stapling from a file, no stapling), `openssl s_server
// -status_file` (expired staple, staple of another certificate, unknown),
// a port nothing listens on, and a server that accepts and never answers.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <thread>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <curl/curl.h>

#include <nlohmann/json.hpp>

#include "fake_responder.h"
#include "exporter_under_test.h"
#include "process.h"
#include "silent_server.h"

namespace ose::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;


class LabTest : public ::testing::Test {
 public:
  static std::string S(const std::string& metric, const std::string& target,
                       const std::string& extra = "") {
    return metric + "{target=\"" + target + "\"" + (extra.empty() ? "" : "," + extra) + "}";
  }

 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("ose-lab-" + std::to_string(::getpid()))).string();
    base_ = 20000 + (::getpid() % 200) * 40;  // the lab takes 32 ports
    std::string out;
    int rc = RunCommand("bash " + kLab + " up " + dir_ + " " + std::to_string(base_), &out);
    ASSERT_EQ(rc, 0) << out;

    // A server that accepts TCP and never speaks TLS.
    hang_ = new SilentServer();

    // A responder that misbehaves, and a proxy to the real one that records
    // what it forwards.
    fake_ = new FakeResponder("http://127.0.0.1:" + std::to_string(base_));

    config_ = dir_ + "/test.toml";
    std::string lab_config = ReadFile(dir_ + "/exporter.toml");
    std::string extra = "\n[[tls]]\nname = \"hangs\"\naddress = \"127.0.0.1:" +
                        std::to_string(hang_->port()) + "\"\ntimeout = \"1s\"\n";
    auto responder = [&](const std::string& name, const std::string& path,
                         const std::string& more) {
      extra += "\n[[responder]]\nname = \"" + name +
               "\"\ncert_file = \"pki/good-chain.pem\"\nurl = \"" + fake_->Url(path) + "\"\n" +
               more;
    };
    responder("fake-500", "/status500", "");
    responder("fake-wrong-type", "/wrong-type", "");
    responder("fake-oversized", "/oversized", "");
    responder("fake-garbage", "/garbage", "");
    responder("fake-hang", "/hang", "timeout = \"1s\"\n");
    responder("proxy-get", "/proxy", "method = \"get\"\n");
    extra += "\n[[responder]]\nname = \"proxy-post\"\ncert_file = \"pki/revoked-chain.pem\"\n"
             "url = \"" + fake_->Url("/proxy") + "\"\nmethod = \"post\"\n";
    WriteConfig(lab_config + extra);
    // Probe often so states settle quickly (nginx staples from its second
    // handshake on).
    std::string fast = ReadFile(config_);
    fast.replace(fast.find("interval = \"15s\""), 16, "interval = \"2s\"");
    WriteConfig(fast);

    log_ = dir_ + "/exporter.log";
    exporter_ = StartExporter(config_, log_, &port_);
    ASSERT_GT(port_, 0) << ReadFile(log_);
  }

  static void TearDownTestSuite() {
    delete exporter_;
    exporter_ = nullptr;
    delete hang_;
    hang_ = nullptr;
    delete fake_;
    fake_ = nullptr;
    RunCommand("bash " + kLab + " down " + dir_);
    if (::testing::UnitTest::GetInstance()->failed_test_count() == 0) fs::remove_all(dir_);
  }

  static void WriteConfig(const std::string& text) { std::ofstream(config_) << text; }

  static std::string Url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  // Scrapes until every expected series has its value (bounded), then
  // returns the last scrape.
  static std::map<std::string, double> ScrapeUntil(
      const std::vector<std::pair<std::string, double>>& expected) {
    std::map<std::string, double> series;
    WaitFor(
        [&] {
          series = ParseMetrics(HttpGet(Url("/metrics")).body);
          for (const auto& [k, v] : expected) {
            auto it = series.find(k);
            if (it == series.end() || it->second != v) return false;
          }
          return true;
        },
        seconds(60));
    return series;
  }

  static inline std::string dir_, config_, log_;
  static inline int base_ = 0, port_ = 0;
  static inline SilentServer* hang_ = nullptr;
  static inline FakeResponder* fake_ = nullptr;
  static inline Process* exporter_ = nullptr;
};

struct Want {
  std::string target;
  std::string status;          // the one state of the state set that is 1
  int success;                 // ocsp_probe_success
  int staple;                  // ocsp_staple_present; -1: no series
  int must_staple;             // ocsp_cert_must_staple; -1: no series
  bool times;                  // thisUpdate/nextUpdate/producedAt/margin series
  std::string extra_series;    // one more series that must be 1 ("" for none)
};

// Expectations of every series of a set of targets.
std::vector<std::pair<std::string, double>> Expected(const std::vector<Want>& wants) {
  std::vector<std::pair<std::string, double>> expected;
  for (const Want& w : wants) {
    expected.emplace_back(LabTest::S("ocsp_response_status", w.target,
                                     "status=\"" + w.status + "\""),
                          1);
    expected.emplace_back(LabTest::S("ocsp_probe_success", w.target), w.success);
    if (w.staple >= 0) expected.emplace_back(LabTest::S("ocsp_staple_present", w.target), w.staple);
    if (w.must_staple >= 0) {
      expected.emplace_back(LabTest::S("ocsp_cert_must_staple", w.target), w.must_staple);
    }
  }
  return expected;
}

void CheckWants(const std::vector<Want>& wants, std::map<std::string, double>& series) {
  using T = LabTest;
  const int64_t now = std::time(nullptr);
  for (const Want& w : wants) {
    SCOPED_TRACE(w.target);
    // The state set: all six series present, exactly the expected one is 1.
    for (const char* st : {"good", "revoked", "unknown", "absent", "invalid", "failed"}) {
      std::string key = T::S("ocsp_response_status", w.target, std::string("status=\"") + st + "\"");
      ASSERT_TRUE(series.count(key)) << key;
      EXPECT_EQ(series[key], st == w.status ? 1 : 0) << key;
    }
    EXPECT_EQ(series[T::S("ocsp_probe_success", w.target)], w.success);
    EXPECT_TRUE(series.count(T::S("ocsp_probe_duration_seconds", w.target)));
    if (w.staple >= 0) {
      EXPECT_EQ(series[T::S("ocsp_staple_present", w.target)], w.staple);
    } else {
      EXPECT_FALSE(series.count(T::S("ocsp_staple_present", w.target)));
    }
    if (w.must_staple >= 0) {
      EXPECT_EQ(series[T::S("ocsp_cert_must_staple", w.target)], w.must_staple);
      // Only nginx-good is given the lab's root as a trust anchor.
      if (w.target == "nginx-good" || w.target == "nginx-good-ipv6") {
        EXPECT_EQ(series[T::S("ocsp_tls_chain_verified", w.target)],
                  w.target == "nginx-good" ? 1 : 0);
        EXPECT_EQ(series[T::S("ocsp_tls_name_matched", w.target)], 1);
      }
      // Every lab leaf names the lab's OCSP responder and no CRL.
      EXPECT_EQ(series[T::S("ocsp_cert_ocsp_url_present", w.target)], 1);
      EXPECT_EQ(series[T::S("ocsp_cert_crl_url_present", w.target)], 0);
      // Lab leaves are valid for 30 days; s_server-wrong-cert's expired 30 days ago.
      double not_after = series[T::S("ocsp_cert_not_after_timestamp_seconds", w.target)];
      EXPECT_NEAR(not_after, now + (w.target == "s_server-wrong-cert" ? -30 : 30) * 86400,
                  2 * 86400);
    }
    for (const char* m : {"ocsp_response_this_update_timestamp_seconds",
                          "ocsp_response_next_update_timestamp_seconds",
                          "ocsp_response_produced_at_timestamp_seconds",
                          "ocsp_response_next_update_margin_seconds"}) {
      EXPECT_EQ(series.count(T::S(m, w.target)), w.times ? 1u : 0u) << m;
    }
    if (!w.extra_series.empty()) {
      ASSERT_TRUE(series.count(w.extra_series)) << w.extra_series;
      EXPECT_GE(series[w.extra_series], 1) << w.extra_series;
    }
    EXPECT_EQ(series.count(T::S("ocsp_response_revoked_at_timestamp_seconds", w.target)),
              w.status == "revoked" ? 1u : 0u);
  }
}

TEST_F(LabTest, EveryTargetHasItsExactState) {
  const std::vector<Want> wants = {
      {"nginx-good", "good", 1, 1, 1, true, ""},
      {"nginx-good-ipv6", "good", 1, 1, 1, true, ""},
      {"nginx-revoked", "revoked", 1, 1, 1, true,
       "ocsp_response_revocation_reason{target=\"nginx-revoked\",reason=\"key_compromise\"}"},
      {"nginx-no-staple", "absent", 1, 0, 0, false, ""},
      {"nginx-must-staple-missing", "absent", 1, 0, 1, false, ""},
      {"s_server-expired", "invalid", 1, 1, 1, true,
       "ocsp_response_invalid_reason{target=\"s_server-expired\",reason=\"expired\"}"},
      {"s_server-wrong-cert", "invalid", 1, 1, 0, false,
       "ocsp_response_invalid_reason{target=\"s_server-wrong-cert\",reason=\"cert_id_"
       "mismatch\"}"},
      {"s_server-unknown", "unknown", 1, 1, 0, true, ""},
      {"nothing-listens", "failed", 0, -1, -1, false,
       "ocsp_probe_failures_total{target=\"nothing-listens\",reason=\"connect\"}"},
      {"hangs", "failed", 0, -1, -1, false,
       "ocsp_probe_failures_total{target=\"hangs\",reason=\"timeout\"}"},
  };
  auto series = ScrapeUntil(Expected(wants));
  CheckWants(wants, series);
  const int64_t now = std::time(nullptr);

  // Freshness figures of the good staple nginx fetched (responder: -ndays 1).
  double margin = series[S("ocsp_response_next_update_margin_seconds", "nginx-good")];
  EXPECT_GT(margin, 23 * 3600);
  EXPECT_LE(margin, 24 * 3600 + 300);
  EXPECT_NEAR(series[S("ocsp_response_this_update_timestamp_seconds", "nginx-good")], now, 600);
  // The expired staple: nextUpdate two days ago, so a negative margin.
  EXPECT_LT(series[S("ocsp_response_next_update_margin_seconds", "s_server-expired")],
            -86400);
  // Revocation time is when the lab revoked it, i.e. minutes ago at most.
  EXPECT_NEAR(series[S("ocsp_response_revoked_at_timestamp_seconds", "nginx-revoked")], now,
              600);

  EXPECT_EQ(series["ocsp_staple_exporter_config_last_reload_successful"], 1);
  bool build_info = false;
  for (const auto& [k, v] : series) {
    if (k.rfind("ocsp_staple_exporter_build_info{version=\"", 0) == 0 &&
        k.find("openssl_version=\"OpenSSL 3.") != std::string::npos && v == 1) {
      build_info = true;
    }
  }
  EXPECT_TRUE(build_info);
}

// Servers beyond nginx and HAProxy, as fleets run them: mail over STARTTLS
// (Exim staples, Dovecot cannot), Go and Node.js services stapling what they
// are handed, lighttpd reading a staple file, Apache and Caddy fetching
// their own.
TEST_F(LabTest, MailAndApplicationServers) {
  const std::vector<Want> wants = {
      {"exim-good", "good", 1, 1, 1, true, ""},
      // Exim on GnuTLS will not load a revoked tls_ocsp_file: no TLS at all.
      {"exim-revoked-file", "failed", 0, -1, -1, false,
       S("ocsp_probe_failures_total", "exim-revoked-file", "reason=\"starttls_refused\"")},
      {"dovecot-imap", "absent", 1, 0, 0, false, ""},
      {"dovecot-pop3", "absent", 1, 0, 0, false, ""},
      {"go-good", "good", 1, 1, 1, true, ""},
      {"go-smtp-revoked", "revoked", 1, 1, 1, true,
       S("ocsp_response_revocation_reason", "go-smtp-revoked", "reason=\"key_compromise\"")},
      {"node-revoked", "revoked", 1, 1, 1, true,
       S("ocsp_response_revocation_reason", "node-revoked", "reason=\"key_compromise\"")},
      {"lighttpd-good", "good", 1, 1, 1, true, ""},
      // lighttpd does not serve an expired staple file: the Must-Staple
      // certificate goes out bare.
      {"lighttpd-expired-file", "absent", 1, 0, 1, false, ""},
      // Apache fetches in the handshake; with its responder down it staples a
      // tryLater of its own making: invalid, never good nor absent.
      {"apache-good", "good", 1, 1, 1, true, ""},
      {"apache-fake-try-later", "invalid", 1, 1, 0, false,
       S("ocsp_response_invalid_reason", "apache-fake-try-later", "reason=\"try_later\"")},
      {"caddy-good", "good", 1, 1, 1, true, ""},
  };
  auto series = ScrapeUntil(Expected(wants));
  CheckWants(wants, series);
  // A STARTTLS target's own failure reasons start at zero beside the others;
  // a plain TLS target has none.
  EXPECT_EQ(series.count(S("ocsp_probe_failures_total", "exim-good",
                           "reason=\"starttls_protocol\"")),
            1u);
  EXPECT_EQ(series.count(S("ocsp_probe_failures_total", "go-good",
                           "reason=\"starttls_refused\"")),
            0u);
  // The refusal names what the server said.
  const std::string page = HttpGet(Url("/")).body;
  EXPECT_NE(page.find("454 TLS currently unavailable"), std::string::npos);
}

TEST_F(LabTest, ResponderTargets) {
  const std::string reason = "ocsp_response_revocation_reason{target=\"responder-revoked\","
                             "reason=\"key_compromise\"}";
  const std::vector<Want> wants = {
      // AIA URL, auto method (GET: the request is short).
      {"responder-good", "good", 1, -1, 1, true, ""},
      {"responder-revoked", "revoked", 1, -1, 1, true, reason},
      // POST with a nonce, which the responder echoes.
      {"responder-unknown", "unknown", 1, -1, 0, true, ""},
      {"responder-second-url", "good", 1, -1, 0, true, ""},
      {"responder-unauthorised-signer", "invalid", 1, -1, 1, false,
       S("ocsp_response_invalid_reason", "responder-unauthorised-signer",
         "reason=\"unauthorized_signer\"")},
      {"responder-down", "failed", 0, -1, -1, false,
       S("ocsp_probe_failures_total", "responder-down", "reason=\"connect\"")},
      {"fake-500", "failed", 0, -1, -1, false,
       S("ocsp_probe_failures_total", "fake-500", "reason=\"http_status\"")},
      {"fake-wrong-type", "failed", 0, -1, -1, false,
       S("ocsp_probe_failures_total", "fake-wrong-type", "reason=\"content_type\"")},
      {"fake-oversized", "failed", 0, -1, -1, false,
       S("ocsp_probe_failures_total", "fake-oversized", "reason=\"body_too_large\"")},
      {"fake-garbage", "invalid", 1, -1, 1, false,
       S("ocsp_response_invalid_reason", "fake-garbage", "reason=\"malformed\"")},
      {"fake-hang", "failed", 0, -1, -1, false,
       S("ocsp_probe_failures_total", "fake-hang", "reason=\"timeout\"")},
      {"proxy-get", "good", 1, -1, 1, true, ""},
      {"proxy-post", "revoked", 1, -1, 1, true, ""},
  };
  auto series = ScrapeUntil(Expected(wants));
  CheckWants(wants, series);

  // HTTP outcome and latency.
  EXPECT_EQ(series[S("ocsp_responder_http_status_code", "fake-500", "method=\"GET\"")], 500);
  EXPECT_EQ(series[S("ocsp_responder_http_status_code", "responder-good", "method=\"GET\"")],
            200);
  EXPECT_EQ(series[S("ocsp_responder_http_status_code", "responder-unknown",
                     "method=\"POST\"")],
            200);
  EXPECT_GE(series[S("ocsp_responder_request_duration_seconds_count", "responder-good")], 1);
  EXPECT_GE(series[S("ocsp_responder_request_duration_seconds_bucket", "responder-good",
                     "le=\"+Inf\"")],
            1);
  EXPECT_EQ(series[S("ocsp_responder_cache_max_age_seconds", "proxy-get")], 3600);

  // GET and POST both reached the responder's side; once each answered with
  // max-age=3600, no further query comes although the interval is 2 s.
  auto methods = fake_->ProxiedMethods();
  std::this_thread::sleep_for(seconds(5));
  EXPECT_EQ(fake_->ProxiedMethods().size(), methods.size());
  EXPECT_LE(methods.size(), 4u);  // one each, plus a retry if the upstream was busy
  EXPECT_NE(std::find(methods.begin(), methods.end(), "GET"), methods.end());
  EXPECT_NE(std::find(methods.begin(), methods.end(), "POST"), methods.end());
  series = ParseMetrics(HttpGet(Url("/metrics")).body);
  EXPECT_GE(series[S("ocsp_probe_failures_total", "fake-500", "reason=\"http_status\"")], 2)
      << "targets without max-age keep their interval";
}

TEST_F(LabTest, FileTargets) {
  const std::vector<Want> wants = {
      {"file-good", "good", 1, -1, 1, true, ""},
      {"file-revoked", "revoked", 1, -1, 1, true, ""},
      {"file-revoked-expired", "revoked", 1, -1, 1, true, ""},
      {"file-expired", "invalid", 1, -1, 1, true,
       S("ocsp_response_invalid_reason", "file-expired", "reason=\"expired\"")},
      {"file-missing", "absent", 1, -1, 1, false, ""},
      {"file-garbage", "invalid", 1, -1, 1, false,
       S("ocsp_response_invalid_reason", "file-garbage", "reason=\"malformed\"")},
  };
  auto series = ScrapeUntil(Expected(wants));
  CheckWants(wants, series);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/staples/good.ocsp").c_str(), &st), 0);
  EXPECT_EQ(series[S("ocsp_file_modified_timestamp_seconds", "file-good")],
            static_cast<double>(st.st_mtim.tv_sec));
  EXPECT_FALSE(series.count(S("ocsp_file_modified_timestamp_seconds", "file-missing")));
}

// Issue 11: CRLs made by `openssl ca -gencrl`, published to disk.
TEST_F(LabTest, CrlTargets) {
  auto status = [](const std::string& t, const std::string& s) {
    return S("ocsp_crl_status", t, "status=\"" + s + "\"");
  };
  auto series = ScrapeUntil({{status("crl-fresh", "valid"), 1},
                             {status("crl-expired", "expired"), 1},
                             {status("crl-wrong-key", "invalid"), 1},
                             {status("crl-not-published", "absent"), 1},
                             {status("crl-server-down", "absent"), 1}});
  // The CRL server is down: the fetch fails (connect), nothing reads valid.
  EXPECT_EQ(series[S("ocsp_probe_success", "crl-server-down")], 0);
  EXPECT_GE(series[S("ocsp_probe_failures_total", "crl-server-down", "reason=\"connect\"")], 1);
  EXPECT_EQ(series[status("crl-server-down", "valid")], 0);
  EXPECT_EQ(series[status("crl-fresh", "valid")], 1);
  EXPECT_EQ(series[S("ocsp_crl_revoked_certificates", "crl-fresh")], 3)
      << "the lab's revoked, crlrevoked and held certificates";
  EXPECT_GT(series[S("ocsp_crl_next_update_margin_seconds", "crl-fresh")], 6 * 86400);
  EXPECT_GT(series[S("ocsp_crl_size_bytes", "crl-fresh")], 100);
  EXPECT_GE(series[S("ocsp_crl_number", "crl-fresh")], 1);
  EXPECT_LT(series[S("ocsp_crl_next_update_margin_seconds", "crl-expired")], -7 * 86400);
  EXPECT_EQ(series[S("ocsp_crl_invalid_reason", "crl-wrong-key", "reason=\"signature\"")], 1);
  EXPECT_FALSE(series.count(S("ocsp_crl_this_update_timestamp_seconds", "crl-wrong-key")))
      << "no unauthenticated times";
  for (const char* t : {"crl-fresh", "crl-expired", "crl-wrong-key", "crl-not-published"}) {
    EXPECT_EQ(series[S("ocsp_probe_success", t)], 1) << t;
    EXPECT_FALSE(series.count(S("ocsp_response_status", t, "status=\"absent\""))) << t;
  }
  const std::string page = HttpGet(Url("/")).body;
  EXPECT_NE(page.find(">crl_valid<"), std::string::npos);
  EXPECT_NE(page.find(">crl_invalid:signature<"), std::string::npos);
  EXPECT_NE(page.find("signature does not verify"), std::string::npos);

  // The same CRL served by nginx over HTTP, and its delta (a critical Delta
  // CRL Indicator is understood, not unsupported_critical_extension).
  series = ScrapeUntil({{status("crl-http", "valid"), 1}, {status("crl-delta", "valid"), 1}});
  EXPECT_EQ(series[S("ocsp_crl_number", "crl-http")], 1);
  EXPECT_EQ(series[S("ocsp_crl_number", "crl-delta")], 2);
  EXPECT_EQ(series[S("ocsp_crl_revoked_certificates", "crl-delta")], 2)
      << "deltarevoked, and held released (removeFromCRL)";
  EXPECT_LT(series[S("ocsp_crl_fetch_duration_seconds", "crl-http")], 5);

  // Issue 24 point 1: crl-http is checked every 2 s; nginx answers the
  // conditional refetch (its ETag, Last-Modified) with 304, so the CRL is
  // received once and still reads valid.
  const std::string not_modified =
      S("ocsp_crl_fetches_total", "crl-http", "result=\"not_modified\"");
  ASSERT_TRUE(WaitFor(
      [&] {
        series = ParseMetrics(HttpGet(Url("/metrics")).body);
        return series[not_modified] >= 2;
      },
      seconds(20)))
      << "no 304 from nginx";
  EXPECT_EQ(series[S("ocsp_crl_fetches_total", "crl-http", "result=\"fetched\"")], 1);
  EXPECT_EQ(series[S("ocsp_crl_fetches_total", "crl-http", "result=\"failed\"")], 0);
  EXPECT_EQ(series[S("ocsp_crl_fetch_bytes_total", "crl-http")],
            series[S("ocsp_crl_size_bytes", "crl-http")]);
  EXPECT_EQ(series[status("crl-http", "valid")], 1);
  EXPECT_EQ(series[S("ocsp_crl_number", "crl-http")], 1);
  // A file target fetches nothing: no fetch counters.
  EXPECT_FALSE(series.count(S("ocsp_crl_fetch_bytes_total", "crl-fresh")));
}

// Issue 11 point 3: leaves whose revocation is told by CRLs (the lab's
// certificates without an OCSP URL, behind nginx by SNI), delta CRL applied.
// How often `needle` occurs in `text` (requests in an access log).
size_t Occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(LabTest, LeafRevocationThroughCrls) {
  auto crl = [](const std::string& t, const std::string& s) {
    return S("ocsp_cert_crl_status", t, "status=\"" + s + "\"");
  };
  auto series = ScrapeUntil({{crl("crl-only-good", "good"), 1},
                             {crl("crl-only-revoked", "revoked"), 1},
                             {crl("crl-delta-revoked", "revoked"), 1},
                             {crl("crl-hold-lifted", "good"), 1},
                             {crl("must-staple-no-ocsp-url", "good"), 1},
                             {crl("nginx-ocsp-and-crl", "good"), 1},
                             {crl("responder-crl-revoked", "revoked"), 1},
                             {crl("responder-crl-server-down", "unavailable"), 1},
                             {S("ocsp_response_status", "nginx-ocsp-and-crl",
                                "status=\"good\""), 1}});
  const int64_t now = std::time(nullptr);
  // Every state set is complete: three series, exactly one of them 1.
  for (const char* t : {"crl-only-good", "crl-only-revoked", "crl-delta-revoked",
                        "crl-hold-lifted", "responder-crl-server-down"}) {
    double sum = 0;
    for (const char* st : {"good", "revoked", "unavailable"}) {
      ASSERT_TRUE(series.count(crl(t, st))) << t << " " << st;
      sum += series[crl(t, st)];
    }
    EXPECT_EQ(sum, 1) << t;
  }
  // Revoked in the base CRL, and only in the delta CRL, with their reasons.
  EXPECT_EQ(series[S("ocsp_cert_crl_revocation_reason", "crl-only-revoked",
                     "reason=\"cessation_of_operation\"")], 1);
  EXPECT_EQ(series[S("ocsp_cert_crl_revocation_reason", "crl-delta-revoked",
                     "reason=\"key_compromise\"")], 1);
  EXPECT_NEAR(series[S("ocsp_cert_crl_revoked_at_timestamp_seconds", "crl-delta-revoked")], now,
              600);
  // On hold in the base CRL, released by the delta's removeFromCRL: good,
  // with no revocation series.
  EXPECT_FALSE(series.count(S("ocsp_cert_crl_revoked_at_timestamp_seconds", "crl-hold-lifted")));
  // Without an OCSP URL the TLS target is absent, not a failure; the URLs
  // present are exported, and the Must-Staple one is the page-worthy case.
  for (const char* t : {"crl-only-good", "crl-only-revoked", "must-staple-no-ocsp-url"}) {
    EXPECT_EQ(series[S("ocsp_probe_success", t)], 1) << t;
    EXPECT_EQ(series[S("ocsp_response_status", t, "status=\"absent\"")], 1) << t;
    EXPECT_EQ(series[S("ocsp_cert_ocsp_url_present", t)], 0) << t;
    EXPECT_EQ(series[S("ocsp_cert_crl_url_present", t)], 1) << t;
    EXPECT_EQ(series[S("ocsp_tls_name_matched", t)], 1) << t;
  }
  EXPECT_EQ(series[S("ocsp_cert_must_staple", "must-staple-no-ocsp-url")], 1);
  EXPECT_EQ(series[S("ocsp_staple_present", "must-staple-no-ocsp-url")], 0);
  // "both": the staple nginx fetched and the CRL, each verified.
  EXPECT_EQ(series[S("ocsp_staple_present", "nginx-ocsp-and-crl")], 1);
  EXPECT_EQ(series[S("ocsp_cert_ocsp_url_present", "nginx-ocsp-and-crl")], 1);
  // A CRL-only responder target asks no OCSP: no OCSP state set at all.
  EXPECT_FALSE(series.count(S("ocsp_response_status", "responder-crl-revoked",
                              "status=\"absent\"")));
  EXPECT_EQ(series[S("ocsp_probe_success", "responder-crl-revoked")], 1);
  // Its CRL server down: the probe fails with the fetch's reason.
  EXPECT_EQ(series[S("ocsp_probe_success", "responder-crl-server-down")], 0);
  EXPECT_GE(series[S("ocsp_probe_failures_total", "responder-crl-server-down",
                     "reason=\"connect\"")], 1);
  // The "ocsp" default looks up nothing: no CRL series on other targets.
  EXPECT_FALSE(series.count(crl("nginx-good", "good")));
  EXPECT_FALSE(series.count(crl("nginx-revoked", "revoked")));

  // One fetch per CRL URL shared by the seven targets that name it, although
  // each is probed every 2 s: held until the CRL's half-life (3.5 days).
  // (crl-http's own fetches carry a query string.)
  const std::string access = ReadFile(dir_ + "/logs/nginx-access.log");
  EXPECT_EQ(Occurrences(access, "GET /ca.crl HTTP"), 1u) << access;
  EXPECT_NE(access.find("GET /delta.crl HTTP"), std::string::npos) << access;

  const std::string page = HttpGet(Url("/")).body;
  EXPECT_NE(page.find("absent+crl_revoked"), std::string::npos);
  EXPECT_NE(page.find("CRL: revoked (key_compromise"), std::string::npos);
  EXPECT_NE(page.find("delta CRL"), std::string::npos);
  EXPECT_NE(page.find(">crl_revoked<"), std::string::npos);
  EXPECT_NE(page.find("no OCSP URL in the certificate"), std::string::npos);
}

// revocation_scope = "chain": the issuing CA above crlonly is good in the
// root's CRL (onlyContainsCACerts); the intermediate above chainrevoked is
// listed there. One fetch of the root's CRL serves both targets.
TEST_F(LabTest, ChainRevocationThroughTheRootsCrl) {
  auto chain = [](const std::string& t, const std::string& s) {
    return S("ocsp_chain_cert_revocation_status", t, "position=\"1\",status=\"" + s + "\"");
  };
  auto series = ScrapeUntil({{chain("chain-good", "good"), 1},
                             {chain("chain-intermediate-revoked", "revoked"), 1}});
  const int64_t now = std::time(nullptr);
  for (const char* t : {"chain-good", "chain-intermediate-revoked"}) {
    double sum = 0;
    for (const char* st : {"good", "revoked", "unavailable"}) sum += series[chain(t, st)];
    EXPECT_EQ(sum, 1) << t;
    EXPECT_FALSE(series.count(S("ocsp_chain_cert_revocation_status", t,
                                "position=\"2\",status=\"good\"")))
        << t << ": the root is the trust anchor, not checked";
    // notAfter of the intermediates: 180 and 90 days from the lab's start.
    EXPECT_GT(series[S("ocsp_chain_cert_not_after_timestamp_seconds", t, "position=\"1\"")],
              now + 80 * 86400) << t;
  }
  EXPECT_NEAR(series[S("ocsp_chain_cert_revoked_at_timestamp_seconds",
                       "chain-intermediate-revoked", "position=\"1\"")],
              now, 900);
  EXPECT_FALSE(series.count(S("ocsp_chain_cert_revoked_at_timestamp_seconds", "chain-good",
                              "position=\"1\"")));
  bool info = false;
  for (const auto& [k, v] : series) {
    if (k.rfind("ocsp_chain_cert_info{target=\"chain-intermediate-revoked\"", 0) == 0) {
      info = true;
      EXPECT_NE(k.find("subject=\"CN=OCSP Lab Revoked Intermediate\""), std::string::npos) << k;
      EXPECT_NE(k.find("issuer=\"CN=OCSP Lab Root CA\""), std::string::npos) << k;
      EXPECT_NE(k.find("serial=\"20480\""), std::string::npos) << k;  // 0x5000
    }
  }
  EXPECT_TRUE(info);
  // Scope leaf (the default) exports no chain.
  EXPECT_FALSE(series.count(chain("crl-only-good", "good")));
  const std::string access = ReadFile(dir_ + "/logs/nginx-access.log");
  EXPECT_EQ(Occurrences(access, "GET /root.crl HTTP"), 1u) << access;

  // /probe: the module's revocation and scope; &revocation= may narrow
  // them, never widen them.
  const std::string target = "target=127.0.0.1:" + std::to_string(base_ + 3);
  auto probed = ParseMetrics(HttpGet(Url("/probe?" + target + "&module=chain")).body);
  EXPECT_EQ(probed["ocsp_chain_cert_revocation_status{position=\"1\",status=\"revoked\"}"], 1);
  EXPECT_EQ(probed["ocsp_cert_crl_status{status=\"unavailable\"}"], 1)
      << "the leaf names no distribution point";
  probed = ParseMetrics(HttpGet(Url("/probe?" + target + "&module=chain&revocation=ocsp")).body);
  // (no CRL looked up: the leaf has no CRL series, and the intermediate,
  // which names no OCSP responder, reads unavailable)
  EXPECT_EQ(probed.count("ocsp_cert_crl_status{status=\"unavailable\"}"), 0u);
  EXPECT_EQ(probed["ocsp_chain_cert_revocation_status{position=\"1\",status=\"unavailable\"}"],
            1);
  auto refused = HttpGet(Url("/probe?" + target + "&module=chain&revocation=both"));
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("not allowed by module \"chain\""), std::string::npos)
      << refused.body;
  refused = HttpGet(Url("/probe?" + target + "&revocation=crl"));
  EXPECT_EQ(refused.status, 403) << "no module: no CRL fetches for a caller";
  EXPECT_EQ(HttpGet(Url("/probe?" + target + "&module=chain&revocation=ldap")).status, 400);
}

TEST_F(LabTest, ProbeEndpoint) {
  auto probe = [&](const std::string& query, const std::vector<std::string>& headers = {}) {
    return HttpGet(Url("/probe?" + query), headers);
  };
  // nginx stapling (retry: its first handshake may come without a staple).
  std::map<std::string, double> series;
  std::string target = "target=127.0.0.1:" + std::to_string(base_ + 1) + "&module=lab";
  EXPECT_TRUE(WaitFor(
      [&] {
        series = ParseMetrics(probe(target).body);
        return series["ocsp_response_status{status=\"good\"}"] == 1;
      },
      seconds(20)));
  EXPECT_EQ(series["ocsp_probe_success"], 1);
  EXPECT_EQ(series["ocsp_staple_present"], 1);
  EXPECT_EQ(series["ocsp_cert_must_staple"], 1);
  EXPECT_TRUE(series.count("ocsp_probe_duration_seconds"));
  EXPECT_GT(series["ocsp_response_next_update_margin_seconds"], 3600);
  for (const auto& [k, v] : series) EXPECT_EQ(k.find("target="), std::string::npos) << k;

  // Probe trust: the module's ca_file (the issuing CA) anchors the served
  // chain, and the leaf names "localhost".
  EXPECT_EQ(series["ocsp_tls_chain_verified"], 1);
  EXPECT_EQ(series["ocsp_tls_name_matched"], 1);
  // A name the certificate does not carry: the staple is still good, and
  // the mismatch is visible.
  series = ParseMetrics(
      probe("target=127.0.0.1:" + std::to_string(base_ + 1) + "&module=wrong-name").body);
  EXPECT_EQ(series["ocsp_tls_name_matched"], 0);
  EXPECT_EQ(series["ocsp_tls_chain_verified"], 0);  // the lab's root is in no trust store
  EXPECT_EQ(series["ocsp_response_status{status=\"good\"}"], 1);

  // A server that does not staple, without a module; no SNI, so the
  // address probed (127.0.0.1, in the leaf's SAN) is what must match.
  series = ParseMetrics(probe("target=127.0.0.1:" + std::to_string(base_ + 3)).body);
  EXPECT_EQ(series["ocsp_probe_success"], 1);
  EXPECT_EQ(series["ocsp_staple_present"], 0);
  EXPECT_EQ(series["ocsp_response_status{status=\"absent\"}"], 1);
  EXPECT_EQ(series["ocsp_tls_name_matched"], 1);
  EXPECT_EQ(series["ocsp_tls_chain_verified"], 0);
  // The expired server certificate never validates, even anchored.
  series = ParseMetrics(
      probe("target=127.0.0.1:" + std::to_string(base_ + 6) + "&module=lab").body);
  EXPECT_EQ(series["ocsp_probe_success"], 1);
  EXPECT_EQ(series["ocsp_tls_chain_verified"], 0);

  // The module's ca_file finds the issuer a chain-less server does not send.
  std::string unknown = "target=127.0.0.1:" + std::to_string(base_ + 7);
  EXPECT_EQ(ParseMetrics(probe(unknown).body)["ocsp_response_status{status=\"invalid\"}"], 1);
  EXPECT_EQ(ParseMetrics(probe(unknown + "&module=lab").body)
                ["ocsp_response_status{status=\"unknown\"}"],
            1);

  // Prometheus' scrape timeout bounds the probe (minus 0.5 s).
  auto t0 = std::chrono::steady_clock::now();
  auto hung = probe("target=127.0.0.1:" + std::to_string(hang_->port()) + "&module=lab",
                    {"X-Prometheus-Scrape-Timeout-Seconds: 1.5"});
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(hung.status, 200);
  EXPECT_EQ(ParseMetrics(hung.body)["ocsp_probe_success"], 0);
  EXPECT_LT(took, 2.5);  // the module says 3 s; the header wins

  EXPECT_EQ(probe("target=127.0.0.1:1&module=nope").status, 400);
  EXPECT_NE(probe("target=127.0.0.1:1&module=nope").body.find("unknown module \"nope\""),
            std::string::npos);
  EXPECT_EQ(probe("module=lab").status, 400);
  EXPECT_EQ(probe("target=no-port").status, 400);
}

// Issue 21 point 8: the leaf the probe saw, as the exporter labels it, is
// the certificate nginx serves (fingerprint and serial from openssl), and
// the interval it is probed at is exported.
TEST_F(LabTest, CertificateInfoNamesTheServedLeaf) {
  std::string fp, serial;
  ASSERT_EQ(RunCommand("openssl x509 -in " + dir_ + "/pki/good.pem -noout -fingerprint -sha256 "
                       "| cut -d= -f2 | tr -d ':\\n' | tr 'A-F' 'a-f'",
                       &fp),
            0);
  ASSERT_EQ(RunCommand("openssl x509 -in " + dir_ + "/pki/good.pem -noout -serial | cut -d= -f2 "
                       "| tr -d '\\n'",
                       &serial),
            0);
  ASSERT_EQ(fp.size(), 64u) << fp;
  const std::string info = "ocsp_cert_info{target=\"nginx-good\",serial=\"" +
                           std::to_string(std::stoull(serial, nullptr, 16)) + "\"";
  std::string body;
  WaitFor(
      [&] {
        body = HttpGet(Url("/metrics")).body;
        return body.find(info) != std::string::npos;
      },
      seconds(20));
  const size_t at = body.find(info);
  ASSERT_NE(at, std::string::npos) << info << "\n" << body.substr(0, 2000);
  const std::string line = body.substr(at, body.find('\n', at) - at);
  EXPECT_NE(line.find("sha256_fingerprint=\"" + fp + "\""), std::string::npos) << line;
  EXPECT_NE(line.find("issuer=\"CN=OCSP Lab Issuing CA\""), std::string::npos) << line;
  EXPECT_NE(body.find("ocsp_probe_interval_seconds{target=\"nginx-good\"} 2\n"),  // the test's 2 s
            std::string::npos);
}

TEST_F(LabTest, StateChangesAreLoggedOncePerChange) {
  ScrapeUntil({{S("ocsp_response_status", "nginx-revoked", "status=\"revoked\""), 1},
               {S("ocsp_response_status", "nothing-listens", "status=\"failed\""), 1}});
  std::string log = ReadFile(log_);
  EXPECT_NE(log.find("msg=\"target state changed\" target=nginx-revoked from=none to=revoked"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("msg=\"target state changed\" target=nothing-listens from=none "
                     "to=failed:connect"),
            std::string::npos);
  EXPECT_NE(log.find("target=s_server-expired from=none to=invalid:expired"), std::string::npos);
  // Probed every 2 s for a while, but its state never changed: one line.
  size_t count = 0;
  for (size_t pos = 0; (pos = log.find("target=nginx-revoked from=", pos)) != std::string::npos;
       ++pos) {
    ++count;
  }
  EXPECT_EQ(count, 1u);
}

TEST_F(LabTest, HealthReadinessLandingPageAndErrors) {
  auto healthy = HttpGet(Url("/-/healthy"));
  EXPECT_EQ(healthy.status, 200);
  EXPECT_TRUE(WaitFor([&] { return HttpGet(Url("/-/ready")).status == 200; }, seconds(20)));
  auto metrics = HttpGet(Url("/metrics"));
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  // Sent gzipped to a client that accepts it (Prometheus does), decoded intact.
  EXPECT_LT(metrics.wire_bytes * 3, static_cast<long>(metrics.body.size())) << metrics.wire_bytes;
  EXPECT_NE(metrics.body.find("ocsp_staple_exporter_build_info"), std::string::npos);
  ScrapeUntil({{S("ocsp_response_status", "nginx-good", "status=\"good\""), 1}});
  auto landing = HttpGet(Url("/"));
  EXPECT_EQ(landing.status, 200);
  EXPECT_NE(landing.body.find("href=\"metrics\""), std::string::npos);
  EXPECT_NE(landing.body.find(">nginx-revoked</td>"), std::string::npos);
  EXPECT_NE(landing.body.find("<td class=\"s revoked\" data-label=\"State\">revoked</td>"),
            std::string::npos);
  EXPECT_NE(landing.body.find("<td class=\"s good\" data-label=\"State\">good</td>"),
            std::string::npos);
  // Served under a policy that allows nothing but its own stylesheet.
  std::string head;
  RunCommand("curl -s -D - -o /dev/null " + Url("/"), &head);
  EXPECT_NE(head.find("Content-Security-Policy: default-src 'none'; style-src 'sha256-"),
            std::string::npos)
      << head;
  EXPECT_TRUE(WaitFor(
      [&] {
        return HttpGet(Url("/")).body.find(
                   ">lab-good</td><td data-label=\"Mode\">must</td><td class=\"good\" "
                   "data-label=\"Status\">good</td><td class=\"good\" data-label=\"Serving\">"
                   "yes</td>") != std::string::npos;
      },
      seconds(20)))
      << HttpGet(Url("/")).body;
  EXPECT_EQ(HttpGet(Url("/nope")).status, 404);
  EXPECT_EQ(HttpGet(Url("/metricsx")).status, 404);
  EXPECT_EQ(HttpPost(Url("/metrics")).status, 405);
}

TEST_F(LabTest, ConfigCheckFlag) {
  std::string out;
  EXPECT_EQ(RunCommand(kExporter + " --config.file=" + config_ + " --config.check", &out), 0) << out;
  std::string bad = dir_ + "/bad.toml";
  std::ofstream(bad) << "[[tls]]\nname = \"x\"\naddress = \"127.0.0.1:1\"\ncolour = \"red\"\n";
  out.clear();
  EXPECT_EQ(RunCommand(kExporter + " --config.file=" + bad + " --config.check", &out), 1);
  EXPECT_NE(out.find(bad + ":4:1: tls[0].colour: unknown key"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(RunCommand(kExporter + " --config.file=" + config_ +
                           " --web.listen-address=127.0.0.1:99999",
                       &out),
            1);
  EXPECT_NE(out.find("invalid address \"127.0.0.1:99999\": port must be 1-65535"),
            std::string::npos)
      << out;
  out.clear();
  EXPECT_EQ(RunCommand(kExporter + " --bogus", &out), 1);
  EXPECT_NE(out.find("unknown argument \"--bogus\""), std::string::npos) << out;
}

// An openssl.cnf that leaves OpenSSL without algorithms (a provider that
// does not exist) stops the exporter at start with exit 1 and a message
// naming the file: not an abort, not every certificate "unparseable".
TEST_F(LabTest, ABrokenOpenSslConfigurationStopsTheStartWithItsName) {
  const std::string cnf = dir_ + "/broken-openssl.cnf";
  std::ofstream(cnf) << "openssl_conf = init\n[init]\nproviders = providers\n"
                        "[providers]\nnosuch = nosuch_section\n[nosuch_section]\nactivate = 1\n";
  std::string out;
  EXPECT_EQ(RunCommand("OPENSSL_CONF=" + cnf + " " + kExporter + " --config.file=" + config_ +
                           " --web.listen-address=127.0.0.1:0",
                       &out),
            1)
      << out;
  EXPECT_NE(out.find("OpenSSL cannot make a TLS context: "), std::string::npos) << out;
  EXPECT_NE(out.find("(OpenSSL configuration: " + cnf + ")"), std::string::npos) << out;
  EXPECT_EQ(out.find("cert_file"), std::string::npos) << "no certificate was read:\n" << out;
  out.clear();
  EXPECT_EQ(RunCommand("OPENSSL_CONF=" + cnf + " " + kExporter + " --config.file=" + config_ +
                           " --config.check",
                       &out),
            1)
      << out;
  EXPECT_NE(out.find("(OpenSSL configuration: " + cnf + ")"), std::string::npos) << out;
}

TEST_F(LabTest, ProbeCommandExitCodes) {
  auto probe = [&](int offset, std::string* out, const std::string& extra = "") {
    return RunCommand(kExporter + " probe 127.0.0.1:" + std::to_string(base_ + offset) +
                          " --server-name=localhost --timeout=5s" + extra,
                      out);
  };
  std::string out;
  const std::string trust = " --ca-file=" + dir_ + "/pki/ca.pem";
  // nginx fetched a 1-day response: OK with the default 12 h warning margin.
  EXPECT_TRUE(WaitFor([&] { out.clear(); return probe(1, &out, trust) == 0; }, seconds(20)))
      << out;
  EXPECT_NE(out.find("OK: 127.0.0.1:"), std::string::npos) << out;
  EXPECT_NE(out.find("Chain verified: yes"), std::string::npos) << out;
  EXPECT_NE(out.find("Must-Staple:    yes"), std::string::npos) << out;
  // Without the lab CA the chain does not validate: a good staple from an
  // untrusted server is a WARNING, with the reason.
  out.clear();
  EXPECT_EQ(probe(1, &out), 1) << out;
  EXPECT_NE(out.find("the served chain does not validate"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(probe(2, &out), 2) << out;
  EXPECT_NE(out.find("certificate REVOKED (key_compromise)"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(probe(3, &out), 1) << out;  // no staple, no Must-Staple
  out.clear();
  EXPECT_EQ(probe(4, &out), 2) << out;  // Must-Staple without staple
  EXPECT_NE(out.find("Must-Staple certificate served without an OCSP staple"),
            std::string::npos);
  out.clear();
  EXPECT_EQ(probe(5, &out), 2) << out;  // expired staple
  out.clear();
  // A server that sends no chain: without --ca-file the staple cannot be
  // verified, with it the responder's "unknown" shows.
  EXPECT_EQ(probe(7, &out), 2) << out;
  EXPECT_NE(out.find("invalid (issuer_unknown)"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(probe(7, &out, " --ca-file=" + dir_ + "/pki/ca.pem"), 1) << out;
  EXPECT_NE(out.find("status unknown"), std::string::npos) << out;
  // That server speaks TLS 1.2 only: the staple came in a CertificateStatus
  // message instead of a TLS 1.3 certificate extension.
  EXPECT_NE(out.find("TLS version:    TLSv1.2"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(probe(1, &out, trust), 0) << out;
  EXPECT_NE(out.find("TLS version:    TLSv1.3"), std::string::npos) << out;
  // An expired server certificate does not stop the staple from being read.
  out.clear();
  EXPECT_EQ(probe(6, &out), 2) << out;
  EXPECT_NE(out.find("invalid (cert_id_mismatch)"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(probe(8, &out), 3) << out;  // nothing listens
  EXPECT_NE(out.find("UNKNOWN:"), std::string::npos);
}

// A real Prometheus scrapes the exporter with the shipped rules loaded: every
// dashboard query, with its variables filled in, returns at least one
// series, and the revoked lab target fires OCSPCertificateRevoked.
TEST_F(LabTest, DashboardQueriesAndAlertsOnRealPrometheus) {
  int prom_port = FreePort();
  std::string prom_dir = dir_ + "/prometheus";
  fs::create_directories(prom_dir);
  std::ofstream(prom_dir + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      << "rule_files:\n  - " << OSE_SOURCE_DIR << "/deploy/prometheus/alerts.yml\n"
      << "scrape_configs:\n  - job_name: ose\n    static_configs:\n      - targets: ['127.0.0.1:"
      << port_ << "']\n";
  Process prom({"/usr/bin/prometheus", "--config.file=" + prom_dir + "/prometheus.yml",
                "--storage.tsdb.path=" + prom_dir + "/data",
                "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
               prom_dir + "/prometheus.log");
  const std::string api = "http://127.0.0.1:" + std::to_string(prom_port);
  ASSERT_TRUE(WaitFor([&] { return HttpGet(api + "/-/ready").status == 200; }, seconds(60)))
      << ReadFile(prom_dir + "/prometheus.log");

  auto query = [&](const std::string& expr) {
    char* q = curl_easy_escape(nullptr, expr.c_str(), static_cast<int>(expr.size()));
    std::string url = api + "/api/v1/query?query=" + q;
    curl_free(q);
    auto r = HttpGet(url);
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_discarded() || j["status"] != "success") return -1;
    return static_cast<int>(j["data"]["result"].size());
  };
  const std::string instance = "127.0.0.1:" + std::to_string(port_);
  auto fill = [&](std::string expr) {
    const std::pair<std::string, std::string> vars[] = {
        {"$__rate_interval", "1m"}, {"$instance", instance}, {"$target", ".+"}, {"$job", "ose"},
        {"$certificate", ".+"}};
    for (const auto& [k, v] : vars) {
      for (size_t pos; (pos = expr.find(k)) != std::string::npos;) expr.replace(pos, k.size(), v);
    }
    return expr;
  };

  auto dashboard = nlohmann::json::parse(ReadFile(OSE_SOURCE_DIR "/dashboards/ocsp_stapling.json"));
  EXPECT_EQ(dashboard["schemaVersion"], 38);
  std::vector<std::string> exprs;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& t : panel.value("targets", nlohmann::json::array())) {
      EXPECT_EQ(t["datasource"]["uid"], "${datasource}") << panel["title"];
      // Every panel works without the recording rules loaded (issue 21).
      EXPECT_EQ(std::string(t["expr"]).find("ocsp:"), std::string::npos) << panel["title"];
      exprs.push_back(t["expr"]);
    }
  }
  ASSERT_GE(exprs.size(), 15u);
  std::vector<std::string> variables;
  for (const auto& v : dashboard["templating"]["list"]) {
    if (v["type"] != "query") continue;
    variables.push_back(v["name"]);
    // label_values(SELECTOR, label): the selector must find series.
    std::string def = v["definition"];
    std::string selector = def.substr(13, def.rfind(',') - 13);
    exprs.push_back(selector);
  }
  EXPECT_EQ(variables, (std::vector<std::string>{"job", "instance", "target", "certificate"}));
  EXPECT_EQ(dashboard["links"].size(), 2u) << "the runbook and the landing page";
  for (const auto& e : exprs) {
    std::string filled = fill(e);
    int n = 0;
    EXPECT_TRUE(WaitFor([&] { return (n = query(filled)) > 0; }, seconds(60)))
        << filled << " returned " << n;
  }

  // The shipped rules, evaluated by Prometheus itself on the lab.
  auto firing = [&](const std::string& alert, const std::string& target) {
    auto j = nlohmann::json::parse(HttpGet(api + "/api/v1/alerts").body, nullptr, false);
    if (j.is_discarded()) return false;
    for (const auto& a : j["data"]["alerts"]) {
      if (a["labels"]["alertname"] == alert && a["labels"].value("target", "") == target &&
          a["state"] == "firing") {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(WaitFor([&] { return firing("OCSPCertificateRevoked", "nginx-revoked"); },
                      seconds(60)));
  EXPECT_FALSE(firing("OCSPCertificateRevoked", "nginx-good"));
  // Behind the lab's balancer 2 of 4 handshakes staple: the intermittent
  // alert is pending (it waits 10 minutes to fire), and the missing one
  // does not claim it.
  auto pending = [&](const std::string& alert, const std::string& target) {
    auto j = nlohmann::json::parse(HttpGet(api + "/api/v1/alerts").body, nullptr, false);
    if (j.is_discarded()) return false;
    for (const auto& a : j["data"]["alerts"]) {
      if (a["labels"]["alertname"] == alert && a["labels"].value("target", "") == target) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(WaitFor([&] { return pending("OCSPStapleIntermittent", "haproxy-intermittent"); },
                      seconds(60)));
  EXPECT_FALSE(pending("OCSPStapleMissing", "haproxy-intermittent"));
  EXPECT_FALSE(pending("OCSPStapleIntermittent", "nginx-good-every-address"));
  EXPECT_EQ(query("ocsp:must_staple_missing{target=\"nginx-must-staple-missing\"} == 1"), 1);
  EXPECT_EQ(query("ocsp:must_staple_missing{target=\"nginx-no-staple\"}"), 0);
  // Issue 11: a leaf revoked through the delta CRL pages; one released from
  // hold by it does not.
  EXPECT_TRUE(WaitFor([&] { return firing("CertificateRevokedByCRL", "crl-delta-revoked"); },
                      seconds(60)));
  EXPECT_TRUE(firing("CertificateRevokedByCRL", "crl-only-revoked"));
  EXPECT_FALSE(firing("CertificateRevokedByCRL", "crl-hold-lifted"));
  EXPECT_FALSE(firing("CertificateRevokedByCRL", "nginx-ocsp-and-crl"));
  // Issue 24: the revoked intermediate pages once, by its own labels; the
  // good one does not.
  auto intermediate = [&](const std::string& subject) {
    auto j = nlohmann::json::parse(HttpGet(api + "/api/v1/alerts").body, nullptr, false);
    int n = 0;
    if (j.is_discarded()) return n;
    for (const auto& a : j["data"]["alerts"]) {
      if (a["labels"]["alertname"] == "IntermediateCertificateRevoked" &&
          a["labels"].value("subject", "") == subject && a["state"] == "firing") {
        ++n;
      }
    }
    return n;
  };
  EXPECT_TRUE(WaitFor([&] { return intermediate("CN=OCSP Lab Revoked Intermediate") == 1; },
                      seconds(60)));
  EXPECT_EQ(intermediate("CN=OCSP Lab Issuing CA"), 0);
}

// Runs last in this file: changes the config of the running exporter.
TEST_F(LabTest, ReloadKeepsOldConfigOnErrorAndAppliesGoodOnes) {
  ScrapeUntil({{S("ocsp_response_status", "nginx-good", "status=\"good\""), 1}});
  const std::string original = ReadFile(config_);

  // A broken config: the old one keeps running.
  WriteConfig(original + "\n[[tls]]\nname = \"nginx-good\"\naddress = \"127.0.0.1:1\"\n");
  auto r = HttpPost(Url("/-/reload"));
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("duplicate name \"nginx-good\""), std::string::npos) << r.body;
  auto series = ParseMetrics(HttpGet(Url("/metrics")).body);
  EXPECT_EQ(series["ocsp_staple_exporter_config_last_reload_successful"], 0);
  EXPECT_EQ(series[S("ocsp_response_status", "nginx-good", "status=\"good\"")], 1);

  // SIGHUP with a config that drops every target but two: the others vanish.
  std::string smaller = "[global]\ninterval = \"2s\"\n[[tls]]\nname = \"nginx-good\"\n"
                        "address = \"127.0.0.1:" + std::to_string(base_ + 1) +
                        "\"\nserver_name = \"localhost\"\n[[tls]]\nname = \"new-target\"\n"
                        "address = \"127.0.0.1:" + std::to_string(base_ + 2) + "\"\n";
  WriteConfig(smaller);
  exporter_->Signal(SIGHUP);
  series = ScrapeUntil({{"ocsp_staple_exporter_config_last_reload_successful", 1},
                        {S("ocsp_response_status", "new-target", "status=\"revoked\""), 1}});
  EXPECT_EQ(series[S("ocsp_response_status", "nginx-good", "status=\"good\"")], 1);
  EXPECT_FALSE(series.count(S("ocsp_probe_success", "nginx-revoked")));
  EXPECT_FALSE(series.count(S("ocsp_probe_success", "hangs")));

  // And back, over HTTP.
  WriteConfig(original);
  EXPECT_EQ(HttpPost(Url("/-/reload")).status, 200);
  series = ScrapeUntil({{S("ocsp_response_status", "nginx-revoked", "status=\"revoked\""), 1}});
  EXPECT_FALSE(series.count(S("ocsp_probe_success", "new-target")));
  EXPECT_TRUE(exporter_->Running());
}


// Issue 21 point 2: the shipped Alertmanager config on a real Alertmanager,
// fed by a real Prometheus with the shipped rules (every `for:` cut to 0s)
// scraping the real exporter: each incident reaches the webhook as one
// notification of one alert. A revocation past its nextUpdate
// (file-revoked-expired) pages as revoked only; an expired staple
// (file-expired) as expired only.
TEST_F(LabTest, OneIncidentOneNotificationThroughAlertmanager) {
  const std::string d = dir_ + "/alertmanager";
  fs::create_directories(d);
  const int hook_port = FreePort(), am_port = FreePort(), prom_port = FreePort();
  const std::string hook_log = d + "/notifications.jsonl";
  std::ofstream(d + "/hook.py")
      << "import http.server, sys\n"
      << "out = open(sys.argv[2], 'a')\n"
      << "class H(http.server.BaseHTTPRequestHandler):\n"
      << "    def do_POST(self):\n"
      << "        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))\n"
      << "        out.write(body.decode().replace('\\n', ' ') + '\\n'); out.flush()\n"
      << "        self.send_response(200); self.end_headers()\n"
      << "    def log_message(self, *a): pass\n"
      << "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n";
  Process hook({"/usr/bin/python3", d + "/hook.py", std::to_string(hook_port), hook_log},
               d + "/hook.log");
  std::string out;
  ASSERT_EQ(RunCommand("sed -e 's|http://127.0.0.1:9095/alerts|http://127.0.0.1:" +
                           std::to_string(hook_port) + "/alerts|' -e 's|group_wait: 30s|"
                           "group_wait: 2s|' -e 's|group_interval: 5m|group_interval: 2s|' " +
                           OSE_SOURCE_DIR + "/deploy/alertmanager/alertmanager.yml > " + d +
                           "/am.yml && sed -E 's|^( +)for: .*$|\\1for: 0s|' " + OSE_SOURCE_DIR +
                           "/deploy/prometheus/alerts.yml > " + d + "/alerts.yml",
                       &out),
            0)
      << out;
  Process am({"/usr/bin/prometheus-alertmanager", "--config.file=" + d + "/am.yml",
              "--storage.path=" + d + "/am-data", "--cluster.listen-address=",
              "--web.listen-address=127.0.0.1:" + std::to_string(am_port)},
             d + "/am.log");
  std::ofstream(d + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      << "rule_files:\n  - " << d << "/alerts.yml\n"
      << "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:"
      << am_port << "']\n"
      << "scrape_configs:\n  - job_name: ocsp_staple_exporter\n    static_configs:\n"
      << "      - targets: ['127.0.0.1:" << port_ << "']\n";
  Process prom({"/usr/bin/prometheus", "--config.file=" + d + "/prometheus.yml",
                "--storage.tsdb.path=" + d + "/prom-data",
                "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
               d + "/prometheus.log");
  // Firing alerts per target, from every notification the webhook got.
  auto notified = [&] {
    std::map<std::string, std::vector<std::string>> by_target;
    std::istringstream lines(ReadFile(hook_log));
    for (std::string line; std::getline(lines, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;
      for (const auto& a : j["alerts"]) {
        if (a["status"] != "firing" || !a["labels"].contains("target")) continue;
        by_target[a["labels"]["target"]].push_back(a["labels"]["alertname"]);
      }
    }
    return by_target;
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        auto n = notified();
        return n.count("file-revoked-expired") && n.count("file-expired") &&
               n.count("file-revoked");
      },
      seconds(90)))
      << ReadFile(d + "/am.log") << ReadFile(d + "/prometheus.log");
  std::this_thread::sleep_for(seconds(6));  // later notifications would show here
  auto n = notified();
  EXPECT_EQ(n["file-revoked-expired"], std::vector<std::string>{"OCSPCertificateRevoked"});
  EXPECT_EQ(n["file-expired"], std::vector<std::string>{"OCSPStapleExpired"});
  EXPECT_EQ(n["file-revoked"], std::vector<std::string>{"OCSPCertificateRevoked"});
  EXPECT_EQ(n["nothing-listens"], std::vector<std::string>{"OCSPProbeFailing"});
}

}  // namespace
}  // namespace ose::testing
