// Private to src/config: the readers shared by several sections.
#include "checker.h"


namespace ose::config_parse {
void StartTlsAt(Checker& c, const toml::table& t, const std::string& p, StartTls& starttls,
                std::string& ehlo) {
  if (auto v = c.String(t, p, "starttls", false)) {
    if (auto proto = ParseStartTls(*v)) {
      starttls = *proto;
    } else {
      c.Fail(t.get("starttls")->source(), p + ".starttls",
             "must be " + std::string(StartTlsNames()));
    }
  }
  if (auto e = c.String(t, p, "starttls_ehlo", false)) {
    if (starttls != StartTls::kSmtp) {
      c.Fail(t.get("starttls_ehlo")->source(), p + ".starttls_ehlo",
             "is the EHLO name of starttls = \"smtp\" only");
    } else if (!IsEhloName(*e)) {
      c.Fail(t.get("starttls_ehlo")->source(), p + ".starttls_ehlo",
             "must be a host name or an address literal such as [192.0.2.1]");
    } else {
      ehlo = *e;
    }
  }
  if (starttls == StartTls::kSmtp && ehlo.empty()) ehlo = DefaultEhloName();
}


// `revocation` = "ocsp" | "crl" | "both" of `t`, or `fallback` when unset.
Revocation RevocationAt(Checker& c, const toml::table& t, const std::string& p,
                        Revocation fallback) {
  auto v = c.String(t, p, "revocation", false);
  if (!v) return fallback;
  for (Revocation r : {Revocation::kOcsp, Revocation::kCrl, Revocation::kBoth}) {
    if (*v == RevocationName(r)) return r;
  }
  c.Fail(t.get("revocation")->source(), p.empty() ? "revocation" : p + ".revocation",
         "must be ocsp, crl or both");
  return fallback;
}

// `revocation_scope` = "leaf" | "chain" of `t` (default leaf).
RevocationScope RevocationScopeAt(Checker& c, const toml::table& t, const std::string& p) {
  auto v = c.String(t, p, "revocation_scope", false);
  if (!v || *v == "leaf") return RevocationScope::kLeaf;
  if (*v == "chain") return RevocationScope::kChain;
  c.Fail(t.get("revocation_scope")->source(), p + ".revocation_scope", "must be leaf or chain");
  return RevocationScope::kLeaf;
}

// `addresses` ("first" | "all") and `handshakes` (1..10) of a [[tls]],
// [[module]] or [[discovery]] table.
void FleetKeysAt(Checker& c, const toml::table& t, const std::string& p, bool& all_addresses,
                 int& handshakes) {
  if (auto v = c.String(t, p, "addresses", false)) {
    if (*v == "all" || *v == "first") {
      all_addresses = *v == "all";
    } else {
      c.Fail(t.get("addresses")->source(), p + ".addresses", "must be first or all");
    }
  }
  if (auto n = c.IntAt(t, p, "handshakes", 1, kMaxHandshakes)) handshakes = static_cast<int>(*n);
}

// What a [[tls]] target and a [[discovery]] block's defaults share:
// server_name, ca_file, interval, timeout, revocation, revocation_scope,
// addresses, handshakes, starttls.
void TlsOptionsAt(Checker& c, const toml::table& t, const std::string& p, const GlobalConfig& g,
                  TlsTarget& target) {
  if (auto sn = c.String(t, p, "server_name", false)) target.server_name = *sn;
  target.ca_certs = c.CertsAt(t, p, "ca_file", target.ca_file);
  target.interval = c.DurationAt(t, p, "interval").value_or(g.interval);
  target.timeout = c.DurationAt(t, p, "timeout").value_or(g.timeout);
  target.revocation = RevocationAt(c, t, p, g.revocation);
  target.revocation_scope = RevocationScopeAt(c, t, p);
  FleetKeysAt(c, t, p, target.all_addresses, target.handshakes);
  StartTlsAt(c, t, p, target.starttls, target.starttls_ehlo);
}

}  // namespace ose::config_parse
