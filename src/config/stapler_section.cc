// [stapler] and its [[stapler.certificate]]s: the stapling engine.
#include "checker.h"

namespace ose::config_parse {
namespace {

// Where each certificate's output_file was set, for errors about it.
using OutputPositions = std::map<std::string, toml::source_region>;

// [[stapler.certificate]]
void ParseStaplerCertificate(Checker& c, const toml::table& t, const std::string& p,
                             Config& cfg, OutputPositions& output_at) {
  const GlobalConfig& g = cfg.global;
  c.CheckKeys(t, p, {"name", "cert_file", "issuer_file", "mode", "url", "output_file",
                     "haproxy_socket", "reload_command", "timeout", "revocation"});
  StaplerCertificate sc_cert;
  sc_cert.name = c.UniqueName(t, p, "stapler.certificate");
  sc_cert.cert = c.CertAndIssuerAt(t, p, sc_cert.cert_file, sc_cert.issuer_file);
  if (auto m = c.String(t, p, "mode", false)) {
    if (*m != "auto" && *m != "must" && *m != "always" && *m != "never") {
      c.Fail(t.get("mode")->source(), p + ".mode", "must be auto, must, always or never");
    }
    sc_cert.mode = *m;
  }
  // Without an OCSP URL (AIA or `url`) a certificate can never be
  // stapled: fatal-by-design modes refuse to start (as NATS does);
  // auto and never skip it (the engine logs it once).
  if (auto url = c.UrlAt(t, p, "url", false)) {
    sc_cert.urls = {*url};
  } else if (sc_cert.cert) {
    sc_cert.urls = sc_cert.cert->ocsp_urls;
    if (sc_cert.urls.empty() && (sc_cert.mode == "must" || sc_cert.mode == "always")) {
      c.Fail(t.get("cert_file")->source(), p + ".cert_file",
             "certificate \"" + sc_cert.name + "\" names no OCSP responder (AIA) and mode "
             "is " + sc_cert.mode + ": it can never be stapled; set url");
    }
  }
  sc_cert.urls_from_aia = t.get("url") == nullptr;
  // The staple is OCSP whatever this says; crl/both add the CRL check.
  sc_cert.revocation = RevocationAt(c, t, p, g.revocation);
  if (auto o = c.String(t, p, "output_file", false)) {
    sc_cert.output_file = c.Resolve(*o);
    output_at[sc_cert.name] = t.get("output_file")->source();
  }
  if (auto h = c.String(t, p, "haproxy_socket", false)) sc_cert.haproxy_socket = c.Resolve(*h);
  if (auto r = c.String(t, p, "reload_command", false)) sc_cert.reload_command = *r;
  sc_cert.timeout = c.DurationAt(t, p, "timeout").value_or(g.timeout);
  cfg.stapler.certificates.push_back(std::move(sc_cert));
}

// A published staple must never overwrite a certificate, a key bundle or
// another certificate's staple, nor land in the engine's own cache.
void CheckStapleOutputs(Checker& c, const Config& cfg, const OutputPositions& output_at) {
  const StaplerConfig& sc = cfg.stapler;
  std::map<std::string, std::string> inputs;  // path -> what it is
  auto note = [&](const std::string& path, const std::string& what) {
    if (!path.empty()) inputs.emplace(fs::path(path).lexically_normal().string(), what);
  };
  note(fs::absolute(cfg.file).string(), "the config file");
  for (const auto& x : cfg.tls) note(x.ca_file, "tls " + x.name + " ca_file");
  for (const auto& x : cfg.responders) {
    note(x.cert_file, "responder " + x.name + " cert_file");
    note(x.issuer_file, "responder " + x.name + " issuer_file");
  }
  for (const auto& x : cfg.files) {
    note(x.cert_file, "file " + x.name + " cert_file");
    note(x.issuer_file, "file " + x.name + " issuer_file");
  }
  for (const auto& x : sc.certificates) {
    note(x.cert_file, "certificate " + x.name + " cert_file");
    note(x.issuer_file, "certificate " + x.name + " issuer_file");
  }
  std::map<std::string, std::string> outputs;
  for (size_t i = 0; i < sc.certificates.size(); ++i) {
    const auto& x = sc.certificates[i];
    if (x.output_file.empty()) continue;
    std::string key = "stapler.certificate[" + std::to_string(i) + "].output_file";
    const auto& at = output_at.at(x.name);
    if (auto in = inputs.find(x.output_file); in != inputs.end()) {
      c.Fail(at, key, "\"" + x.output_file + "\" is also " + in->second +
                          ": a staple would overwrite it");
    } else if (auto o = outputs.find(x.output_file); o != outputs.end()) {
      c.Fail(at, key, "\"" + x.output_file + "\" is also the output_file of certificate " +
                          o->second);
    } else if (x.output_file == sc.store_dir ||
               fs::path(x.output_file).parent_path() == fs::path(sc.store_dir)) {
      c.Fail(at, key, "must not be inside store_dir (the engine's own cache)");
    }
    outputs.emplace(x.output_file, x.name);
  }
}

}  // namespace

void ParseStapler(Checker& c, const toml::table& st, Config& cfg) {
  StaplerConfig& sc = cfg.stapler;
  c.CheckKeys(st, "stapler", {"store_dir", "min_refresh", "max_refresh", "reload_min_interval",
                              "ready_timeout", "exit_on_fatal", "failure_backoff",
                              "command_timeout", "fatal_command", "certificate"});
  if (auto d = c.String(st, "stapler", "store_dir", false)) sc.store_dir = c.Resolve(*d);
  if (auto d = c.DurationAt(st, "stapler", "min_refresh")) sc.min_refresh = *d;
  if (auto d = c.DurationAt(st, "stapler", "max_refresh")) sc.max_refresh = *d;
  if (auto d = c.DurationAt(st, "stapler", "reload_min_interval")) {
    sc.reload_min_interval = *d;
  }
  if (auto d = c.DurationAt(st, "stapler", "ready_timeout")) sc.ready_timeout = *d;
  if (auto d = c.DurationAt(st, "stapler", "failure_backoff")) sc.failure_backoff = *d;
  if (auto d = c.DurationAt(st, "stapler", "command_timeout")) sc.command_timeout = *d;
  if (sc.min_refresh > sc.max_refresh) {
    c.Fail(st.source(), "stapler.min_refresh", "must not exceed max_refresh");
  }
  sc.exit_on_fatal = c.BoolAt(st, "stapler", "exit_on_fatal").value_or(false);
  if (auto f = c.String(st, "stapler", "fatal_command", false)) sc.fatal_command = *f;
  OutputPositions output_at;
  c.EachTable(st, "stapler", "certificate", [&](const toml::table& t, const std::string& p) {
    ParseStaplerCertificate(c, t, p, cfg, output_at);
  });
  if (!sc.certificates.empty() && sc.store_dir.empty()) {
    c.Fail(st.source(), "stapler.store_dir", "missing required key");
  }
  CheckStapleOutputs(c, cfg, output_at);
}

}  // namespace ose::config_parse
