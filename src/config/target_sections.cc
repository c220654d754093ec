// The target sections: [[tls]], [[responder]], [[file]], [[crl]],
// [[discovery]] (defaults of discovered [[tls]] targets) and [[module]]
// (settings of /probe). Each parses one table and appends to the Config.
#include "checker.h"
#include "ocsp_staple_exporter/config/file_sd.h"

namespace ose::config_parse {
namespace {

// The OCSP URLs of a section: `url`, or the certificate's AIA OCSP URLs
// (reported when there are none).
std::vector<std::string> OcspUrlsAt(Checker& c, const toml::table& t, const std::string& p,
                                    const LoadedCertPtr& cert) {
  std::vector<std::string> urls;
  if (auto url = c.UrlAt(t, p, "url", false)) {
    urls = {*url};
  } else if (cert) {
    urls = cert->ocsp_urls;
    if (urls.empty()) {
      c.Fail(t.get("cert_file")->source(), p + ".cert_file",
             "the certificate names no OCSP responder (AIA); set url");
    }
  }
  return urls;
}

}  // namespace

// [[tls]]
void ParseTls(Checker& c, const toml::table& t, const std::string& p, Config& cfg) {
  const GlobalConfig& g = cfg.global;
  c.CheckKeys(t, p, {"name", "address", "server_name", "ca_file", "interval", "timeout",
                     "revocation", "revocation_scope", "addresses", "handshakes", "starttls",
                     "starttls_ehlo"});
  TlsTarget target;
  target.name = c.UniqueName(t, p, "target");
  if (auto addr = c.String(t, p, "address", true)) {
    auto hp = ParseHostPort(*addr);
    if (!hp) {
      c.Fail(t.get("address")->source(), p + ".address", hp.error().detail);
    } else {
      target.address = *addr;
      target.endpoint = hp.value();
    }
  }
  TlsOptionsAt(c, t, p, g, target);
  cfg.tls.push_back(std::move(target));
}

// [[responder]]
void ParseResponder(Checker& c, const toml::table& t, const std::string& p, Config& cfg) {
  const GlobalConfig& g = cfg.global;
  c.CheckKeys(t, p, {"name", "cert_file", "issuer_file", "url", "method", "nonce",
                     "interval", "timeout", "revocation"});
  ResponderTarget target;
  target.name = c.UniqueName(t, p, "target");
  target.cert = c.CertAndIssuerAt(t, p, target.cert_file, target.issuer_file);
  target.revocation = RevocationAt(c, t, p, g.revocation);
  if (target.revocation == Revocation::kCrl) {
    // No OCSP request: a certificate without an OCSP URL is fine; one
    // without a CRL Distribution Point would leave nothing to check.
    if (target.cert && target.cert->crl_urls.empty()) {
      c.Fail(t.get("cert_file")->source(), p + ".cert_file",
             "revocation = \"crl\" but the certificate names no CRL Distribution Point");
    }
    if (t.get("url") != nullptr) {
      c.Fail(t.get("url")->source(), p + ".url",
             "revocation = \"crl\" sends no OCSP request; remove url or use \"both\"");
    }
  } else {
    target.urls = OcspUrlsAt(c, t, p, target.cert);
  }
  target.urls_from_aia = t.get("url") == nullptr;
  if (auto m = c.String(t, p, "method", false)) {
    if (*m == "auto") {
      target.method = HttpMethod::kAuto;
    } else if (*m == "get") {
      target.method = HttpMethod::kGet;
    } else if (*m == "post") {
      target.method = HttpMethod::kPost;
    } else {
      c.Fail(t.get("method")->source(), p + ".method", "must be auto, get or post");
    }
  }
  target.nonce = c.BoolAt(t, p, "nonce").value_or(false);
  target.interval = c.DurationAt(t, p, "interval").value_or(g.interval);
  target.timeout = c.DurationAt(t, p, "timeout").value_or(g.timeout);
  cfg.responders.push_back(std::move(target));
}

// [[file]]
void ParseFile(Checker& c, const toml::table& t, const std::string& p, Config& cfg) {
  const GlobalConfig& g = cfg.global;
  c.CheckKeys(t, p, {"name", "path", "cert_file", "issuer_file", "interval", "revocation"});
  FileTarget target;
  target.name = c.UniqueName(t, p, "target");
  // The staple file may not exist yet (that is the `absent` state): only
  // its path is checked here.
  if (auto path = c.String(t, p, "path", true)) target.path = c.Resolve(*path);
  target.cert = c.CertAndIssuerAt(t, p, target.cert_file, target.issuer_file);
  target.interval = c.DurationAt(t, p, "interval").value_or(g.interval);
  target.revocation = RevocationAt(c, t, p, g.revocation);
  cfg.files.push_back(std::move(target));
}

// [[crl]]
void ParseCrl(Checker& c, const toml::table& t, const std::string& p, Config& cfg) {
  const GlobalConfig& g = cfg.global;
  c.CheckKeys(t, p, {"name", "url", "path", "issuer_file", "interval", "timeout", "max_size",
                     "follow_redirects"});
  CrlTarget target;
  target.name = c.UniqueName(t, p, "target");
  if (auto url = c.UrlAt(t, p, "url", false)) target.url = *url;
  // The file may not exist yet (`absent`): only its path is checked here.
  if (auto path = c.String(t, p, "path", false)) target.path = c.Resolve(*path);
  if (t.get("url") != nullptr && t.get("path") != nullptr) {
    c.Fail(t.get("path")->source(), p + ".path", "set url or path, not both");
  } else if (t.get("url") == nullptr && t.get("path") == nullptr) {
    c.Fail(t.source(), p + ".url", "missing required key (url, or path for a local file)");
  }
  if (t.get("issuer_file") == nullptr) {
    c.Fail(t.source(), p + ".issuer_file", "missing required key");
  } else {
    target.issuer = c.CertsAt(t, p, "issuer_file", target.issuer_file);
    if (target.issuer && target.issuer->empty()) {
      c.Fail(t.get("issuer_file")->source(), p + ".issuer_file", "holds no certificate");
    }
  }
  target.interval = c.DurationAt(t, p, "interval").value_or(g.interval);
  target.timeout = c.DurationAt(t, p, "timeout").value_or(g.timeout);
  if (auto v = c.IntAt(t, p, "max_size", 1, int64_t{1} << 32)) target.max_size = *v;
  target.follow_redirects = c.BoolAt(t, p, "follow_redirects").value_or(false);
  cfg.crls.push_back(std::move(target));
}

// [[discovery]]
void ParseDiscovery(Checker& c, const toml::table& t, const std::string& p, Config& cfg) {
  const GlobalConfig& g = cfg.global;
  c.CheckKeys(t, p, {"name", "files", "refresh_interval", "server_name", "ca_file", "interval",
                     "timeout", "revocation", "revocation_scope", "addresses", "handshakes",
                     "starttls", "starttls_ehlo"});
  DiscoveryConfig d;
  d.name = c.UniqueName(t, p, "discovery");
  const toml::node* files = t.get("files");
  const toml::array* list = files != nullptr ? files->as_array() : nullptr;
  if (files == nullptr) {
    c.Fail(t.source(), p + ".files", "missing required key");
  } else if (list == nullptr || list->empty()) {
    c.Fail(files->source(), p + ".files", "must be a non-empty list of file paths or patterns");
  } else {
    for (size_t i = 0; i < list->size(); ++i) {
      const toml::node& f = *list->get(i);
      const std::string at = p + ".files[" + std::to_string(i) + "]";
      if (!f.is_string() || f.as_string()->get().empty()) {
        c.Fail(f.source(), at, "must be a non-empty string");
        continue;
      }
      std::string path = c.Resolve(f.as_string()->get());
      if (auto format = FileSdFormatOf(path); !format) {
        c.Fail(f.source(), at, "must end in .json, .yml or .yaml (the file_sd format)");
        continue;
      }
      d.files.push_back(std::move(path));
    }
  }
  d.refresh_interval = c.DurationAt(t, p, "refresh_interval").value_or(std::chrono::seconds(30));
  TlsOptionsAt(c, t, p, g, d.defaults);
  cfg.discovery.push_back(std::move(d));
}

// [[module]]
void ParseModule(Checker& c, const toml::table& t, const std::string& p, Config& cfg) {
  const GlobalConfig& g = cfg.global;
  c.CheckKeys(t, p, {"name", "server_name", "ca_file", "timeout", "revocation",
                     "revocation_scope", "addresses", "handshakes", "starttls", "starttls_ehlo"});
  Module m;
  m.name = c.UniqueName(t, p, "module");
  if (auto sn = c.String(t, p, "server_name", false)) m.server_name = *sn;
  m.ca_certs = c.CertsAt(t, p, "ca_file", m.ca_file);
  m.timeout = c.DurationAt(t, p, "timeout").value_or(g.timeout);
  // Not [global]'s: /probe fetches CRLs only for modules that say so.
  m.revocation = RevocationAt(c, t, p, Revocation::kOcsp);
  m.revocation_scope = RevocationScopeAt(c, t, p);
  FleetKeysAt(c, t, p, m.all_addresses, m.handshakes);
  StartTlsAt(c, t, p, m.starttls, m.starttls_ehlo);
  cfg.modules.push_back(std::move(m));
}

}  // namespace ose::config_parse
