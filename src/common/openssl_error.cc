#include "ocsp_staple_exporter/common/openssl_error.h"

#include <openssl/err.h>

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

}  // namespace ose
