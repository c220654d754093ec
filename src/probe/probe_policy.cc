#include "ocsp_staple_exporter/probe/probe_policy.h"

#include <algorithm>
#include <charconv>

#include "ocsp_staple_exporter/common/text.h"
#include "ocsp_staple_exporter/config/config.h"

namespace ose {
namespace {

using asio::ip::address;
using asio::ip::address_v6;

// IPv4 as IPv4-mapped IPv6, so one comparison covers both families.
address_v6 Mapped(const address& a) {
  return a.is_v4() ? asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4()) : a.to_v6();
}

// The address as IPv4 when it is IPv4-mapped, for messages.
std::string Show(const address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
  }
  return a.to_string();
}

// `host` as rules compare it: lower case, without the trailing dot of a
// fully qualified name, and an IP literal as the address it connects to.
std::string CanonicalHost(std::string_view host) {
  std::string h = AsciiLower(host);
  if (h.size() > 1 && h.back() == '.') h.pop_back();
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  boost::system::error_code ec;
  const address a = asio::ip::make_address(h, ec);
  return ec ? h : Show(ConnectAddress(a));
}

}  // namespace

asio::ip::address ConnectAddress(const asio::ip::address& a) {
  if (a.is_v4()) {
    return a.to_v4().is_unspecified() ? address(asio::ip::address_v4::loopback()) : a;
  }
  const address_v6 v6 = a.to_v6();
  if (v6.is_unspecified()) return asio::ip::address_v6::loopback();
  if (v6.is_v4_mapped()) {
    return ConnectAddress(asio::ip::make_address_v4(asio::ip::v4_mapped, v6));
  }
  const auto b = v6.to_bytes();
  // IPv4-compatible (::a.b.c.d, RFC 4291 §2.5.5.1, deprecated): the IPv4
  // address it carries. ::1 is loopback itself.
  if (std::all_of(b.begin(), b.begin() + 12, [](uint8_t x) { return x == 0; }) &&
      !v6.is_loopback()) {
    return ConnectAddress(asio::ip::address_v4({b[12], b[13], b[14], b[15]}));
  }
  return a;
}

bool ProbePattern::Contains(const address& a) const {
  if (!cidr) return false;
  const auto want = network.to_bytes();
  const auto have = Mapped(a).to_bytes();
  int bits = prefix;
  for (size_t i = 0; i < want.size() && bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((want[i] & mask) != (have[i] & mask)) return false;
  }
  return true;
}

bool ProbePattern::Matches(std::string_view h, uint16_t p) const {
  if (cidr) return false;
  if (port >= 0 && port != p) return false;
  const std::string name = CanonicalHost(h);
  if (host.rfind("*.", 0) == 0) {
    const std::string_view suffix = std::string_view(host).substr(1);  // ".example.net"
    return name.size() > suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  return name == host;
}

Result<ProbePattern> ParseProbePattern(std::string_view text) {
  ProbePattern p;
  p.text = std::string(text);
  auto fail = [&](const std::string& why) -> Result<ProbePattern> {
    return Error{"config", "\"" + p.text + "\": " + why};
  };
  if (text.empty()) return fail("empty");
  // A CIDR or a bare address.
  const size_t slash = text.find('/');
  boost::system::error_code ec;
  const address a = asio::ip::make_address(std::string(text.substr(0, slash)), ec);
  if (!ec) {
    const int max = a.is_v4() ? 32 : 128;
    int bits = max;
    if (slash != std::string_view::npos) {
      std::string_view b = text.substr(slash + 1);
      auto [end, err] = std::from_chars(b.data(), b.data() + b.size(), bits);
      if (err != std::errc() || end != b.data() + b.size() || bits < 0 || bits > max) {
        return fail("prefix length must be 0-" + std::to_string(max));
      }
    }
    p.cidr = true;
    p.network = Mapped(a);
    p.prefix = a.is_v4() ? 96 + bits : bits;
    return p;
  }
  if (slash != std::string_view::npos) return fail("not an IP network (want e.g. 10.0.0.0/8)");
  // host:port, with "*" for any port and "*." for any name under a domain.
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return fail("want a CIDR, an IP address, or HOST:PORT (PORT may be *)");
  }
  std::string_view port = text.substr(colon + 1);
  std::string host(text.substr(0, colon));
  if (port == "*") {
    p.port = -1;
  } else {
    auto hp = ParseHostPort(std::string("x:") + std::string(port));
    if (!hp) return fail("port must be 1-65535 or *");
    p.port = hp->port;
  }
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string bare = host.rfind("*.", 0) == 0 ? host.substr(2) : host;
  if (bare.empty() || bare.find('*') != std::string::npos) {
    return fail("a host may only start with \"*.\"");
  }
  if (!ParseHostPort((bare.find(':') != std::string::npos ? "[" + bare + "]" : bare) + ":1")) {
    return fail("bad host");
  }
  p.host = host.rfind("*.", 0) == 0 ? AsciiLower(host) : CanonicalHost(host);
  return p;
}

const std::vector<ProbePattern>& DefaultDeniedNetworks() {
  static const std::vector<ProbePattern> kNets = [] {
    std::vector<ProbePattern> out;
    for (const char* n : {"169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32"}) {
      out.push_back(ParseProbePattern(n).value());
    }
    return out;
  }();
  return kNets;
}

Result<Ok> ProbePolicy::CheckName(std::string_view host, uint16_t port) const {
  if (!enabled) return Error{"forbidden", "/probe is disabled ([probe] enabled = false)"};
  // (Matches canonicalises: "localhost." is "localhost", "[::ffff:7f00:1]"
  // is 127.0.0.1; CIDR rules see IP literals after resolution.)
  for (const ProbePattern& d : deny) {
    if (d.Matches(host, port)) {
      return Error{"forbidden", std::string(host) + ":" + std::to_string(port) +
                                    " is denied by " + table + " deny \"" + d.text + "\""};
    }
  }
  return Ok{};
}

Result<Ok> ProbePolicy::CheckAddresses(std::string_view host, uint16_t port,
                                       const std::vector<asio::ip::tcp::endpoint>& endpoints) const {
  const bool name_allowed = std::any_of(allow.begin(), allow.end(), [&](const ProbePattern& a) {
    return a.Matches(host, port);
  });
  const std::string target = std::string(host) + ":" + std::to_string(port);
  for (const auto& ep : endpoints) {
    // Rules see the address the connection reaches (0.0.0.0 and :: are
    // loopback; IPv4-mapped and -compatible forms are IPv4); denials also
    // see the address as written.
    const address a = ep.address(), reached = ConnectAddress(a);
    const std::string shown = Show(a) == Show(reached)
                                  ? Show(a)
                                  : Show(a) + " (reaching " + Show(reached) + ")";
    auto in = [&](const std::vector<ProbePattern>& list, bool either) -> const ProbePattern* {
      for (const ProbePattern& p : list) {
        if (p.Contains(reached) || (either && p.Contains(a))) return &p;
      }
      return nullptr;
    };
    if (const ProbePattern* d = in(deny, true)) {
      return Error{"forbidden", target + " resolves to " + shown + ", denied by " + table + " deny \"" +
                                    d->text + "\""};
    }
    const ProbePattern* allowed = in(allow, false);
    if (const ProbePattern* d = in(DefaultDeniedNetworks(), true); d && allowed == nullptr) {
      return Error{"forbidden", target + " resolves to " + shown +
                                    ", a link-local or cloud metadata address (" + d->text +
                                    "); allow it with a " + table + " allow CIDR"};
    }
    if (!allow.empty() && !name_allowed && allowed == nullptr) {
      return Error{"forbidden",
                   target + " resolves to " + shown + ", which no " + table + " allow entry names"};
    }
  }
  return Ok{};
}

}  // namespace ose
