#pragma once
// `[fetch]` applied to a libcurl transfer of a URL taken from a certificate
// (CRL Distribution Points, AIA OCSP URLs of served chains): the host is
// checked before DNS, and every address libcurl would connect to is checked
// right before it does (after DNS, with no second lookup), so a refused
// address is never connected to. Through an HTTP proxy, the addresses
// checked are the proxy's.

#include <curl/curl.h>

#include <cstdint>
#include <string>

#include "ocsp_staple_exporter/common/result.h"
#include "ocsp_staple_exporter/probe/probe_policy.h"

namespace ose {

class FetchGate {
 public:
  /// Checks `url`'s host and port against `policy` (borrowed, non-null,
  /// must outlive the transfer) and installs the per-address check on `c`
  /// (CURLOPT_OPENSOCKETFUNCTION; this gate must outlive the transfer).
  /// Error reason "forbidden", naming the URL's host or the rule.
  Result<Ok> Arm(CURL* c, const std::string& url, const ProbePolicy* policy);
  /// Why the transfer's connection was refused; empty when it was not.
  const std::string& refused() const { return refused_; }

 private:
  static curl_socket_t OpenSocket(void* data, curlsocktype purpose, curl_sockaddr* address);
  const ProbePolicy* policy_ = nullptr;
  std::string host_;
  uint16_t port_ = 0;
  std::string refused_;
};

}  // namespace ose
