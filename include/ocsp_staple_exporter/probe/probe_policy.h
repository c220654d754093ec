#pragma once
// Where /probe may connect (`[probe]`): an exporter that connects anywhere
// it is told is a server-side request forgery waiting to happen (cloud
// metadata services answer on link-local addresses). Targets are checked by
// name before DNS and by every address after it, against the very
// addresses the probe then connects to, so a name that resolves to a denied
// address is refused, and no second lookup can change the answer.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ocsp_staple_exporter/common/asio.h"
#include <boost/asio/ip/tcp.hpp>

#include "ocsp_staple_exporter/common/result.h"

namespace ose {

/// One allow or deny entry: a CIDR ("10.0.0.0/8", "2001:db8::/32", or a
/// bare address, a /32 or /128), or a "host:port" pattern whose host may
/// start with "*." (any name under that domain, not the domain itself) and
/// whose port may be "*"; IPv6 hosts in brackets.
struct ProbePattern {
  std::string text;  ///< as written, for messages
  bool cidr = false;
  asio::ip::address_v6 network;  ///< CIDR, IPv4 as IPv4-mapped
  int prefix = 0;                ///< CIDR bits over the mapped form
  std::string host;              ///< host pattern, lower-case ("*.x" kept)
  int port = -1;                 ///< -1: any port

  /// Whether `address` (IPv4-mapped IPv6 is taken as IPv4) is in the CIDR.
  bool Contains(const asio::ip::address& address) const;
  /// Whether the pattern is host:port and matches `host` and `port`. Both
  /// hosts are compared canonically: lower case, a trailing dot removed,
  /// IP literals (bracketed or not) as ConnectAddress gives them. Names are
  /// compared as written: a rule on a name does not follow its CNAMEs
  /// (address rules, checked after DNS, do).
  bool Matches(std::string_view host, uint16_t port) const;
};

/// The address a connection to `a` reaches, as rules see it: the
/// unspecified address is loopback (0.0.0.0 → 127.0.0.1, :: → ::1), and
/// IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) IPv6
/// addresses are the IPv4 address they carry.
asio::ip::address ConnectAddress(const asio::ip::address& a);

/// Parses an entry. Error reason "config" with the reason it is not one.
Result<ProbePattern> ParseProbePattern(std::string_view text);

/// Link-local and metadata addresses /probe refuses unless an allow CIDR
/// names them: 169.254.0.0/16 (IPv4 link-local, AWS/GCP/Azure metadata),
/// fe80::/10, fd00:ec2::254/128 (AWS IMDS over IPv6), 100.100.100.200/32
/// (Alibaba Cloud metadata).
const std::vector<ProbePattern>& DefaultDeniedNetworks();

struct ProbePolicy {
  std::string table = "[probe]";      ///< the config table, for messages
  bool enabled = true;                ///< false: /probe answers 403
  std::vector<ProbePattern> allow;    ///< empty: anything not denied
  std::vector<ProbePattern> deny;

  /// Before DNS: the target's name and port against host:port patterns.
  /// Error reason "forbidden", naming the rule.
  Result<Ok> CheckName(std::string_view host, uint16_t port) const;

  /// After DNS: every address the probe would connect to. A denied address
  /// (deny CIDR, or a default-denied network not allowed by an allow CIDR)
  /// refuses the target; with an allow list, each address must be in an
  /// allow CIDR unless the name matched an allow host:port pattern. Error
  /// reason "forbidden", naming the address and the rule.
  Result<Ok> CheckAddresses(std::string_view host, uint16_t port,
                            const std::vector<asio::ip::tcp::endpoint>& endpoints) const;
};

}  // namespace ose
