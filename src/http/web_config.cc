#include "ocsp_staple_exporter/http/web_config.h"

#include <openssl/pem.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <sstream>

#include "ocsp_staple_exporter/common/file.h"
#include "ocsp_staple_exporter/common/openssl_error.h"

namespace ose {
namespace {

namespace fs = std::filesystem;

// exporter-toolkit keeps these to the well-known security headers, with the
// values of enumerated ones checked.
const std::pair<std::string_view, std::vector<std::string_view>> kAllowedHeaders[] = {
    {"Strict-Transport-Security", {}},
    {"X-Content-Type-Options", {"nosniff"}},
    {"X-Frame-Options", {"deny", "sameorigin"}},
    {"X-XSS-Protection", {}},
    {"Content-Security-Policy", {}},
};

const std::pair<std::string_view, ClientAuth> kClientAuth[] = {
    {"NoClientCert", ClientAuth::kNoClientCert},
    {"RequestClientCert", ClientAuth::kRequestClientCert},
    {"RequireAnyClientCert", ClientAuth::kRequireAnyClientCert},
    {"VerifyClientCertIfGiven", ClientAuth::kVerifyClientCertIfGiven},
    {"RequireAndVerifyClientCert", ClientAuth::kRequireAndVerifyClientCert},
};

const std::pair<std::string_view, int> kVersions[] = {
    {"TLS10", TLS1_VERSION},
    {"TLS11", TLS1_1_VERSION},
    {"TLS12", TLS1_2_VERSION},
    {"TLS13", TLS1_3_VERSION},
};

// Collects every problem of one file, each as "FILE:LINE:COL: KEY: MESSAGE".
class Checker {
 public:
  explicit Checker(std::string path)
      : path_(std::move(path)), dir_(fs::absolute(fs::path(path_)).parent_path()) {}

  void Fail(const YAML::Node& at, const std::string& key, const std::string& message) {
    const YAML::Mark m = at.Mark();
    Fail(m.line, m.column, key, message);
  }
  void Fail(int line, int column, const std::string& key, const std::string& message) {
    if (!errors_.empty()) errors_ += '\n';
    errors_ += path_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " +
               key + ": " + message;
  }
  bool ok() const { return errors_.empty(); }
  const std::string& errors() const { return errors_; }

  // The scalar at `node` as a string; an error (and nullopt) otherwise.
  std::optional<std::string> String(const YAML::Node& node, const std::string& key) {
    if (!node.IsScalar()) {
      Fail(node, key, "must be a string");
      return std::nullopt;
    }
    return node.Scalar();
  }

  // The value of the table entry named by the string at `node`; an error
  // listing the names ("must be A, B or C") and nullopt otherwise.
  template <typename T, size_t N>
  std::optional<T> OneOf(const YAML::Node& node, const std::string& key,
                         const std::pair<std::string_view, T> (&table)[N]) {
    auto s = String(node, key);
    if (!s) return std::nullopt;
    std::string names;
    for (size_t i = 0; i < N; ++i) {
      if (*s == table[i].first) return table[i].second;
      names += std::string(i == 0 ? "" : i + 1 == N ? " or " : ", ") + std::string(table[i].first);
    }
    Fail(node, key, "must be " + names);
    return std::nullopt;
  }

  // A map's entries, each key checked against `allowed`.
  template <typename Fn>
  void EachKey(const YAML::Node& map, const std::string& prefix,
               std::initializer_list<std::string_view> allowed, Fn&& fn) {
    if (map.IsNull()) return;
    if (!map.IsMap()) {
      Fail(map, prefix.empty() ? "(top level)" : prefix, "must be a mapping");
      return;
    }
    for (const auto& kv : map) {
      const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "?";
      const std::string full = prefix.empty() ? k : prefix + "." + k;
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        Fail(kv.first, full, "unknown key");
        continue;
      }
      fn(k, full, kv.second);
    }
  }

  // A file path, resolved against the config's folder; must be readable.
  std::string File(const YAML::Node& node, const std::string& key) {
    auto s = String(node, key);
    if (!s) return "";
    if (s->empty()) {
      Fail(node, key, "must not be empty");
      return "";
    }
    fs::path p(*s);
    std::string abs = (p.is_absolute() ? p : dir_ / p).lexically_normal().string();
    auto read = ReadFileLimited(abs, 1 << 20);
    if (!read) Fail(node, key, read.error().detail);
    return abs;
  }

 private:
  std::string path_;
  fs::path dir_;
  std::string errors_;
};

void ParseTls(Checker& c, const YAML::Node& node, WebTlsConfig& tls) {
  bool cert = false, key = false;
  c.EachKey(node, "tls_server_config",
            {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version",
             "max_version"},
            [&](const std::string& k, const std::string& full, const YAML::Node& v) {
              if (k == "cert_file") {
                tls.cert_file = c.File(v, full);
                cert = true;
              } else if (k == "key_file") {
                tls.key_file = c.File(v, full);
                key = true;
              } else if (k == "client_ca_file") {
                tls.client_ca_file = c.File(v, full);
              } else if (k == "client_auth_type") {
                if (auto auth = c.OneOf(v, full, kClientAuth)) tls.client_auth = *auth;
              } else if (auto version = c.OneOf(v, full, kVersions)) {  // min_/max_version
                (k == "min_version" ? tls.min_version : tls.max_version) = *version;
              }
            });
  const YAML::Mark m = node.Mark();
  if (!node.IsMap()) return;
  if (!cert) c.Fail(m.line, m.column, "tls_server_config.cert_file", "missing required key");
  if (!key) c.Fail(m.line, m.column, "tls_server_config.key_file", "missing required key");
  const bool verifies = tls.client_auth == ClientAuth::kVerifyClientCertIfGiven ||
                        tls.client_auth == ClientAuth::kRequireAndVerifyClientCert;
  if (verifies && tls.client_ca_file.empty()) {
    c.Fail(m.line, m.column, "tls_server_config.client_ca_file",
           "client_auth_type verifies client certificates: set the CA that issues them");
  }
  if (!verifies && !tls.client_ca_file.empty()) {
    // exporter-toolkit refuses this too: a CA that would never be used.
    c.Fail(m.line, m.column, "tls_server_config.client_auth_type",
           "client_ca_file is set but client_auth_type does not verify client certificates "
           "(use RequireAndVerifyClientCert or VerifyClientCertIfGiven)");
  }
  if (tls.max_version != 0 && tls.max_version < tls.min_version) {
    c.Fail(m.line, m.column, "tls_server_config.max_version", "is lower than min_version");
  }
}

}  // namespace

bool IsBcryptHash(std::string_view h) {
  if (h.size() != 60 || h[0] != '$' || h[1] != '2' || h[3] != '$' || h[6] != '$') return false;
  if (h[2] != 'a' && h[2] != 'b' && h[2] != 'y') return false;
  if (h[4] < '0' || h[4] > '9' || h[5] < '0' || h[5] > '9') return false;
  const int cost = (h[4] - '0') * 10 + (h[5] - '0');
  if (cost < 4 || cost > 31) return false;
  for (char ch : h.substr(7)) {
    const bool b64 = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || ch == '.' || ch == '/';
    if (!b64) return false;
  }
  return true;
}

Result<WebConfig> ParseWebConfig(std::string_view text, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    std::ostringstream out;
    out << path << ':' << e.mark.line + 1 << ':' << e.mark.column + 1
        << ": syntax error: " << e.msg;
    return Error{"web_config", out.str()};
  }
  Checker c(path);
  WebConfig cfg;
  c.EachKey(root, "", {"tls_server_config", "basic_auth_users", "http_server_config"},
            [&](const std::string& k, const std::string& full, const YAML::Node& v) {
              if (k == "tls_server_config") {
                if (v.IsNull()) return;
                cfg.tls.emplace();
                ParseTls(c, v, *cfg.tls);
              } else if (k == "basic_auth_users") {
                if (v.IsNull()) return;
                if (!v.IsMap()) {
                  c.Fail(v, full, "must be a mapping of user: bcrypt hash");
                  return;
                }
                for (const auto& u : v) {
                  const std::string user = u.first.IsScalar() ? u.first.Scalar() : "";
                  const std::string key = full + "." + user;
                  if (user.empty() || user.find(':') != std::string::npos) {
                    c.Fail(u.first, key, "a user name must be a non-empty string without ':'");
                    continue;
                  }
                  auto hash = c.String(u.second, key);
                  if (!hash) continue;
                  if (!IsBcryptHash(*hash)) {
                    c.Fail(u.second, key,
                           "must be a bcrypt hash ($2y$10$..., as htpasswd -nBC 10 makes), "
                           "not a password");
                    continue;
                  }
                  cfg.basic_auth_users[user] = *hash;
                }
              } else {  // http_server_config
                c.EachKey(v, full, {"headers", "http2"},
                          [&](const std::string& hk, const std::string& hfull,
                              const YAML::Node& hv) {
                            if (hk == "http2") return;  // HTTP/1.1 only; accepted as in Go
                            if (hv.IsNull()) return;
                            if (!hv.IsMap()) {
                              c.Fail(hv, hfull, "must be a mapping of header: value");
                              return;
                            }
                            for (const auto& h : hv) {
                              const std::string name = h.first.IsScalar() ? h.first.Scalar() : "";
                              const std::string key = hfull + "." + name;
                              const auto* allowed = std::find_if(
                                  std::begin(kAllowedHeaders), std::end(kAllowedHeaders),
                                  [&](const auto& a) { return a.first == name; });
                              if (allowed == std::end(kAllowedHeaders)) {
                                c.Fail(h.first, key, "this header can not be configured");
                                continue;
                              }
                              auto value = c.String(h.second, key);
                              if (!value) continue;
                              if (value->find_first_of("\r\n") != std::string::npos) {
                                c.Fail(h.second, key, "must be one line");
                                continue;
                              }
                              const auto& values = allowed->second;
                              if (!values.empty() &&
                                  std::find(values.begin(), values.end(), *value) == values.end()) {
                                std::string list;
                                for (auto v2 : values) list += (list.empty() ? "" : ", ") + std::string(v2);
                                c.Fail(h.second, key, "must be one of: " + list);
                                continue;
                              }
                              cfg.headers.emplace_back(name, *value);
                            }
                          });
              }
            });
  if (!c.ok()) return Error{"web_config", c.errors()};
  if (cfg.tls) {
    // Certificates and key are read and matched now, so a broken file is
    // refused here and the running listener keeps the last good one.
    auto ctx = BuildServerTlsContext(*cfg.tls);
    if (!ctx) return Error{"web_config", path + ": " + ctx.error().detail};
  }
  return cfg;
}

Result<WebConfig> LoadWebConfig(const std::string& path) {
  auto data = ReadFileLimited(path, 1 << 20);
  if (!data) return Error{"web_config", data.error().detail};
  return ParseWebConfig(std::string_view(reinterpret_cast<const char*>(data->data()), data->size()),
                        path);
}

Result<SslCtxPtr> BuildServerTlsContext(const WebTlsConfig& tls) {
  DrainOpenSslErrors();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  auto fail = [&](const std::string& what) -> Result<SslCtxPtr> {
    return Error{"web_config", what + ": " + DrainOpenSslErrors()};
  };
  if (!ctx) return fail("SSL_CTX_new");
  SSL_CTX* c = ctx.get();
  if (SSL_CTX_set_min_proto_version(c, tls.min_version) != 1 ||
      SSL_CTX_set_max_proto_version(c, tls.max_version) != 1) {
    return fail("protocol versions");
  }
  // No renegotiation, no compression, no session tickets across restarts.
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(c, tls.cert_file.c_str()) != 1) {
    return fail(tls.cert_file + ": cannot load the certificate chain");
  }
  EvpPkeyPtr key;
  {
    BioPtr bio(BIO_new_file(tls.key_file.c_str(), "r"));
    if (bio) key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  }
  if (!key) return fail(tls.key_file + ": cannot load the private key (PEM, unencrypted)");
  if (SSL_CTX_use_PrivateKey(c, key.get()) != 1 || SSL_CTX_check_private_key(c) != 1) {
    return fail(tls.key_file + ": the private key does not match " + tls.cert_file);
  }
  int mode = SSL_VERIFY_NONE;
  switch (tls.client_auth) {
    case ClientAuth::kNoClientCert: break;
    case ClientAuth::kRequestClientCert:
    case ClientAuth::kVerifyClientCertIfGiven: mode = SSL_VERIFY_PEER; break;
    case ClientAuth::kRequireAnyClientCert:
    case ClientAuth::kRequireAndVerifyClientCert:
      mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
      break;
  }
  const bool verify = tls.client_auth == ClientAuth::kVerifyClientCertIfGiven ||
                      tls.client_auth == ClientAuth::kRequireAndVerifyClientCert;
  if (verify) {
    if (SSL_CTX_load_verify_locations(c, tls.client_ca_file.c_str(), nullptr) != 1) {
      return fail(tls.client_ca_file + ": cannot load the client CA");
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str());
    if (names == nullptr) return fail(tls.client_ca_file + ": no CA certificate in it");
    SSL_CTX_set_client_CA_list(c, names);  // takes ownership
    SSL_CTX_set_verify(c, mode, nullptr);
  } else if (mode != SSL_VERIFY_NONE) {
    // Asked for (or required) but not verified, as Go's RequestClientCert
    // and RequireAnyClientCert: any certificate passes the handshake.
    SSL_CTX_set_verify(c, mode, [](int, X509_STORE_CTX*) { return 1; });
  }
  // Sessions resumed on another listener context must not skip client
  // verification: a context id makes resumption context-bound.
  static const unsigned char kSessionId[] = "ocsp_staple_exporter";
  SSL_CTX_set_session_id_context(c, kSessionId, sizeof kSessionId - 1);
  DrainOpenSslErrors();
  return ctx;
}

}  // namespace ose
