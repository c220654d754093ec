#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/http/server.h"

#include "ocsp_staple_exporter/http/gzip.h"

#include "ocsp_staple_exporter/common/text.h"

#include <civetweb.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <optional>
#include <ctime>
#include <mutex>
#include <sstream>

#include "ocsp_staple_exporter/common/log.h"
#include "ocsp_staple_exporter/config/config.h"

namespace ose {

struct HttpServer::Impl {
  const ResultStore& store;
  const Collector& collector;
  HttpHooks hooks;
  mg_context* ctx = nullptr;
  int port = 0;
};

namespace {

bool AcceptsGzip(mg_connection* conn) {
  const char* ae = mg_get_header(conn, "Accept-Encoding");
  return ae != nullptr && std::strstr(ae, "gzip") != nullptr;
}

void Reply(mg_connection* conn, int status, const char* content_type, const std::string& body,
           bool compress = false) {
  std::optional<std::string> gz;
  if (compress && body.size() > 1024 && AcceptsGzip(conn)) gz = Gzip(body);  // fastest level
  const std::string& payload = gz ? *gz : body;
  // Connections are kept alive (Prometheus and /probe callers reuse them):
  // head and a small body go out in one write, or Nagle's algorithm and the
  // peer's delayed ACK hold the body back ~40 ms.
  std::string head = std::string("HTTP/1.1 ") + std::to_string(status) + " " +
                     mg_get_response_code_text(conn, status) + "\r\nContent-Type: " +
                     content_type + "\r\nContent-Length: " + std::to_string(payload.size()) +
                     "\r\n" + (gz ? "Content-Encoding: gzip\r\n" : "") +
                     "Cache-Control: no-store\r\n\r\n";
  if (payload.size() <= 64 * 1024) {
    head += payload;
    mg_write(conn, head.data(), head.size());
  } else {
    mg_write(conn, head.data(), head.size());
    mg_write(conn, payload.data(), payload.size());
  }
}


}  // namespace

std::string LandingPage(const std::vector<TargetSnapshot>& targets,
                        const std::vector<StaplerCertState>& stapled, int64_t now) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>OCSP Staple Exporter"
       "</title>\n<style>body{font-family:sans-serif;margin:2em}table{border-collapse:"
       "collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
       "td.d{max-width:32em;overflow-wrap:anywhere;font-size:85%;color:#444}"
       ".t{white-space:nowrap}"
       ".good{color:#186a3b}.revoked,.invalid,.failed{color:#b03a2e;font-weight:bold}"
       ".absent,.unknown{color:#9a7d0a}</style></head><body>\n"
       "<h1>OCSP Staple Exporter</h1>\n<p>Version " OSE_VERSION " (" OSE_REVISION ")</p>\n"
       "<ul><li><a href=\"metrics\">Metrics</a></li>"
       "<li><form action=\"probe\" method=\"get\" style=\"display:inline\">Probe "
       "<input name=\"target\" placeholder=\"host:443\"> <input type=\"submit\" "
       "value=\"Go\"></form></li><li><a href=\"-/healthy\">Health</a></li>"
       "<li><a href=\"-/ready\">Readiness</a></li>"
       "<li><a href=\"api/v1/stapler\">Stapling engine (JSON)</a></li></ul>\n<h2>Targets</h2>\n";
  h << "<table><tr><th>Target</th><th>Kind</th><th>Address</th><th>State</th>"
       "<th>Staple</th><th>Must-Staple</th><th>nextUpdate</th><th>Last probe</th>"
       "<th>Detail</th></tr>\n";
  for (const auto& t : targets) {
    h << "<tr><td>" << HtmlEscape(t.name) << "</td><td>" << HtmlEscape(t.kind) << "</td><td>"
      << HtmlEscape(t.address) << "</td>";
    if (!t.last) {
      h << "<td>pending</td><td></td><td></td><td></td><td></td><td></td></tr>\n";
      continue;
    }
    ProbeResult r = *t.last;
    r.verdict = VerdictAt(r.verdict, now);  // as it reads now
    if (r.crl) r.crl->verdict = CrlVerdictAt(r.crl->verdict, now);
    std::string label = StateLabel(r);
    std::string cls = label.substr(0, label.find_first_of(":+"));
    if (r.crl) {  // a CRL is not a staple: its states take the same colours
      cls = cls == "crl_valid" ? "good" : cls == "crl_absent" ? "absent" : "invalid";
    }
    if (r.leaf_crl) {  // a revocation through the CRL colours the row too
      const LeafCrlState s = r.leaf_crl->state;
      if (s == LeafCrlState::kRevoked) cls = "revoked";
      if (r.ocsp_skipped) cls = s == LeafCrlState::kGood ? "good" : s == LeafCrlState::kRevoked
                                                                   ? "revoked" : "unknown";
    }
    h << "<td class=\"" << HtmlEscape(cls) << "\">" << HtmlEscape(label) << "</td>";
    const bool staple = r.success && !r.crl && !r.ocsp_skipped;
    h << "<td>" << (staple ? (r.staple_present ? "yes" : "no") : "") << "</td>";
    h << "<td>" << (staple ? (r.must_staple ? "yes" : "no") : "") << "</td>";
    std::optional<int64_t> next_update;
    if (r.crl && r.crl->verdict.signature_verified) next_update = r.crl->verdict.next_update;
    if (!r.crl && r.verdict.signature_verified) next_update = r.verdict.next_update;
    h << "<td class=\"t\">" << (next_update ? FormatUnixTime(*next_update) : "") << "</td>";
    h << "<td class=\"t\">" << FormatUnixTime(r.finished_at) << "</td>";
    std::string detail =
        !r.success ? r.detail : r.crl ? r.crl->verdict.detail : r.verdict.detail;
    if (r.success && r.leaf_crl) {
      const LeafCrlStatus& c = *r.leaf_crl;
      std::string crl = "CRL: " + std::string(kLeafCrlStateNames[static_cast<int>(c.state)]);
      if (c.state == LeafCrlState::kRevoked) {
        crl += " (" + c.reason + (c.revoked_at ? ", " + FormatUnixTime(*c.revoked_at) : "") +
               (c.from_delta ? ", delta CRL" : "") + ")";
      }
      if (!c.detail.empty()) crl += ": " + c.detail;
      detail = detail.empty() || r.ocsp_skipped ? crl : detail + "; " + crl;
    }
    h << "<td class=\"d\">" << HtmlEscape(detail) << "</td></tr>\n";
  }
  h << "</table>\n";
  if (!stapled.empty()) {
    h << "<h2>Stapling engine</h2>\n<table><tr><th>Certificate</th><th>Mode</th><th>Status</th>"
         "<th>Serving</th><th>Fatal</th><th>nextUpdate</th><th>Next refresh</th>"
         "<th>Last error</th></tr>\n";
    for (auto c : stapled) {
      c.held = VerdictAt(c.held, now);
      std::string status(StateName(c.held.state));
      h << "<tr><td>" << HtmlEscape(c.name) << "</td><td>" << ModeName(c.mode)
        << "</td><td class=\"" << status << "\">" << status << "</td><td>"
        << (c.serving ? "yes" : "no") << "</td><td class=\"" << (c.fatal ? "failed" : "")
        << "\">" << (c.fatal ? "FATAL" : "no") << "</td><td class=\"t\">"
        << (c.held.signature_verified && c.held.next_update
                ? FormatUnixTime(*c.held.next_update)
                : "")
        << "</td><td class=\"t\">" << (c.next_refresh ? FormatUnixTime(c.next_refresh) : "")
        << "</td><td class=\"d\">" << HtmlEscape(c.last_error) << "</td></tr>\n";
    }
    h << "</table>\n";
  }
  h << "</body></html>\n";
  return h.str();
}

namespace {

std::string QueryVar(const char* query_string, const char* name) {
  if (query_string == nullptr) return "";
  char buf[1024];
  int n = mg_get_var(query_string, std::strlen(query_string), name, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

}  // namespace

ProbeQuery ParseProbeQuery(const char* query_string, const char* timeout_header) {
  ProbeQuery q;
  q.target = QueryVar(query_string, "target");
  q.module = QueryVar(query_string, "module");
  if (timeout_header != nullptr) {
    char* end = nullptr;
    double v = std::strtod(timeout_header, &end);
    if (end != timeout_header && v > 0 && v < 86400) q.scrape_timeout_seconds = v;
  }
  return q;
}

namespace {

void HandleProbe(mg_connection* conn, const mg_request_info* req, HttpServer::Impl& impl) {
  ProbeQuery q = ParseProbeQuery(req->query_string,
                                 mg_get_header(conn, "X-Prometheus-Scrape-Timeout-Seconds"));
  if (q.target.empty()) {
    Reply(conn, 400, "text/plain; charset=utf-8", "target parameter is missing\n");
    return;
  }
  auto families = impl.hooks.probe(q);
  if (!families) {
    Reply(conn, families.error().reason == "bad_request" ? 400 : 500,
          "text/plain; charset=utf-8", families.error().detail + "\n");
    return;
  }
  Reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8", SerializeText(families.value()));
}

int Handle(mg_connection* conn, void* data) {
  auto* impl = static_cast<HttpServer::Impl*>(data);
  const mg_request_info* req = mg_get_request_info(conn);
  std::string uri = req->local_uri ? req->local_uri : "";
  std::string method = req->request_method ? req->request_method : "";
  bool get = method == "GET" || method == "HEAD";
  try {
    if (uri == "/metrics" && get) {
      Reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8",
            impl->collector.CollectText(), /*compress=*/true);
    } else if (uri == "/-/healthy" && get) {
      Reply(conn, 200, "text/plain; charset=utf-8", "Healthy\n");
    } else if (uri == "/-/ready" && get) {
      if (impl->hooks.ready()) {
        Reply(conn, 200, "text/plain; charset=utf-8", "Ready\n");
      } else {
        Reply(conn, 503, "text/plain; charset=utf-8", "Not ready: first probes running\n");
      }
    } else if (uri == "/api/v1/stapler" && get) {
      Reply(conn, 200, "application/json",
            StaplerJson(impl->hooks.stapler ? impl->hooks.stapler()
                                            : std::vector<StaplerCertState>{},
                        NowUnix()));
    } else if (uri == "/probe" && get) {
      HandleProbe(conn, req, *impl);
    } else if (uri == "/-/reload" && (method == "POST" || method == "PUT")) {
      auto r = impl->hooks.reload();
      if (r) {
        Reply(conn, 200, "text/plain; charset=utf-8", "Reloaded\n");
      } else {
        Reply(conn, 500, "text/plain; charset=utf-8",
              "failed to reload config: " + r.error().detail + "\n");
      }
    } else if (uri == "/" && get) {
      Reply(conn, 200, "text/html; charset=utf-8",
            LandingPage(impl->store.Snapshot(),
                        impl->hooks.stapler ? impl->hooks.stapler()
                                            : std::vector<StaplerCertState>{},
                        NowUnix()));
    } else if (uri == "/metrics" || uri == "/-/healthy" || uri == "/-/ready" || uri == "/" ||
               uri == "/-/reload" || uri == "/probe" ||
               uri == "/api/v1/stapler") {
      Reply(conn, 405, "text/plain; charset=utf-8", "Method not allowed\n");
    } else {
      Reply(conn, 404, "text/plain; charset=utf-8", "Not found\n");
    }
  } catch (const std::exception& e) {
    log::Error("HTTP handler failed", {{"uri", uri}, {"err", e.what()}});
    Reply(conn, 500, "text/plain; charset=utf-8", "Internal error\n");
  }
  return 1;  // handled
}

int LogMessage(const mg_connection*, const char* message) {
  log::Warn("http server", {{"err", message}});
  return 1;
}

}  // namespace

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

std::string HtmlEscape(std::string_view raw) {
  std::string s = ValidUtf8(raw);
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

HttpServer::HttpServer(const ResultStore& store, const Collector& collector, HttpHooks hooks)
    : impl_(std::make_unique<Impl>(Impl{store, collector, std::move(hooks)})) {}

HttpServer::~HttpServer() {
  if (impl_->ctx != nullptr) mg_stop(impl_->ctx);
}

Result<Ok> HttpServer::Start(const HttpServerOptions& options) {
  static std::once_flag init;
  std::call_once(init, [] { mg_init_library(0); });
  // civetweb wants "PORT" for every interface, "HOST:PORT" / "[V6]:PORT" otherwise.
  std::string ports = options.listen_address;
  if (!ports.empty() && ports.front() == ':') {
    ports = ports.substr(1);
  } else {
    auto hp = ParseHostPort(ports);
    if (!hp && ports.size() > 2 && ports.substr(ports.size() - 2) == ":0") {
      hp = HostPort{ports.substr(0, ports.size() - 2), 0};
    }
    if (!hp) return Error{"listen", "--web.listen-address: " + hp.error().detail};
    if (hp->host.find(':') != std::string::npos && mg_check_feature(8) == 0) {
      return Error{"listen",
                   "--web.listen-address: " + options.listen_address +
                       ": this civetweb build has no IPv6 support; listen on an IPv4 address "
                       "or :PORT"};
    }
  }
  std::string threads = std::to_string(options.threads);
  const char* opts[] = {"listening_ports", ports.c_str(), "num_threads", threads.c_str(),
                        "request_timeout_ms", "30000", "enable_keep_alive", "yes",
                        "keep_alive_timeout_ms", "1000", nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = LogMessage;
  impl_->ctx = mg_start(&callbacks, nullptr, opts);
  if (impl_->ctx == nullptr) {
    return Error{"listen", "cannot listen on " + options.listen_address};
  }
  mg_set_request_handler(impl_->ctx, "/", Handle, impl_.get());
  mg_server_port bound[4];
  int n = mg_get_server_ports(impl_->ctx, 4, bound);
  if (n > 0) impl_->port = bound[0].port;
  return Ok{};
}

int HttpServer::port() const { return impl_->port; }

}  // namespace ose
