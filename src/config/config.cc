#include "ocsp_staple_exporter/config/config.h"

#include <openssl/evp.h>

#include <arpa/inet.h>

#include <algorithm>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "ocsp_staple_exporter/common/curl_body.h"
#include "ocsp_staple_exporter/config/cert_watch.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"

namespace ose {
namespace {

namespace fs = std::filesystem;

// The longest duration a config may name (10 years): every time computed
// from one (now + interval, thisUpdate + default_validity) stays far from
// int64 overflow.
constexpr Duration kMaxDuration = std::chrono::hours(24 * 365 * 10);

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_';
}

// Collects every problem of one file, each with its source position.
class Checker {
 public:
  Checker(std::string file, fs::path dir) : file_(std::move(file)), dir_(std::move(dir)) {}

  void Fail(const toml::source_region& at, std::string_view key, std::string_view msg) {
    std::ostringstream out;
    out << file_ << ':' << at.begin.line << ':' << at.begin.column << ": " << key << ": "
        << msg;
    errors_.push_back(out.str());
  }

  // Reports every key of `t` not in `allowed`.
  void CheckKeys(const toml::table& t, std::string_view path,
                 std::initializer_list<std::string_view> allowed) {
    for (auto&& [k, v] : t) {
      bool known = false;
      for (auto a : allowed) known = known || k.str() == a;
      if (!known) Fail(k.source(), Join(path, k.str()), "unknown key");
    }
  }

  static std::string Join(std::string_view path, std::string_view key) {
    if (path.empty()) return std::string(key);
    return std::string(path) + "." + std::string(key);
  }

  // Returns the string at t[key]; reports a type error or, when required, absence.
  std::optional<std::string> String(const toml::table& t, std::string_view path,
                                    std::string_view key, bool required) {
    const toml::node* n = t.get(key);
    if (n == nullptr) {
      if (required) Fail(t.source(), Join(path, key), "missing required key");
      return std::nullopt;
    }
    if (!n->is_string()) {
      Fail(n->source(), Join(path, key), "must be a string");
      return std::nullopt;
    }
    std::string s = n->as_string()->get();
    if (s.empty()) {
      Fail(n->source(), Join(path, key), "must not be empty");
      return std::nullopt;
    }
    return s;
  }

  std::optional<Duration> DurationAt(const toml::table& t, std::string_view path,
                                     std::string_view key) {
    auto s = String(t, path, key, false);
    if (!s) return std::nullopt;
    auto d = ParseDuration(*s);
    if (!d) {
      Fail(t.get(key)->source(), Join(path, key),
           "invalid duration \"" + *s + "\" (want e.g. \"30s\", \"5m\", \"1h\")");
      return std::nullopt;
    }
    if (d->count() <= 0) {
      Fail(t.get(key)->source(), Join(path, key), "must be greater than zero");
      return std::nullopt;
    }
    if (*d > kMaxDuration) {
      Fail(t.get(key)->source(), Join(path, key), "must be at most 10y");
      return std::nullopt;
    }
    return d;
  }

  std::optional<int64_t> IntAt(const toml::table& t, std::string_view path,
                               std::string_view key, int64_t min, int64_t max) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    auto v = n->value_exact<int64_t>();
    if (!v) {
      Fail(n->source(), Join(path, key), "must be an integer");
    } else if (*v < min || *v > max) {
      Fail(n->source(), Join(path, key),
           "must be between " + std::to_string(min) + " and " + std::to_string(max));
    } else {
      return *v;
    }
    return std::nullopt;
  }

  std::optional<bool> BoolAt(const toml::table& t, std::string_view path, std::string_view key) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_boolean()) {
      Fail(n->source(), Join(path, key), "must be true or false");
      return std::nullopt;
    }
    return n->as_boolean()->get();
  }

  // `p` made absolute against the config file's folder.
  std::string Resolve(const std::string& p) const {
    fs::path path(p);
    if (path.is_relative()) path = dir_ / path;
    return path.lexically_normal().string();
  }

  // A path relative to the config file's folder, which must name a readable file.
  std::optional<std::string> FileAt(const toml::table& t, std::string_view path,
                                    std::string_view key) {
    auto s = String(t, path, key, false);
    if (!s) return std::nullopt;
    fs::path p(Resolve(*s));
    std::ifstream in(p);
    if (!in) {
      Fail(t.get(key)->source(), Join(path, key),
           "cannot read file \"" + p.string() + "\"");
      return std::nullopt;
    }
    return p.string();
  }

  // An http(s) URL at t[key] (required or not).
  std::optional<std::string> UrlAt(const toml::table& t, std::string_view path,
                                   std::string_view key, bool required) {
    auto url = String(t, path, key, required);
    if (url && !IsHttpUrl(*url)) {
      Fail(t.get(key)->source(), Join(path, key), "must start with http:// or https://");
    }
    return url;
  }

  // A PEM file of certificates at t[key]. Read and decoded once per path
  // and load: 50,000 targets naming one ca_file share one pool.
  CertPool CertsAt(const toml::table& t, std::string_view path, std::string_view key,
                   std::string& resolved) {
    auto file = FileAt(t, path, key);
    if (!file) return nullptr;
    resolved = *file;
    if (auto it = pools_.find(*file); it != pools_.end()) return it->second;
    auto certs = LoadPemCertificates(*file);
    if (!certs) {
      Fail(t.get(key)->source(), Join(path, key), certs.error().detail);
      return nullptr;
    }
    auto pool = std::make_shared<const std::vector<X509Ptr>>(std::move(certs).value());
    pools_.emplace(*file, pool);
    return pool;
  }

  // cert_file (+ optional issuer_file) at t: the certificate and its issuer.
  LoadedCertPtr CertAndIssuerAt(const toml::table& t, std::string_view path,
                                std::string& cert_file, std::string& issuer_file) {
    auto cert = FileAt(t, path, "cert_file");
    if (!cert) {
      if (t.get("cert_file") == nullptr) Fail(t.source(), Join(path, "cert_file"),
                                               "missing required key");
      return nullptr;
    }
    cert_file = *cert;
    if (t.get("issuer_file") != nullptr) {
      auto issuer = FileAt(t, path, "issuer_file");
      if (!issuer) return nullptr;
      issuer_file = *issuer;
    }
    auto loaded = LoadCertFiles(cert_file, issuer_file);
    if (!loaded) {
      // The detail names the file; point at issuer_file when that is where
      // the issuer was expected.
      std::string key = loaded.error().reason == "issuer_unknown" && !issuer_file.empty()
                            ? "issuer_file"
                            : "cert_file";
      Fail(t.get(key)->source(), Join(path, key), loaded.error().detail);
      return nullptr;
    }
    return loaded.value();
  }

  const std::vector<std::string>& errors() const { return errors_; }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  fs::path dir_;
  std::vector<std::string> errors_;
  std::map<std::string, CertPool> pools_;  ///< ca_file path -> its certificates
};

// `key` = "ocsp" | "crl" | "both" of `t`, or `fallback` when unset.
Revocation RevocationAt(Checker& c, const toml::table& t, const std::string& p,
                        Revocation fallback) {
  auto v = c.String(t, p, "revocation", false);
  if (!v) return fallback;
  for (Revocation r : {Revocation::kOcsp, Revocation::kCrl, Revocation::kBoth}) {
    if (*v == RevocationName(r)) return r;
  }
  c.Fail(t.get("revocation")->source(), p.empty() ? "revocation" : p + ".revocation",
         "must be ocsp, crl or both");
  return fallback;
}

// `addresses` ("first" | "all") and `handshakes` (1..10) of a [[tls]],
// [[module]] or [[discovery]] table.
void FleetKeysAt(Checker& c, const toml::table& t, const std::string& p, bool& all_addresses,
                 int& handshakes) {
  if (auto v = c.String(t, p, "addresses", false)) {
    if (*v == "all" || *v == "first") {
      all_addresses = *v == "all";
    } else {
      c.Fail(t.get("addresses")->source(), p + ".addresses", "must be first or all");
    }
  }
  if (auto n = c.IntAt(t, p, "handshakes", 1, kMaxHandshakes)) handshakes = static_cast<int>(*n);
}

// What a [[tls]] target and a [[discovery]] block's defaults share:
// server_name, ca_file, interval, timeout, revocation, addresses, handshakes.
void TlsOptionsAt(Checker& c, const toml::table& t, const std::string& p, const GlobalConfig& g,
                  TlsTarget& target) {
  if (auto sn = c.String(t, p, "server_name", false)) target.server_name = *sn;
  target.ca_certs = c.CertsAt(t, p, "ca_file", target.ca_file);
  target.interval = c.DurationAt(t, p, "interval").value_or(g.interval);
  target.timeout = c.DurationAt(t, p, "timeout").value_or(g.timeout);
  target.revocation = RevocationAt(c, t, p, g.revocation);
  FleetKeysAt(c, t, p, target.all_addresses, target.handshakes);
}

void ParseGlobal(Checker& c, const toml::node& node, GlobalConfig& g) {
  const toml::table* t = node.as_table();
  if (t == nullptr) {
    c.Fail(node.source(), "global", "must be a table");
    return;
  }
  c.CheckKeys(*t, "global", {"interval", "timeout", "concurrency", "skew", "default_validity",
                             "per_host_concurrency", "dns_servers", "revocation", "shard_index",
                             "shard_count", "crl_cache_max_bytes"});
  if (auto v = c.IntAt(*t, "global", "crl_cache_max_bytes", 1 << 20, int64_t{1} << 40)) {
    g.crl_cache_max_bytes = *v;
  }
  if (auto v = c.IntAt(*t, "global", "shard_count", 1, 100000)) g.shard_count = static_cast<int>(*v);
  if (auto v = c.IntAt(*t, "global", "shard_index", 0, 99999)) {
    g.shard_index = static_cast<int>(*v);
    if (g.shard_index >= g.shard_count) {
      c.Fail(t->get("shard_index")->source(), "global.shard_index",
             "must be less than shard_count (" + std::to_string(g.shard_count) + ")");
    }
  }
  g.revocation = RevocationAt(c, *t, "global", g.revocation);
  if (auto d = c.DurationAt(*t, "global", "interval")) g.interval = *d;
  if (auto d = c.DurationAt(*t, "global", "timeout")) g.timeout = *d;
  if (auto d = c.DurationAt(*t, "global", "default_validity")) g.default_validity = *d;
  if (const toml::node* n = t->get("skew")) {
    // Zero skew is allowed: strict clocks.
    auto s = n->value<std::string>();
    auto d = s ? ParseDuration(*s) : std::nullopt;
    if (!d) {
      c.Fail(n->source(), "global.skew", "invalid duration (want e.g. \"300s\")");
    } else if (*d > kMaxDuration) {
      c.Fail(n->source(), "global.skew", "must be at most 10y");
    } else {
      g.skew = *d;
    }
  }
  if (auto v = c.IntAt(*t, "global", "concurrency", 1, 100000)) g.concurrency = *v;
  if (auto v = c.IntAt(*t, "global", "per_host_concurrency", 1, 1000)) {
    g.per_host_concurrency = *v;
  }
  if (const toml::node* n = t->get("dns_servers")) {
    const toml::array* a = n->as_array();
    if (a == nullptr) {
      c.Fail(n->source(), "global.dns_servers", "must be an array of \"IP[:port]\" strings");
      return;
    }
    for (const toml::node& e : *a) {
      auto s = e.value_exact<std::string>();
      auto ok = s ? ValidateDnsServer(*s) : Result<Ok>(Error{"config", "must be a string"});
      if (!ok) {
        c.Fail(e.source(), "global.dns_servers", ok.error().detail);
      } else {
        g.dns_servers.push_back(*s);
      }
    }
  }
}

}  // namespace

uint64_t HashMod(std::string_view name, uint64_t count) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(name.data(), name.size(), md, &len, EVP_md5(), nullptr);
  uint64_t v = 0;
  for (unsigned int i = len - 8; i < len; ++i) v = (v << 8) | md[i];
  return v % count;
}

bool InShard(std::string_view name, const GlobalConfig& global) {
  return global.shard_count <= 1 ||
         HashMod(name, static_cast<uint64_t>(global.shard_count)) ==
             static_cast<uint64_t>(global.shard_index);
}

std::string_view RevocationName(Revocation r) {
  switch (r) {
    case Revocation::kCrl: return "crl";
    case Revocation::kBoth: return "both";
    case Revocation::kOcsp: break;
  }
  return "ocsp";
}

bool IsIpLiteral(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

Result<Ok> ValidateDnsServer(const std::string& entry) {
  auto bad = [&](const std::string& why) {
    return Error{"config", "dns_servers entry \"" + entry + "\": " + why};
  };
  std::string ip = entry;
  std::string port;
  if (!entry.empty() && entry.front() == '[') {
    auto close = entry.find(']');
    if (close == std::string::npos) return bad("missing ']'");
    ip = entry.substr(1, close - 1);
    std::string rest = entry.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("expected ':' and a port after ']'");
      port = rest.substr(1);
    }
  } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
    ip = entry.substr(0, entry.find(':'));
    port = entry.substr(entry.find(':') + 1);
  }
  if (!IsIpLiteral(ip)) {
    return bad("not an IP address (IP, IP:port or [IPv6]:port)");
  }
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
        std::stoi(port) < 1 || std::stoi(port) > 65535) {
      return bad("port must be 1-65535");
    }
  }
  return Ok{};
}

Result<HostPort> ParseHostPort(std::string_view address) {
  auto fail = [&](std::string why) {
    return Error{"address", "invalid address \"" + std::string(address) + "\": " + why};
  };
  std::string_view host;
  std::string_view port;
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close == std::string_view::npos) return fail("missing ']'");
    host = address.substr(1, close - 1);
    if (close + 1 >= address.size() || address[close + 1] != ':') {
      return fail("want [IPv6]:PORT");
    }
    port = address.substr(close + 2);
    in6_addr a6;
    if (inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1) {
      return fail("not an IPv6 address inside brackets");
    }
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) return fail("want HOST:PORT");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail("IPv6 addresses need brackets, e.g. [::1]:443");
    }
    for (char ch : host) {
      if (!IsHostChar(ch)) return fail("bad character in host");
    }
  }
  if (host.empty()) return fail("missing host");
  if (port.empty() || port.size() > 5) return fail("port must be 1-65535");
  unsigned p = 0;
  for (char ch : port) {
    if (ch < '0' || ch > '9') return fail("port must be 1-65535");
    p = p * 10 + static_cast<unsigned>(ch - '0');
  }
  if (p < 1 || p > 65535) return fail("port must be 1-65535");
  return HostPort{std::string(host), static_cast<uint16_t>(p)};
}

Result<Config> ParseConfig(std::string_view text, const std::string& path) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << path << ':' << e.source().begin.line << ':' << e.source().begin.column
        << ": syntax error: " << e.description();
    return Error{"config", out.str()};
  }

  Checker c(path, fs::absolute(fs::path(path)).parent_path());
  Config cfg;
  cfg.file = path;

  c.CheckKeys(root, "",
              {"global", "tls", "responder", "file", "crl", "module", "stapler", "alertmanager",
               "probe", "fetch", "discovery"});
  if (const toml::node* g = root.get("global")) ParseGlobal(c, *g, cfg.global);
  const GlobalConfig& g = cfg.global;

  // Calls fn(table, "key[i]") for each table of the array of tables `key`
  // of `parent` (the root when null).
  auto each_in = [&](const toml::table& parent, std::string_view prefix, std::string_view key,
                     auto&& fn) {
    const toml::node* n = parent.get(key);
    if (n == nullptr) return;
    std::string full = prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
    const toml::array* arr = n->as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      c.Fail(n->source(), full, "must be an array of tables ([[" + full + "]])");
      return;
    }
    for (size_t i = 0; i < arr->size(); ++i) {
      fn(*arr->get(i)->as_table(), full + "[" + std::to_string(i) + "]");
    }
  };
  auto each = [&](std::string_view key, auto&& fn) { each_in(root, "", key, fn); };
  // Target names are unique across the whole file: they are the `target` label.
  std::map<std::string, toml::source_region> target_names;
  auto unique_name = [&](const toml::table& t, const std::string& p,
                         std::map<std::string, toml::source_region>& seen) {
    auto name = c.String(t, p, "name", true);
    if (!name) return std::string();
    auto [it, inserted] = seen.emplace(*name, t.get("name")->source());
    if (!inserted) {
      c.Fail(t.get("name")->source(), p + ".name",
             "duplicate name \"" + *name + "\" (first used at line " +
                 std::to_string(it->second.begin.line) + ")");
    }
    return *name;
  };

  // URLs of a section: `url`, or the certificate's AIA OCSP URLs.
  auto urls_of = [&](const toml::table& t, const std::string& p, const LoadedCertPtr& cert) {
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
  };

  // [probe] and [fetch]: allow and deny lists of the same patterns.
  auto policy = [&](const char* table, bool with_enabled, ProbePolicy& out) {
    const toml::node* n = root.get(table);
    if (n == nullptr) return;
    const toml::table* t = n->as_table();
    if (t == nullptr) {
      c.Fail(n->source(), table, "must be a table");
      return;
    }
    if (with_enabled) {
      c.CheckKeys(*t, table, {"enabled", "allow", "deny"});
      out.enabled = c.BoolAt(*t, table, "enabled").value_or(true);
    } else {
      c.CheckKeys(*t, table, {"allow", "deny"});
    }
    for (const char* key : {"allow", "deny"}) {
      const toml::node* list = t->get(key);
      if (list == nullptr) continue;
      const std::string full = std::string(table) + "." + key;
      const toml::array* a = list->as_array();
      if (a == nullptr) {
        c.Fail(list->source(), full, "must be an array of CIDRs and \"host:port\" patterns");
        continue;
      }
      for (const toml::node& e : *a) {
        auto s = e.value_exact<std::string>();
        auto pattern = s ? ParseProbePattern(*s)
                         : Result<ProbePattern>(Error{"config", "must be a string"});
        if (!pattern) {
          c.Fail(e.source(), full, pattern.error().detail);
        } else {
          (std::string_view(key) == "allow" ? out.allow : out.deny)
              .push_back(std::move(pattern).value());
        }
      }
    }
  };
  policy("probe", true, cfg.probe);
  cfg.fetch.table = "[fetch]";
  policy("fetch", false, cfg.fetch);

  each("tls", [&](const toml::table& t, const std::string& p) {
    c.CheckKeys(t, p, {"name", "address", "server_name", "ca_file", "interval", "timeout",
                       "revocation", "addresses", "handshakes"});
    TlsTarget target;
    target.name = unique_name(t, p, target_names);
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
  });

  each("responder", [&](const toml::table& t, const std::string& p) {
    c.CheckKeys(t, p, {"name", "cert_file", "issuer_file", "url", "method", "nonce",
                       "interval", "timeout", "revocation"});
    ResponderTarget target;
    target.name = unique_name(t, p, target_names);
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
      target.urls = urls_of(t, p, target.cert);
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
  });

  each("file", [&](const toml::table& t, const std::string& p) {
    c.CheckKeys(t, p, {"name", "path", "cert_file", "issuer_file", "interval", "revocation"});
    FileTarget target;
    target.name = unique_name(t, p, target_names);
    // The staple file may not exist yet (that is the `absent` state): only
    // its path is checked here.
    if (auto path = c.String(t, p, "path", true)) target.path = c.Resolve(*path);
    target.cert = c.CertAndIssuerAt(t, p, target.cert_file, target.issuer_file);
    target.interval = c.DurationAt(t, p, "interval").value_or(g.interval);
    target.revocation = RevocationAt(c, t, p, g.revocation);
    cfg.files.push_back(std::move(target));
  });

  each("crl", [&](const toml::table& t, const std::string& p) {
    c.CheckKeys(t, p, {"name", "url", "path", "issuer_file", "interval", "timeout", "max_size",
                       "follow_redirects"});
    CrlTarget target;
    target.name = unique_name(t, p, target_names);
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
  });

  std::map<std::string, toml::source_region> discovery_names;
  each("discovery", [&](const toml::table& t, const std::string& p) {
    c.CheckKeys(t, p, {"name", "files", "refresh_interval", "server_name", "ca_file", "interval",
                       "timeout", "revocation", "addresses", "handshakes"});
    DiscoveryConfig d;
    d.name = unique_name(t, p, discovery_names);
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
  });

  std::map<std::string, toml::source_region> module_names;
  each("module", [&](const toml::table& t, const std::string& p) {
    c.CheckKeys(t, p, {"name", "server_name", "ca_file", "timeout", "addresses", "handshakes"});
    Module m;
    m.name = unique_name(t, p, module_names);
    if (auto sn = c.String(t, p, "server_name", false)) m.server_name = *sn;
    m.ca_certs = c.CertsAt(t, p, "ca_file", m.ca_file);
    m.timeout = c.DurationAt(t, p, "timeout").value_or(g.timeout);
    FleetKeysAt(c, t, p, m.all_addresses, m.handshakes);
    cfg.modules.push_back(std::move(m));
  });

  if (const toml::node* n = root.get("alertmanager")) {
    const toml::table* am = n->as_table();
    if (am == nullptr) {
      c.Fail(n->source(), "alertmanager", "must be a table ([alertmanager])");
    } else {
      c.CheckKeys(*am, "alertmanager", {"url", "timeout", "resend_interval"});
      if (auto url = c.UrlAt(*am, "alertmanager", "url", true)) {
        cfg.alertmanager.url = *url;
        while (!cfg.alertmanager.url.empty() && cfg.alertmanager.url.back() == '/') {
          cfg.alertmanager.url.pop_back();
        }
      }
      if (auto d = c.DurationAt(*am, "alertmanager", "timeout")) cfg.alertmanager.timeout = *d;
      if (auto d = c.DurationAt(*am, "alertmanager", "resend_interval")) {
        cfg.alertmanager.resend_interval = *d;
      }
    }
  }

  if (const toml::node* n = root.get("stapler")) {
    const toml::table* st = n->as_table();
    if (st == nullptr) {
      c.Fail(n->source(), "stapler", "must be a table ([stapler])");
    } else {
      StaplerConfig& sc = cfg.stapler;
      c.CheckKeys(*st, "stapler", {"store_dir", "min_refresh", "max_refresh",
                                   "reload_min_interval", "ready_timeout", "exit_on_fatal",
                                   "failure_backoff", "command_timeout",
                                   "fatal_command", "certificate"});
      if (auto d = c.String(*st, "stapler", "store_dir", false)) sc.store_dir = c.Resolve(*d);
      if (auto d = c.DurationAt(*st, "stapler", "min_refresh")) sc.min_refresh = *d;
      if (auto d = c.DurationAt(*st, "stapler", "max_refresh")) sc.max_refresh = *d;
      if (auto d = c.DurationAt(*st, "stapler", "reload_min_interval")) {
        sc.reload_min_interval = *d;
      }
      if (auto d = c.DurationAt(*st, "stapler", "ready_timeout")) sc.ready_timeout = *d;
      if (auto d = c.DurationAt(*st, "stapler", "failure_backoff")) sc.failure_backoff = *d;
      if (auto d = c.DurationAt(*st, "stapler", "command_timeout")) sc.command_timeout = *d;
      if (sc.min_refresh > sc.max_refresh) {
        c.Fail(st->source(), "stapler.min_refresh", "must not exceed max_refresh");
      }
      sc.exit_on_fatal = c.BoolAt(*st, "stapler", "exit_on_fatal").value_or(false);
      if (auto f = c.String(*st, "stapler", "fatal_command", false)) sc.fatal_command = *f;
      std::map<std::string, toml::source_region> cert_names, output_at;
      each_in(*st, "stapler", "certificate", [&](const toml::table& t, const std::string& p) {
        c.CheckKeys(t, p, {"name", "cert_file", "issuer_file", "mode", "url", "output_file",
                           "haproxy_socket", "reload_command", "timeout"});
        StaplerCertificate sc_cert;
        sc_cert.name = unique_name(t, p, cert_names);
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
        if (auto o = c.String(t, p, "output_file", false)) {
          sc_cert.output_file = c.Resolve(*o);
          output_at[sc_cert.name] = t.get("output_file")->source();
        }
        if (auto h = c.String(t, p, "haproxy_socket", false)) sc_cert.haproxy_socket = c.Resolve(*h);
        if (auto r = c.String(t, p, "reload_command", false)) sc_cert.reload_command = *r;
        sc_cert.timeout = c.DurationAt(t, p, "timeout").value_or(g.timeout);
        sc.certificates.push_back(std::move(sc_cert));
      });
      if (!sc.certificates.empty() && sc.store_dir.empty()) {
        c.Fail(st->source(), "stapler.store_dir", "missing required key");
      }
      // A published staple must never overwrite a certificate, a key bundle
      // or another certificate's staple.
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
        const auto& at = output_at[x.name];
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
  }

  if (!c.errors().empty()) {
    std::string detail;
    for (const auto& e : c.errors()) {
      if (!detail.empty()) detail += '\n';
      detail += e;
    }
    return Error{"config", detail};
  }
  return cfg;
}

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"config", path + ": cannot open config file"};
  std::ostringstream buf;
  buf << in.rdbuf();
  return ParseConfig(buf.str(), path);
}

std::map<std::string, std::string> TargetKinds(const Config& config) {
  std::map<std::string, std::string> out;
  for (const TlsTarget& t : config.tls) out.emplace(t.name, "tls");
  for (const ResponderTarget& t : config.responders) out.emplace(t.name, "responder");
  for (const FileTarget& t : config.files) out.emplace(t.name, "file");
  for (const CrlTarget& t : config.crls) out.emplace(t.name, "crl");
  return out;
}

Duration LongestInterval(const Config& config) {
  Duration longest = config.global.interval;
  for (const TlsTarget& t : config.tls) longest = std::max(longest, t.interval);
  for (const ResponderTarget& t : config.responders) longest = std::max(longest, t.interval);
  for (const FileTarget& t : config.files) longest = std::max(longest, t.interval);
  return longest;
}

}  // namespace ose
