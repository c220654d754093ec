// [global], [probe], [fetch] and [alertmanager]: the tables that set
// defaults and policies rather than targets.
#include "checker.h"

namespace ose::config_parse {

void ParseGlobal(Checker& c, const toml::table& t, GlobalConfig& g) {
  c.CheckKeys(t, "global", {"interval", "timeout", "concurrency", "skew", "default_validity",
                             "per_host_concurrency", "dns_servers", "revocation", "shard_index",
                             "shard_count", "crl_cache_max_bytes"});
  if (auto v = c.IntAt(t, "global", "crl_cache_max_bytes", 1 << 20, int64_t{1} << 40)) {
    g.crl_cache_max_bytes = *v;
  }
  if (auto v = c.IntAt(t, "global", "shard_count", 1, 100000)) g.shard_count = static_cast<int>(*v);
  if (auto v = c.IntAt(t, "global", "shard_index", 0, 99999)) {
    g.shard_index = static_cast<int>(*v);
    if (g.shard_index >= g.shard_count) {
      c.Fail(t.get("shard_index")->source(), "global.shard_index",
             "must be less than shard_count (" + std::to_string(g.shard_count) + ")");
    }
  }
  g.revocation = RevocationAt(c, t, "global", g.revocation);
  if (auto d = c.DurationAt(t, "global", "interval")) g.interval = *d;
  if (auto d = c.DurationAt(t, "global", "timeout")) g.timeout = *d;
  if (auto d = c.DurationAt(t, "global", "default_validity")) g.default_validity = *d;
  if (const toml::node* n = t.get("skew")) {
    // Zero skew is allowed: strict clocks.
    auto s = n->value<std::string>();
    auto d = s ? ParseDuration(*s) : std::nullopt;
    if (!d) {
      c.Fail(n->source(), "global.skew", "invalid duration (want e.g. \"300s\")");
    } else if (*d > kMaxDuration) {
      c.Fail(n->source(), "global.skew", "must be at most 10y");
    } else {
      g.skew = *d;
    }
  }
  if (auto v = c.IntAt(t, "global", "concurrency", 1, 100000)) g.concurrency = *v;
  if (auto v = c.IntAt(t, "global", "per_host_concurrency", 1, 1000)) {
    g.per_host_concurrency = *v;
  }
  if (const toml::node* n = t.get("dns_servers")) {
    const toml::array* a = n->as_array();
    if (a == nullptr) {
      c.Fail(n->source(), "global.dns_servers", "must be an array of \"IP[:port]\" strings");
      return;
    }
    for (const toml::node& e : *a) {
      auto s = e.value_exact<std::string>();
      auto ok = s ? ValidateDnsServer(*s) : Result<Ok>(Error{"config", "must be a string"});
      if (!ok) {
        c.Fail(e.source(), "global.dns_servers", ok.error().detail);
      } else {
        g.dns_servers.push_back(*s);
      }
    }
  }
}


void ParsePolicy(Checker& c, const toml::table& root, const char* table, bool with_enabled,
                 ProbePolicy& out) {
  const toml::table* t = c.TableAt(root, table);
  if (t == nullptr) return;
  if (with_enabled) {
    c.CheckKeys(*t, table, {"enabled", "allow", "deny"});
    out.enabled = c.BoolAt(*t, table, "enabled").value_or(true);
  } else {
    c.CheckKeys(*t, table, {"allow", "deny"});
  }
  for (const char* key : {"allow", "deny"}) {
    const toml::node* list = t->get(key);
    if (list == nullptr) continue;
    const std::string full = std::string(table) + "." + key;
    const toml::array* a = list->as_array();
    if (a == nullptr) {
      c.Fail(list->source(), full, "must be an array of CIDRs and \"host:port\" patterns");
      continue;
    }
    for (const toml::node& e : *a) {
      auto s = e.value_exact<std::string>();
      auto pattern = s ? ParseProbePattern(*s)
                       : Result<ProbePattern>(Error{"config", "must be a string"});
      if (!pattern) {
        c.Fail(e.source(), full, pattern.error().detail);
      } else {
        (std::string_view(key) == "allow" ? out.allow : out.deny)
            .push_back(std::move(pattern).value());
      }
    }
  }
}

void ParseAlertmanager(Checker& c, const toml::table& am, AlertmanagerConfig& out) {
  c.CheckKeys(am, "alertmanager", {"url", "timeout", "resend_interval"});
  if (auto url = c.UrlAt(am, "alertmanager", "url", true)) {
    out.url = *url;
    while (!out.url.empty() && out.url.back() == '/') out.url.pop_back();
  }
  if (auto d = c.DurationAt(am, "alertmanager", "timeout")) out.timeout = *d;
  if (auto d = c.DurationAt(am, "alertmanager", "resend_interval")) out.resend_interval = *d;
}

}  // namespace ose::config_parse
