#pragma once
// The HTTP side (civetweb): /metrics, /-/healthy, /-/ready, the landing
// page /, POST /-/reload, the multi-target GET /probe and GET
// /api/v1/stapler. Handlers run on civetweb's worker threads and read
// snapshots only; /probe waits for its one probe on the event loop.

#include <functional>
#include <memory>
#include <string>

#include "ocsp_staple_exporter/common/result.h"
#include "ocsp_staple_exporter/metrics/collector.h"
#include "ocsp_staple_exporter/scheduler/result_store.h"

namespace ose {

struct HttpServerOptions {
  /// Prometheus style: "HOST:PORT", "[V6]:PORT" or ":PORT" (all interfaces).
  /// Port 0 picks a free port (see HttpServer::port()).
  std::string listen_address = ":9830";
  /// Worker threads; each /probe request holds one until its probe ends.
  int threads = 16;
};

/// A /probe request: `target` (HOST:PORT) and `module` as given ("" when
/// absent), and the scrape timeout Prometheus announced (seconds, 0 if none).
struct ProbeQuery {
  std::string target;
  std::string module;
  double scrape_timeout_seconds = 0;
};

/// Parses a /probe request: `target` and `module` from the URL query
/// string (percent-decoded by civetweb's mg_get_var, each at most 1023
/// bytes; null or missing: empty), and Prometheus'
/// X-Prometheus-Scrape-Timeout-Seconds header (`timeout_header`, may be
/// null), kept only when it is a number in (0, 86400). Never throws.
ProbeQuery ParseProbeQuery(const char* query_string, const char* timeout_header);

/// Callbacks into the rest of the exporter; called on HTTP threads.
struct HttpHooks {
  std::function<bool()> ready;         ///< answers GET /-/ready
  std::function<Result<Ok>()> reload;  ///< POST /-/reload; error detail is returned as 500
  /// GET /probe: the metric families of one probe. An error with reason
  /// "bad_request" answers 400, others 500; detail is the body.
  std::function<Result<std::vector<prometheus::MetricFamily>>(const ProbeQuery&)> probe;
  /// The stapling engine's certificates, for GET /api/v1/stapler and the
  /// landing page (none when null).
  std::function<std::vector<StaplerCertState>()> stapler;
};

/// The landing page `/`: links, every target and the stapling engine's
/// certificates, as they read at Unix time `now` (VerdictAt). Times of a
/// response whose signature did not verify are not shown; every text is
/// HTML-escaped.
std::string LandingPage(const std::vector<TargetSnapshot>& targets,
                        const std::vector<StaplerCertState>& stapled, int64_t now);

/// The JSON of GET /api/v1/stapler for `certs` (like HAProxy's
/// `show ssl ocsp-updates`): a list of objects with name, mode, status,
/// serving, fatal, times (RFC 3339), next refresh, successes, failures and
/// last error. Status as it reads at Unix time `now` (VerdictAt); times of a
/// response whose signature did not verify are null.
std::string StaplerJson(const std::vector<StaplerCertState>& certs, int64_t now);

class HttpServer {
 public:
  /// Borrowed objects must outlive the server.
  HttpServer(const ResultStore& store, const Collector& collector, HttpHooks hooks);
  ~HttpServer();  ///< stops serving, waits for handlers to finish
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and starts serving. Error reason "listen" when the address is
  /// malformed or cannot be bound.
  Result<Ok> Start(const HttpServerOptions& options);

  /// The bound port (after Start).
  int port() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// Escapes text for HTML element content and attribute values.
std::string HtmlEscape(std::string_view s);

}  // namespace ose
