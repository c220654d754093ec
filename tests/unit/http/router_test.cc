// The Router without sockets: authentication on every endpoint but
// /-/healthy, the web config's headers, methods, the telemetry path, the
// /probe concurrency limit, and the request metrics.
#include "ocsp_staple_exporter/http/router.h"

#include <crypt.h>
#include <gtest/gtest.h>

#include <future>

#include "gunzip.h"

namespace ose {
namespace {

class RouterTest : public ::testing::Test {
 protected:
  RouterTest()
      : collector_(store_, status_),
        stats_({"/custom-metrics", "/probe"}),
        router_(store_, collector_,
                HttpHooks{.ready = [] { return true; },
                          .reload = []() -> Result<Ok> { return Error{"config", "x.toml:1:1: bad"}; },
                          .probe =
                              [this](const ProbeQuery& q, auto done) {
                                std::lock_guard lock(mu_);
                                pending_.push_back({q, std::move(done)});
                              },
                          .stapler = nullptr},
                RouterOptions{.telemetry_path = "/custom-metrics", .max_probe_requests = 2},
                &stats_, [](std::function<void()> task) { task(); }) {}

  HttpResponse Get(const std::string& path, const std::string& query = "",
                   std::vector<std::pair<std::string, std::string>> headers = {},
                   const std::string& method = "GET") {
    HttpRequest req;
    req.method = method;
    req.path = path;
    req.query = query;
    req.headers = std::move(headers);
    auto p = std::make_shared<std::promise<HttpResponse>>();
    auto f = p->get_future();
    router_.Handle(req, [p](HttpResponse r) { p->set_value(std::move(r)); });
    if (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      return HttpResponse{.status = -1};  // not answered yet (a /probe in flight)
    }
    return f.get();
  }
  static std::string HeaderOf(const HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  ResultStore store_;
  ExporterStatus status_;
  Collector collector_;
  RequestStats stats_;
  Router router_;
  std::mutex mu_;
  struct Pending {
    ProbeQuery query;
    std::function<void(Result<std::string>)> done;
  };
  std::vector<Pending> pending_;
};

TEST_F(RouterTest, EndpointsMethodsAndTelemetryPath) {
  EXPECT_EQ(Get("/custom-metrics").status, 200);
  EXPECT_EQ(Get("/metrics").status, 404) << "only the configured telemetry path";
  EXPECT_EQ(Get("/-/healthy").status, 200);
  EXPECT_EQ(Get("/-/ready").status, 200);
  EXPECT_EQ(Get("/-/healthy", "", {}, "HEAD").status, 200);
  auto post = Get("/-/healthy", "", {}, "POST");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(HeaderOf(post, "Allow"), "GET, HEAD");
  // Reload: POST only; a failing reload says why.
  auto reload_get = Get("/-/reload");
  EXPECT_EQ(reload_get.status, 405);
  EXPECT_EQ(HeaderOf(reload_get, "Allow"), "POST");
  EXPECT_EQ(Get("/-/reload", "", {}, "PUT").status, 405);
  auto reload = Get("/-/reload", "", {}, "POST");
  EXPECT_EQ(reload.status, 500);
  EXPECT_NE(reload.body.find("x.toml:1:1: bad"), std::string::npos);
  // A browser on another site cannot make an operator's browser reload it.
  EXPECT_EQ(Get("/-/reload", "", {{"sec-fetch-site", "cross-site"}}, "POST").status, 403);
  EXPECT_EQ(Get("/-/reload", "", {{"origin", "https://evil.example"}, {"host", "127.0.0.1:9830"}},
                "POST").status,
            403);
  EXPECT_EQ(Get("/-/reload", "", {{"origin", "http://127.0.0.1:9830"}, {"host", "127.0.0.1:9830"},
                                  {"sec-fetch-site", "same-origin"}},
                "POST").status,
            500)
      << "same origin: reloaded (and this reload fails)";
  EXPECT_EQ(Get("/probe").status, 400) << "no target";
  auto landing = Get("/");
  EXPECT_EQ(landing.status, 200);
  EXPECT_NE(landing.body.find("href=\"custom-metrics\""), std::string::npos);
  EXPECT_EQ(HeaderOf(landing, "Cache-Control"), "no-store");
  // Every answer is counted by handler and code; unknown paths as "other".
  auto families = stats_.Families();
  std::string text = SerializeText(families);
  EXPECT_NE(text.find("ocsp_staple_exporter_http_requests_total{handler=\"/-/healthy\",code=\"200\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ocsp_staple_exporter_http_requests_total{handler=\"other\",code=\"404\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("ocsp_staple_exporter_http_request_duration_seconds_count{handler=\"/probe\"} 1"),
            std::string::npos);
}

TEST_F(RouterTest, BasicAuthEverywhereButHealthyAndHeadersOnEveryAnswer) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  ASSERT_NE(crypt_gensalt_rn("$2y$", 4, nullptr, 0, salt, sizeof salt), nullptr);
  crypt_data data{};
  auto web = std::make_shared<WebConfig>();
  web->basic_auth_users["prom"] = crypt_rn("s3cret", salt, &data, sizeof data);
  web->headers = {{"X-Frame-Options", "deny"}};
  router_.SetWebConfig(web);
  const std::pair<std::string, std::string> good = {"authorization", "Basic cHJvbTpzM2NyZXQ="};
  const std::pair<std::string, std::string> bad = {"authorization", "Basic cHJvbTp3cm9uZw=="};
  for (const char* path : {"/custom-metrics", "/-/ready", "/", "/probe", "/api/v1/stapler",
                           "/-/reload", "/nowhere"}) {
    auto none = Get(path);
    EXPECT_EQ(none.status, 401) << path;
    EXPECT_EQ(HeaderOf(none, "WWW-Authenticate"), "Basic realm=\"ocsp_staple_exporter\"");
    EXPECT_EQ(HeaderOf(none, "X-Frame-Options"), "deny") << path;
    EXPECT_EQ(Get(path, "", {bad}).status, 401) << path;
  }
  EXPECT_EQ(Get("/-/healthy").status, 200) << "liveness needs no credentials";
  auto ok = Get("/custom-metrics", "", {good});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(HeaderOf(ok, "X-Frame-Options"), "deny");
  EXPECT_EQ(Get("/nowhere", "", {good}).status, 404);
  EXPECT_EQ(router_.bcrypt_checks(), 2u) << "one per distinct credential";
}

// /metrics to a gzip client is compressed once, as it is rendered, and reads
// back as the text; HEAD and clients without gzip get the text.
TEST_F(RouterTest, MetricsGzipOnceForClientsThatTakeIt) {
  std::vector<TargetInfo> infos;
  for (int i = 0; i < 50; ++i) infos.push_back({"t" + std::to_string(i), "tls", "a:1"});
  store_.SetTargets(infos);
  ProbeResult r;
  r.success = true;
  for (const auto& t : infos) (void)store_.Record(t.name, r);
  const std::string text = collector_.CollectText();
  auto plain = Get("/custom-metrics");
  EXPECT_EQ(plain.body, text);
  EXPECT_EQ(HeaderOf(plain, "Content-Encoding"), "");
  auto gz = Get("/custom-metrics", "", {{"accept-encoding", "deflate, gzip"}});
  EXPECT_EQ(gz.status, 200);
  EXPECT_EQ(HeaderOf(gz, "Content-Encoding"), "gzip");
  int encodings = 0;
  for (const auto& h : gz.headers) encodings += h.first == "Content-Encoding";
  EXPECT_EQ(encodings, 1);
  ASSERT_GE(gz.body.size(), 2u);
  EXPECT_EQ(gz.body.substr(0, 2), "\x1f\x8b");
  EXPECT_EQ(testing::Gunzip(gz.body), text) << "compressed once, whole";
  auto head = Get("/custom-metrics", "", {{"accept-encoding", "gzip"}}, "HEAD");
  EXPECT_EQ(HeaderOf(head, "Content-Encoding"), "");
}

TEST_F(RouterTest, ProbeLimitAnswers503AndFreesItsSlotWhenAProbeEnds) {
  EXPECT_EQ(Get("/probe", "target=a.example%3A443&module=m").status, -1);
  EXPECT_EQ(Get("/probe", "target=b.example:443").status, -1);
  EXPECT_EQ(router_.probes_in_flight(), 2);
  auto refused = Get("/probe", "target=c.example:443");
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("--web.max-probe-requests=2"), std::string::npos);
  // Other endpoints are not held up by probes.
  EXPECT_EQ(Get("/custom-metrics").status, 200);
  ASSERT_EQ(pending_.size(), 2u);
  EXPECT_EQ(pending_[0].query.target, "a.example:443");
  EXPECT_EQ(pending_[0].query.module, "m");
  pending_[0].done(Error{"forbidden", "denied by [probe] deny"});
  EXPECT_EQ(router_.probes_in_flight(), 1);
  EXPECT_EQ(Get("/probe", "target=d.example:443").status, -1) << "a slot is free again";
  pending_[1].done(std::string("ocsp_probe_success 1\n"));
  pending_[2].done(Error{"bad_request", "no"});
  EXPECT_EQ(router_.probes_in_flight(), 0);
}

TEST(ProcStat, ParsesWithAnyCommandName) {
  ProcStat st;
  // A command name with spaces and a ')' (the kernel does not escape it).
  ASSERT_TRUE(ParseProcStat("1234 (a b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 "
                            "3 0 777 123456789 321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 "
                            "0 17 0 0 0 0 0 0\n",
                            &st));
  EXPECT_EQ(st.utime, 250u);
  EXPECT_EQ(st.stime, 50u);
  EXPECT_EQ(st.starttime, 777u);
  EXPECT_EQ(st.vsize, 123456789u);
  EXPECT_EQ(st.rss, 321);
  EXPECT_FALSE(ParseProcStat("", &st));
  EXPECT_FALSE(ParseProcStat("1234 (x) S 1 2", &st));
  // The real one parses, and every process family is there.
  std::string text = SerializeText(ProcessFamilies());
  for (const char* name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                           "process_virtual_memory_bytes ", "process_open_fds ",
                           "process_max_fds ", "process_start_time_seconds "}) {
    EXPECT_NE(text.find(std::string("\n") + name), std::string::npos) << name << text;
  }
}

}  // namespace
}  // namespace ose
