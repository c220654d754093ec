#include "ocsp_staple_exporter/config/config.h"

#include "checker.h"

#include <openssl/evp.h>

#include <arpa/inet.h>

#include <algorithm>

#include <fstream>
#include <sstream>
#include <toml++/toml.h>

namespace ose {
namespace {

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_';
}

}  // namespace

uint64_t HashMod(std::string_view name, uint64_t count) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(name.data(), name.size(), md, &len, EVP_md5(), nullptr);
  uint64_t v = 0;
  for (unsigned int i = len - 8; i < len; ++i) v = (v << 8) | md[i];
  return v % count;
}

bool InShard(std::string_view name, const GlobalConfig& global) {
  return global.shard_count <= 1 ||
         HashMod(name, static_cast<uint64_t>(global.shard_count)) ==
             static_cast<uint64_t>(global.shard_index);
}

std::string_view RevocationName(Revocation r) {
  switch (r) {
    case Revocation::kCrl: return "crl";
    case Revocation::kBoth: return "both";
    case Revocation::kOcsp: break;
  }
  return "ocsp";
}

bool IsIpLiteral(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

Result<Ok> ValidateDnsServer(const std::string& entry) {
  auto bad = [&](const std::string& why) {
    return Error{"config", "dns_servers entry \"" + entry + "\": " + why};
  };
  std::string ip = entry;
  std::string port;
  if (!entry.empty() && entry.front() == '[') {
    auto close = entry.find(']');
    if (close == std::string::npos) return bad("missing ']'");
    ip = entry.substr(1, close - 1);
    std::string rest = entry.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("expected ':' and a port after ']'");
      port = rest.substr(1);
    }
  } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
    ip = entry.substr(0, entry.find(':'));
    port = entry.substr(entry.find(':') + 1);
  }
  if (!IsIpLiteral(ip)) {
    return bad("not an IP address (IP, IP:port or [IPv6]:port)");
  }
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
        std::stoi(port) < 1 || std::stoi(port) > 65535) {
      return bad("port must be 1-65535");
    }
  }
  return Ok{};
}

Result<HostPort> ParseHostPort(std::string_view address) {
  auto fail = [&](std::string why) {
    return Error{"address", "invalid address \"" + std::string(address) + "\": " + why};
  };
  std::string_view host;
  std::string_view port;
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close == std::string_view::npos) return fail("missing ']'");
    host = address.substr(1, close - 1);
    if (close + 1 >= address.size() || address[close + 1] != ':') {
      return fail("want [IPv6]:PORT");
    }
    port = address.substr(close + 2);
    in6_addr a6;
    if (inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1) {
      return fail("not an IPv6 address inside brackets");
    }
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) return fail("want HOST:PORT");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail("IPv6 addresses need brackets, e.g. [::1]:443");
    }
    for (char ch : host) {
      if (!IsHostChar(ch)) return fail("bad character in host");
    }
  }
  if (host.empty()) return fail("missing host");
  if (port.empty() || port.size() > 5) return fail("port must be 1-65535");
  unsigned p = 0;
  for (char ch : port) {
    if (ch < '0' || ch > '9') return fail("port must be 1-65535");
    p = p * 10 + static_cast<unsigned>(ch - '0');
  }
  if (p < 1 || p > 65535) return fail("port must be 1-65535");
  return HostPort{std::string(host), static_cast<uint16_t>(p)};
}

Result<Config> ParseConfig(std::string_view text, const std::string& path) {
  using namespace config_parse;
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << path << ':' << e.source().begin.line << ':' << e.source().begin.column
        << ": syntax error: " << e.description();
    return Error{"config", out.str()};
  }

  Checker c(path, fs::absolute(fs::path(path)).parent_path());
  Config cfg;
  cfg.file = path;
  c.CheckKeys(root, "",
              {"global", "tls", "responder", "file", "crl", "module", "stapler", "alertmanager",
               "probe", "fetch", "discovery"});
  // [global] first: its defaults fill every other section.
  if (const toml::table* t = c.TableAt(root, "global")) ParseGlobal(c, *t, cfg.global);
  ParsePolicy(c, root, "probe", /*with_enabled=*/true, cfg.probe);
  cfg.fetch.table = "[fetch]";
  ParsePolicy(c, root, "fetch", /*with_enabled=*/false, cfg.fetch);
  using SectionParser = void (*)(Checker&, const toml::table&, const std::string&, Config&);
  constexpr std::pair<std::string_view, SectionParser> kArrays[] = {
      {"tls", ParseTls},         {"responder", ParseResponder}, {"file", ParseFile},
      {"crl", ParseCrl},         {"discovery", ParseDiscovery}, {"module", ParseModule},
  };
  for (const auto& section : kArrays) {
    const SectionParser parse = section.second;  // (clang 14 cannot capture a binding)
    c.EachTable(root, "", section.first,
                [&](const toml::table& t, const std::string& p) { parse(c, t, p, cfg); });
  }
  if (const toml::table* t = c.TableAt(root, "alertmanager", "must be a table ([alertmanager])")) {
    ParseAlertmanager(c, *t, cfg.alertmanager);
  }
  // Last: it checks that no staple overwrites a file the sections above read.
  if (const toml::table* t = c.TableAt(root, "stapler", "must be a table ([stapler])")) {
    ParseStapler(c, *t, cfg);
  }

  if (!c.errors().empty()) {
    std::string detail;
    for (const auto& e : c.errors()) {
      if (!detail.empty()) detail += '\n';
      detail += e;
    }
    return Error{"config", detail};
  }
  return cfg;
}

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"config", path + ": cannot open config file"};
  std::ostringstream buf;
  buf << in.rdbuf();
  return ParseConfig(buf.str(), path);
}

std::map<std::string, std::string> TargetKinds(const Config& config) {
  std::map<std::string, std::string> out;
  for (const TlsTarget& t : config.tls) out.emplace(t.name, "tls");
  for (const ResponderTarget& t : config.responders) out.emplace(t.name, "responder");
  for (const FileTarget& t : config.files) out.emplace(t.name, "file");
  for (const CrlTarget& t : config.crls) out.emplace(t.name, "crl");
  return out;
}

Duration LongestInterval(const Config& config) {
  Duration longest = config.global.interval;
  for (const TlsTarget& t : config.tls) longest = std::max(longest, t.interval);
  for (const ResponderTarget& t : config.responders) longest = std::max(longest, t.interval);
  for (const FileTarget& t : config.files) longest = std::max(longest, t.interval);
  return longest;
}

}  // namespace ose
