// Private to src/config: the shared typed readers of the TOML config
// (positions, unknown keys, durations, paths, URLs, PEM pools, unique names)
// and the declarations of one parser per section (sections.cc files). A
// new table is one new function here and one line in ParseConfig.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <toml++/toml.h>
#include <vector>

#include "ocsp_staple_exporter/common/curl_body.h"
#include "ocsp_staple_exporter/config/cert_watch.h"
#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"

namespace ose::config_parse {

namespace fs = std::filesystem;

// The longest duration a config may name (10 years): every time computed
// from one (now + interval, thisUpdate + default_validity) stays far from
// int64 overflow.
constexpr Duration kMaxDuration = std::chrono::hours(24 * 365 * 10);

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

  // The table at `key` of `parent`: null when absent, or (reported with
  // `message`) when it is not a table.
  const toml::table* TableAt(const toml::table& parent, std::string_view key,
                             std::string_view message = "must be a table") {
    const toml::node* n = parent.get(key);
    if (n == nullptr) return nullptr;
    const toml::table* t = n->as_table();
    if (t == nullptr) Fail(n->source(), key, message);
    return t;
  }

  // Calls fn(table, "prefix.key[i]") for each table of the array of tables
  // `key` of `parent`; reports `key` when it is not an array of tables.
  template <typename Fn>
  void EachTable(const toml::table& parent, std::string_view prefix, std::string_view key,
                 Fn&& fn) {
    const toml::node* n = parent.get(key);
    if (n == nullptr) return;
    const std::string full = Join(prefix, key);
    const toml::array* arr = n->as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      Fail(n->source(), full, "must be an array of tables ([[" + full + "]])");
      return;
    }
    for (size_t i = 0; i < arr->size(); ++i) {
      fn(*arr->get(i)->as_table(), full + "[" + std::to_string(i) + "]");
    }
  }

  // The required `name` of t ("" when missing), reported when another
  // table of the same `scope` already used it. Scope "target" is shared by
  // [[tls]], [[responder]], [[file]] and [[crl]]: their names are the
  // `target` label.
  std::string UniqueName(const toml::table& t, const std::string& p, std::string_view scope) {
    auto name = String(t, p, "name", true);
    if (!name) return std::string();
    auto& seen = names_[std::string(scope)];
    auto [it, inserted] = seen.emplace(*name, t.get("name")->source());
    if (!inserted) {
      Fail(t.get("name")->source(), p + ".name",
           "duplicate name \"" + *name + "\" (first used at line " +
               std::to_string(it->second.begin.line) + ")");
    }
    return *name;
  }

  const std::vector<std::string>& errors() const { return errors_; }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  fs::path dir_;
  std::vector<std::string> errors_;
  std::map<std::string, CertPool> pools_;  ///< ca_file path -> its certificates
  /// scope -> name -> where it was first used
  std::map<std::string, std::map<std::string, toml::source_region>> names_;
};

// `revocation` = "ocsp" | "crl" | "both" of `t`, or `fallback` when unset.
Revocation RevocationAt(Checker& c, const toml::table& t, const std::string& p,
                        Revocation fallback);

// `addresses` ("first" | "all") and `handshakes` (1..10) of a [[tls]],
// [[module]] or [[discovery]] table.
void FleetKeysAt(Checker& c, const toml::table& t, const std::string& p, bool& all_addresses,
                 int& handshakes);

// `starttls` and `starttls_ehlo` of a [[tls]], [[module]] or [[discovery]]
// table: the protocol, and for smtp the EHLO name (default: this host's name).
/// `revocation_scope` = "leaf" | "chain" of `t` at `p` (default leaf).
RevocationScope RevocationScopeAt(Checker& c, const toml::table& t, const std::string& p);

void StartTlsAt(Checker& c, const toml::table& t, const std::string& p, StartTls& starttls,
                std::string& ehlo);

// What a [[tls]] target and a [[discovery]] block's defaults share:
// server_name, ca_file, interval, timeout, revocation, addresses,
// handshakes, starttls, starttls_ehlo.
void TlsOptionsAt(Checker& c, const toml::table& t, const std::string& p, const GlobalConfig& g,
                  TlsTarget& target);

// --- one parser per section; each reports through `c` and fills `cfg` ---

void ParseGlobal(Checker& c, const toml::table& t, GlobalConfig& g);  // [global]
// [probe] (with `enabled`) and [fetch]: allow and deny lists of one pattern syntax.
void ParsePolicy(Checker& c, const toml::table& root, const char* table, bool with_enabled,
                 ProbePolicy& out);
void ParseTls(Checker& c, const toml::table& t, const std::string& p, Config& cfg);  // [[tls]]
void ParseResponder(Checker& c, const toml::table& t, const std::string& p,
                    Config& cfg);                                                    // [[responder]]
void ParseFile(Checker& c, const toml::table& t, const std::string& p, Config& cfg);  // [[file]]
void ParseCrl(Checker& c, const toml::table& t, const std::string& p, Config& cfg);   // [[crl]]
void ParseDiscovery(Checker& c, const toml::table& t, const std::string& p,
                    Config& cfg);                                                    // [[discovery]]
void ParseModule(Checker& c, const toml::table& t, const std::string& p, Config& cfg); // [[module]]
void ParseAlertmanager(Checker& c, const toml::table& am, AlertmanagerConfig& out);  // [alertmanager]
// [stapler] and its [[stapler.certificate]]s; after every target section
// (an output_file must not overwrite any file the config reads).
void ParseStapler(Checker& c, const toml::table& st, Config& cfg);

}  // namespace ose::config_parse
