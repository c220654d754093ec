#include "ocsp_staple_exporter/http/router.h"

#include <algorithm>

#include <curl/curl.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <optional>
#include <sstream>

#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/common/log.h"
#include "ocsp_staple_exporter/common/memory.h"
#include "ocsp_staple_exporter/common/text.h"
#include "ocsp_staple_exporter/http/gzip.h"

namespace ose {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr const char* kText = "text/plain; charset=utf-8";

HttpResponse Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// One query parameter, percent-decoded by libcurl ('+' is a space); ""
// when absent or longer than 1023 bytes.
std::string QueryVar(std::string_view query, std::string_view name) {
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t end = query.find('&', pos);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(pos, end - pos);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      std::string raw(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
      for (char& ch : raw) {
        if (ch == '+') ch = ' ';
      }
      int len = 0;
      char* decoded = curl_easy_unescape(nullptr, raw.c_str(), static_cast<int>(raw.size()), &len);
      if (decoded == nullptr) return "";
      std::string out = len <= 1023 ? std::string(decoded, static_cast<size_t>(len)) : "";
      curl_free(decoded);
      return out;
    }
    pos = end + 1;
  }
  return "";
}

// Whether an Origin header ("https://host:port", or "null") names the host
// the request was sent to (its Host header).
bool SameOrigin(std::string_view origin, std::string_view host) {
  const size_t scheme = origin.find("://");
  if (scheme == std::string_view::npos || host.empty()) return false;
  return origin.substr(scheme + 3) == host;
}

bool AcceptsGzip(const HttpRequest& req) {
  return req.Header("accept-encoding").find("gzip") != std::string_view::npos;
}

}  // namespace

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

ProbeQuery ParseProbeQuery(const char* query_string, const char* timeout_header) {
  ProbeQuery q;
  const std::string_view query = query_string != nullptr ? query_string : "";
  q.target = QueryVar(query, "target");
  q.module = QueryVar(query, "module");
  q.revocation = QueryVar(query, "revocation");
  if (timeout_header != nullptr) {
    char* end = nullptr;
    double v = std::strtod(timeout_header, &end);
    if (end != timeout_header && v > 0 && v < 86400) q.scrape_timeout_seconds = v;
  }
  return q;
}

std::string StaplerJson(const std::vector<StaplerCertState>& certs, int64_t now) {
  auto time = [](std::optional<int64_t> t) -> nlohmann::json {
    if (!t || *t == 0) return nullptr;
    return FormatUnixTime(*t);
  };
  nlohmann::json out = nlohmann::json::array();
  for (auto c : certs) {
    c.held = VerdictAt(c.held, now);  // as it reads now
    // Times of a response whose signature did not verify are not shown.
    auto authentic = [&](std::optional<int64_t> t) {
      return c.held.signature_verified ? time(t) : nlohmann::json(nullptr);
    };
    out.push_back({{"name", c.name},
                   {"mode", std::string(ModeName(c.mode))},
                   {"must_staple", c.must_staple},
                   {"key", c.key},
                   {"status", std::string(StateName(c.held.state))},
                   {"invalid_reason", c.held.invalid_reason},
                   {"source", c.held_source},
                   {"serving", c.serving},
                   {"fatal", c.fatal},
                   {"this_update", authentic(c.held.this_update)},
                   {"next_update", authentic(c.held.next_update)},
                   {"produced_at", authentic(c.held.produced_at)},
                   {"revoked_at", authentic(c.held.revoked_at)},
                   {"revocation_reason", c.held.revocation_reason.value_or("")},
                   {"last_update", time(c.last_update)},
                   {"next_refresh", time(c.next_refresh)},
                   {"successes", c.successes},
                   {"failures", c.failures},
                   {"consecutive_failures", c.failures_in_row},
                   {"last_error", c.last_error}});
  }
  // Invalid UTF-8 from the network is replaced, never thrown on.
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Router::Router(const ResultStore& store, const Collector& collector, HttpHooks hooks,
               RouterOptions options, RequestStats* stats,
               std::function<void(std::function<void()>)> run_heavy,
               std::function<void(std::function<void()>)> run_auth)
    : store_(store),
      collector_(collector),
      hooks_(std::move(hooks)),
      options_(std::move(options)),
      stats_(stats),
      run_heavy_(std::move(run_heavy)),
      run_auth_(run_auth ? std::move(run_auth) : run_heavy_),
      web_(std::make_shared<const WebConfig>()) {}

void Router::SetWebConfig(std::shared_ptr<const WebConfig> config) {
  std::lock_guard lock(mu_);
  web_ = config ? std::move(config) : std::make_shared<const WebConfig>();
}

std::string_view Router::HandlerOf(std::string_view path) const {
  static constexpr std::string_view kFixed[] = {"/", "/-/healthy", "/-/ready", "/-/reload",
                                                "/probe", "/api/v1/stapler"};
  if (path == options_.telemetry_path) return options_.telemetry_path;
  for (std::string_view h : kFixed) {
    if (path == h) return h;
  }
  return kHandlerOther;
}

void Router::Handle(HttpRequest req, Reply reply) {
  const auto start = SteadyClock::now();
  std::shared_ptr<const WebConfig> web;
  {
    std::lock_guard lock(mu_);
    web = web_;
  }
  const std::string handler(HandlerOf(req.path));
  // Every answer carries the web config's headers and is counted.
  Reply finish = [this, web, handler, start, head = req.method == "HEAD",
                  gzip = AcceptsGzip(req), reply = std::move(reply)](HttpResponse r) {
    for (const auto& h : web->headers) r.headers.push_back(h);
    r.headers.emplace_back("Cache-Control", "no-store");
    const bool encoded = std::any_of(r.headers.begin(), r.headers.end(), [](const auto& h) {
      return h.first == "Content-Encoding";
    });
    if (r.body.size() > 1024 && gzip && r.status == 200 && !head && !encoded) {
      // Fastest level: a scrape of 50k targets is 65 MB of text.
      if (auto gz = Gzip(r.body)) {
        r.body = std::move(*gz);
        r.headers.emplace_back("Content-Encoding", "gzip");
      }
    }
    if (stats_ != nullptr) {
      stats_->Observe(handler, r.status,
                      std::chrono::duration<double>(SteadyClock::now() - start).count());
    }
    reply(std::move(r));
  };
  if (web->basic_auth_users.empty() || req.path == "/-/healthy") {
    Route(req, handler, std::move(finish));
    return;
  }
  auto decided = [this](const HttpRequest& req, std::string_view handler, bool ok,
                        Reply finish) {
    if (!ok) {
      HttpResponse r = Text(401, "Unauthorized\n");
      r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"ocsp_staple_exporter\"");
      finish(std::move(r));
      return;
    }
    Route(req, handler, std::move(finish));
  };
  // A cached outcome answers on this (I/O) thread: Prometheus' scrape with
  // known credentials never waits behind bcrypt checks of other clients.
  std::optional<bool> cached;
  try {
    cached = auth_.Cached(web->basic_auth_users, req.Header("authorization"));
  } catch (const std::exception& e) {
    log::Warn("basic auth check failed", {{"peer", req.peer}, {"err", e.what()}});
    cached = false;
  }
  if (cached) {
    decided(req, handler, *cached, std::move(finish));
    return;
  }
  // bcrypt (a cache miss) is too slow for the I/O threads.
  run_auth_([this, web, handler, decided, req = std::move(req),
             finish = std::move(finish)]() mutable {
    bool ok = false;
    try {
      ok = auth_.Check(web->basic_auth_users, req.Header("authorization"));
    } catch (const std::exception& e) {  // never take the worker (and the process) down
      log::Warn("basic auth check failed", {{"peer", req.peer}, {"err", e.what()}});
    }
    decided(req, handler, ok, std::move(finish));
  });
}

namespace {

// One route: its path (empty: --web.telemetry-path), the methods it takes
// (GET also answers HEAD), and its handler.
struct RouteEntry {
  std::string_view path;
  std::string_view method;  ///< "GET" or "POST"
  void (Router::*serve)(const HttpRequest&, Router::Reply);
};

}  // namespace

void Router::Route(const HttpRequest& req, std::string_view handler, Reply reply) {
  // The routes, as data (a member function of the router may name the
  // private handlers).
  static constexpr RouteEntry kRoutes[] = {
      {"", "GET", &Router::ServeMetrics},
      {"/-/healthy", "GET", &Router::ServeHealthy},
      {"/-/ready", "GET", &Router::ServeReady},
      {"/api/v1/stapler", "GET", &Router::ServeStaplerJson},
      {"/", "GET", &Router::ServeLandingPage},
      {"/probe", "GET", &Router::ServeProbe},
      {"/-/reload", "POST", &Router::ServeReload},
  };
  const bool telemetry = handler == options_.telemetry_path;
  const RouteEntry* route = nullptr;
  for (const RouteEntry& r : kRoutes) {
    if (telemetry ? r.path.empty() : r.path == handler) route = &r;
  }
  if (route == nullptr) return reply(Text(404, "Not found\n"));
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (route->method == "POST" && req.method != "POST") {
    HttpResponse r = Text(405, "Method not allowed: POST to reload\n");
    r.headers.emplace_back("Allow", "POST");
    return reply(std::move(r));
  }
  if (route->method == "GET" && !get) {
    HttpResponse r = Text(405, "Method not allowed\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return reply(std::move(r));
  }
  (this->*route->serve)(req, std::move(reply));
}

void Router::RunHeavy(std::function<HttpResponse()> make, Reply reply) {
  run_heavy_([make = std::move(make), reply = std::move(reply)]() {
    HttpResponse r;
    try {
      r = make();
    } catch (const std::exception& e) {
      log::Error("HTTP handler failed", {{"err", e.what()}});
      r = Text(500, "Internal error\n");
    }
    reply(std::move(r));
  });
}

std::vector<StaplerCertState> Router::Stapled() const {
  return hooks_.stapler ? hooks_.stapler() : std::vector<StaplerCertState>{};
}

void Router::ServeMetrics(const HttpRequest& req, Reply reply) {
  // A client that takes gzip (Prometheus does) gets the text compressed
  // family by family as it is rendered: 50,000 targets are ~80 MB of text
  // that never exists at once. HEAD gets the text's length.
  const bool gzip = AcceptsGzip(req) && req.method != "HEAD";
  RunHeavy(
      [this, gzip] {
        HttpResponse r;
        std::optional<std::string> gz;
        if (gzip) gz = collector_.CollectGzip();
        if (gz) {
          r.body = std::move(*gz);
          r.headers.emplace_back("Content-Encoding", "gzip");
        } else {
          r.body = collector_.CollectText();
        }
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        // The families' buffers (tens of MB at 50,000 targets) are free
        // again: give their pages back rather than hold the peak as RSS.
        ReleaseFreeHeap();
        return r;
      },
      std::move(reply));
}

void Router::ServeHealthy(const HttpRequest&, Reply reply) { reply(Text(200, "Healthy\n")); }

void Router::ServeReady(const HttpRequest&, Reply reply) {
  reply(hooks_.ready() ? Text(200, "Ready\n") : Text(503, "Not ready: first probes running\n"));
}

void Router::ServeStaplerJson(const HttpRequest&, Reply reply) {
  RunHeavy(
      [this] {
        HttpResponse r = Text(200, StaplerJson(Stapled(), NowUnix()));
        r.content_type = "application/json";
        return r;
      },
      std::move(reply));
}

void Router::ServeLandingPage(const HttpRequest&, Reply reply) {
  RunHeavy(
      [this] {
        HttpResponse r = Text(
            200, LandingPage(store_.Snapshot(), Stapled(), NowUnix(), options_.telemetry_path));
        r.content_type = "text/html; charset=utf-8";
        r.headers.emplace_back("Content-Security-Policy", LandingPageCsp());
        return r;
      },
      std::move(reply));
}

void Router::ServeProbe(const HttpRequest& req, Reply reply) {
  const std::string timeout(req.Header("x-prometheus-scrape-timeout-seconds"));
  ProbeQuery q = ParseProbeQuery(req.query.c_str(), timeout.empty() ? nullptr : timeout.c_str());
  if (q.target.empty()) return reply(Text(400, "target parameter is missing\n"));
  if (probes_in_flight_.fetch_add(1) >= options_.max_probe_requests) {
    probes_in_flight_.fetch_sub(1);
    return reply(Text(503, "too many /probe requests in flight (--web.max-probe-requests=" +
                               std::to_string(options_.max_probe_requests) + ")\n"));
  }
  hooks_.probe(q, [this, reply](Result<std::string> text) {
    probes_in_flight_.fetch_sub(1);
    if (!text) {
      const std::string& reason = text.error().reason;
      reply(Text(reason == "bad_request" ? 400 : reason == "forbidden" ? 403 : 500,
                 text.error().detail + "\n"));
      return;
    }
    HttpResponse r = Text(200, std::move(text).value());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    reply(std::move(r));
  });
}

void Router::ServeReload(const HttpRequest& req, Reply reply) {
  // A browser page of another site must not make an operator's browser
  // reload the exporter (CSRF): refuse cross-site fetches and foreign Origins.
  const std::string_view site = req.Header("sec-fetch-site");
  const std::string_view origin = req.Header("origin");
  if (site == "cross-site" || (!origin.empty() && !SameOrigin(origin, req.Header("host")))) {
    return reply(Text(403, "Forbidden: cross-site request to /-/reload\n"));
  }
  RunHeavy(
      [this] {
        auto r = hooks_.reload();
        return r ? Text(200, "Reloaded\n")
                 : Text(500, "failed to reload config: " + r.error().detail + "\n");
      },
      std::move(reply));
}

}  // namespace ose
