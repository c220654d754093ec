// A target's address: "host:port" as configured or discovered.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ocsp_staple_exporter/common/result.h"

namespace ose {

/// `host:port` split; `host` has no brackets for IPv6 literals.
struct HostPort {
  std::string host;
  uint16_t port = 0;
  bool operator==(const HostPort&) const = default;
};

/// Parses "host:port", "[v6addr]:port". Errors (reason "address") for a
/// missing host or port, a port outside 1..65535, an unbracketed IPv6
/// address, or characters that cannot be in a host name.
Result<HostPort> ParseHostPort(std::string_view address);

}  // namespace ose
