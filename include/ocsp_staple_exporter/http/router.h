#pragma once
// What the exporter answers over HTTP, apart from the transport (see
// server.h): authentication (basic_auth_users of the web config, on every
// endpoint but /-/healthy, as blackbox_exporter does), the endpoints, the
// /probe concurrency limit, the web config's extra headers, gzip, and the
// per-handler request metrics. Plain requests in, responses out through a
// callback, so it is tested without sockets.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ocsp_staple_exporter/common/result.h"
#include "ocsp_staple_exporter/http/basic_auth.h"
#include "ocsp_staple_exporter/http/landing_page.h"
#include "ocsp_staple_exporter/http/web_config.h"
#include "ocsp_staple_exporter/metrics/collector.h"
#include "ocsp_staple_exporter/metrics/request_stats.h"
#include "ocsp_staple_exporter/scheduler/result_store.h"

namespace ose {

/// One parsed HTTP request, as the listener hands it over.
struct HttpRequest {
  std::string method;  ///< "GET", "HEAD", "POST", ...
  std::string path;    ///< the request target before '?', not decoded
  std::string query;   ///< after '?', not decoded ("" when none)
  /// Header fields, names lower-cased, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string peer;  ///< "IP:port" of the client, for logs
  bool tls = false;  ///< arrived over TLS

  /// The first value of header `name` (lower-case), "" when absent.
  std::string_view Header(std::string_view name) const;
};

/// A complete response; the listener adds Content-Length and Connection.
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  /// More header fields (web config headers, WWW-Authenticate, Allow,
  /// Content-Encoding, Cache-Control).
  std::vector<std::pair<std::string, std::string>> headers;
};

/// A /probe request: `target` (HOST:PORT) and `module` as given ("" when
/// absent), and the scrape timeout Prometheus announced (seconds, 0 if none).
struct ProbeQuery {
  std::string target;
  std::string module;
  /// `revocation` (ocsp, crl or both; empty when not asked): checked
  /// against what the module allows by AnswerProbe.
  std::string revocation;
  double scrape_timeout_seconds = 0;
};

/// Parses a /probe request: `target`, `module` and `revocation` from the URL query
/// string (percent-decoded with libcurl, '+' as a space, each at most 1023
/// bytes: longer is cut; null or missing: empty), and Prometheus'
/// X-Prometheus-Scrape-Timeout-Seconds header (`timeout_header`, may be
/// null), kept only when it is a number in (0, 86400). Never throws.
ProbeQuery ParseProbeQuery(const char* query_string, const char* timeout_header);

/// Callbacks into the rest of the exporter.
struct HttpHooks {
  std::function<bool()> ready;         ///< answers GET /-/ready
  std::function<Result<Ok>()> reload;  ///< POST /-/reload; error detail is returned as 500
  /// GET /probe, asynchronous: `done` receives one probe's metrics in the
  /// text format 0.0.4 (the body), exactly once, on any thread. An error with reason "bad_request"
  /// answers 400, "forbidden" 403, others 500; its detail is the body.
  std::function<void(const ProbeQuery&,
                     std::function<void(Result<std::string>)> done)>
      probe;
  /// The stapling engine's certificates, for GET /api/v1/stapler and the
  /// landing page (none when null).
  std::function<std::vector<StaplerCertState>()> stapler;
};

struct RouterOptions {
  std::string telemetry_path = "/metrics";
  /// /probe requests in flight at once; more answer 503 at once.
  int max_probe_requests = 64;
};

/// Handler labels of `ocsp_staple_exporter_http_requests_total`.
inline constexpr std::string_view kHandlerOther = "other";

class Router {
 public:
  using Reply = std::function<void(HttpResponse)>;
  /// `run_heavy` runs a task off the listener's I/O threads (rendering
  /// /metrics and the landing page, bcrypt). Borrowed objects outlive the
  /// router.
  /// `run_heavy` runs rendering and reloads off the I/O threads;
  /// `run_auth` (default: run_heavy) runs bcrypt checks, for credentials
  /// not cached yet, on threads of their own so that a flood of wrong
  /// passwords queues behind itself, not in front of a scrape.
  Router(const ResultStore& store, const Collector& collector, HttpHooks hooks,
         RouterOptions options, RequestStats* stats,
         std::function<void(std::function<void()>)> run_heavy,
         std::function<void(std::function<void()>)> run_auth = nullptr);

  /// Answers `req` through `reply`, exactly once, on any thread.
  void Handle(HttpRequest req, Reply reply);

  /// Replaces the web config (auth users, headers); TLS is the listener's.
  void SetWebConfig(std::shared_ptr<const WebConfig> config);

  /// /probe requests in flight now.
  int probes_in_flight() const { return probes_in_flight_.load(); }

  /// bcrypt checks made so far; for tests.
  uint64_t bcrypt_checks() const { return auth_.bcrypt_checks(); }

 private:
  /// Answers an authorised `req` of `handler` (HandlerOf its path) through
  /// the table of routes in router.cc: 404 for no route, 405 for a method
  /// the route does not take.
  void Route(const HttpRequest& req, std::string_view handler, Reply reply);
  std::string_view HandlerOf(std::string_view path) const;
  /// Runs `make` off the I/O threads (run_heavy_); an exception answers 500.
  void RunHeavy(std::function<HttpResponse()> make, Reply reply);

  // The routes (see kRoutes in router.cc), each answering exactly once.
  void ServeMetrics(const HttpRequest& req, Reply reply);
  void ServeHealthy(const HttpRequest& req, Reply reply);
  void ServeReady(const HttpRequest& req, Reply reply);
  void ServeStaplerJson(const HttpRequest& req, Reply reply);
  void ServeLandingPage(const HttpRequest& req, Reply reply);
  void ServeProbe(const HttpRequest& req, Reply reply);
  void ServeReload(const HttpRequest& req, Reply reply);
  std::vector<StaplerCertState> Stapled() const;

  const ResultStore& store_;
  const Collector& collector_;
  HttpHooks hooks_;
  RouterOptions options_;
  RequestStats* stats_;
  std::function<void(std::function<void()>)> run_heavy_;
  std::function<void(std::function<void()>)> run_auth_;
  BasicAuthChecker auth_;
  mutable std::mutex mu_;
  std::shared_ptr<const WebConfig> web_;  ///< guarded by mu_; never null
  std::atomic<int> probes_in_flight_{0};
};

/// The JSON of GET /api/v1/stapler for `certs` (like HAProxy's
/// `show ssl ocsp-updates`): a list of objects with name, mode, status,
/// serving, fatal, times (RFC 3339), next refresh, successes, failures and
/// last error. Status as it reads at Unix time `now` (VerdictAt); times of a
/// response whose signature did not verify are null.
std::string StaplerJson(const std::vector<StaplerCertState>& certs, int64_t now);

}  // namespace ose
