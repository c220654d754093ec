#include "ocsp_staple_exporter/common/openssl_error.h"

#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ocsp_staple_exporter/common/ossl_ptr.h"

namespace ose {

std::string DrainOpenSslErrors() {
  std::string out;
  char buf[256];
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

std::string OpenSslConfigFile() {
  OpensslBytesPtr file(reinterpret_cast<unsigned char*>(CONF_get1_default_config_file()));
  return file ? std::string(reinterpret_cast<char*>(file.get())) : "";
}

std::string OpenSslConfigNote() {
  const std::string file = OpenSslConfigFile();
  return file.empty() ? "" : " (OpenSSL configuration: " + file + ")";
}

std::string OpenSslUnusable() {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx) return "";
  return "OpenSSL cannot make a TLS context: " + DrainOpenSslErrors() + OpenSslConfigNote();
}

}  // namespace ose
