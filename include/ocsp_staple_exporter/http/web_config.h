#pragma once
// The listener's web configuration (--web.config.file), in the YAML format
// of Prometheus' exporter-toolkit, which blackbox_exporter and
// node_exporter share: TLS on the listener (with client certificates),
// basic auth users with bcrypt hashes, and extra response headers.
//
//   tls_server_config:
//     cert_file: server.pem            # PEM; the chain may follow the leaf
//     key_file: server.key
//     client_auth_type: RequireAndVerifyClientCert
//     client_ca_file: clients-ca.pem
//     min_version: TLS12               # TLS10..TLS13; default TLS12
//     max_version: TLS13
//   basic_auth_users:
//     prometheus: $2y$10$...           # htpasswd -nBC 10 "" | tr -d ':\n'
//   http_server_config:
//     headers:
//       Strict-Transport-Security: max-age=31536000
//
// Relative paths resolve against the web config file's folder. Errors name
// the file, line and column, and the key, as the TOML config's do.

#include <openssl/ssl.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ocsp_staple_exporter/common/ossl_ptr.h"
#include "ocsp_staple_exporter/common/result.h"

namespace ose {

/// exporter-toolkit's client_auth_type values (Go's tls.ClientAuthType).
enum class ClientAuth {
  kNoClientCert,
  kRequestClientCert,           ///< asked for, not required, not verified
  kRequireAnyClientCert,        ///< required, not verified
  kVerifyClientCertIfGiven,     ///< verified against client_ca_file when sent
  kRequireAndVerifyClientCert,  ///< required and verified against client_ca_file
};

struct WebTlsConfig {
  std::string cert_file;       ///< absolute
  std::string key_file;        ///< absolute
  ClientAuth client_auth = ClientAuth::kNoClientCert;
  std::string client_ca_file;  ///< absolute; "" when unset
  int min_version = TLS1_2_VERSION;  ///< OpenSSL protocol version constant
  int max_version = 0;               ///< 0: the highest OpenSSL supports
};

struct WebConfig {
  std::optional<WebTlsConfig> tls;  ///< unset: plain HTTP
  /// User name -> bcrypt hash ($2a$, $2b$ or $2y$). Empty: no auth.
  std::map<std::string, std::string> basic_auth_users;
  /// Extra response headers (only the ones exporter-toolkit allows:
  /// Strict-Transport-Security, X-Content-Type-Options: nosniff,
  /// X-Frame-Options: deny|sameorigin, X-XSS-Protection,
  /// Content-Security-Policy).
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Parses `text` (the content of `path`, which names it in errors and
/// anchors relative paths). Error reason "web_config"; every problem of the
/// file is listed, one per line.
Result<WebConfig> ParseWebConfig(std::string_view text, const std::string& path);

/// Reads and parses `path` (at most 1 MiB).
Result<WebConfig> LoadWebConfig(const std::string& path);

/// An SSL_CTX for the listener from `tls`: certificate chain and key (which
/// must match), client certificate policy and CA, protocol versions. Reads
/// the files now. Error reason "web_config", naming the file and the
/// OpenSSL errors. The caller owns the context.
Result<SslCtxPtr> BuildServerTlsContext(const WebTlsConfig& tls);

/// True for a bcrypt hash as htpasswd -B writes it: "$2a$", "$2b$" or
/// "$2y$", a two-digit cost 4..31, "$", and 53 characters of bcrypt's
/// base64.
bool IsBcryptHash(std::string_view hash);

}  // namespace ose
