// What an HTTP peer controls: the /probe query string and scrape-timeout
// header (ParseProbeQuery), an Authorization header
// (ParseBasicAuthorization), and a responder's Cache-Control (ParseMaxAge).
// Input: query string, a newline, the header value.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ocsp_staple_exporter/http/basic_auth.h"
#include "ocsp_staple_exporter/http/server.h"
#include "ocsp_staple_exporter/probe/responder_prober.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  auto nl = in.find('\n');
  std::string query = in.substr(0, nl);
  std::string header = nl == std::string::npos ? "" : in.substr(nl + 1);
  ose::ProbeQuery q = ose::ParseProbeQuery(query.c_str(), nl == std::string::npos
                                                              ? nullptr
                                                              : header.c_str());
  if (q.scrape_timeout_seconds < 0 || q.scrape_timeout_seconds >= 86400) __builtin_trap();
  if (q.target.size() > 1023 || q.module.size() > 1023) __builtin_trap();
  if (auto age = ose::ParseMaxAge(in); age && *age < 0) __builtin_trap();
  if (auto creds = ose::ParseBasicAuthorization(in);
      creds && (creds->first.find(':') != std::string::npos || creds->first.size() > in.size())) {
    __builtin_trap();  // the user name ends at the first colon
  }
  return 0;
}
