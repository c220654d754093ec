// The reload path: a config file loaded (at start, on SIGHUP or POST
// /-/reload) or a discovery file changed becomes the running config.
#include <algorithm>
#include <chrono>

#include "exporter_impl.h"
#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/common/log.h"
#include "ocsp_staple_exporter/common/memory.h"
#include "ocsp_staple_exporter/probe/targets.h"

namespace ose {
namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<Config> LoadConfigWithFlags(const ExporterOptions& options) {
  auto cfg = LoadConfig(options.config_file);
  if (cfg && options.shard_count > 0) {
    cfg->global.shard_count = options.shard_count;
    cfg->global.shard_index = options.shard_index;
  }
  return cfg;
}

void Exporter::Impl::Apply(bool stapler_too) {
  // The file's config as it is, or a copy of it with the discovered
  // targets appended (without discovery, a 50,000-target config is held
  // once, not twice).
  std::shared_ptr<const Config> c = file_config;
  if (auto discovered = discovery.Targets(file_config->discovery, TargetKinds(*file_config));
      !discovered.empty()) {
    auto joined = std::make_shared<Config>(*file_config);
    for (TlsTarget& t : discovered) joined->tls.push_back(std::move(t));
    c = std::move(joined);
  }
  {
    std::lock_guard lock(config_mu);
    current = c;
  }
  tls.SetDnsServers(c->global.dns_servers);
  // One verified input per TLS target, twice over for staples being
  // replaced: a fleet larger than the cache would verify every probe anew.
  tls.verification_cache().SetCapacity(std::max<size_t>(size_t{1} << 16, 2 * c->tls.size()));
  crl_store.SetVerifyOptions(MakeVerifyOptions(c->global));
  // A CRL no target has asked for in two of the longest intervals goes.
  crl_store.SetLimits(
      c->global.crl_cache_max_bytes,
      2 * std::chrono::duration_cast<std::chrono::seconds>(LongestInterval(*c)).count());
  scheduler.Apply(BuildTargets(c, tls, http_prober, &crl_store, &chain_revocation), c->global.concurrency,
                  c->global.per_host_concurrency);
  if (stapler_too) stapler.Apply(*c);
}

void Exporter::Impl::Adopt(Config loaded) {
  file_config = std::make_shared<const Config>(std::move(loaded));
  discovery.Poll(file_config->discovery, SteadyMs(), /*force=*/true);
  Apply(/*stapler_too=*/true);
  // The TOML tree of a large config (tens of MB at 50,000 targets) and the
  // replaced targets are free now: give their pages back.
  ReleaseFreeHeap();
  status.last_reload_successful = true;
  status.last_reload_success_timestamp = NowUnix();
}

Result<Ok> Exporter::Impl::Reload() {
  std::lock_guard lock(reload_mu);
  auto next = LoadConfigWithFlags(options);
  if (!next) {
    status.last_reload_successful = false;
    log::Error("config reload failed, keeping the running config",
               {{"file", options.config_file}, {"err", next.error().detail}});
    return next.error();
  }
  Adopt(std::move(next).value());
  log::Info("config reloaded", {{"file", options.config_file}});
  return Ok{};
}

void Exporter::Impl::PollDiscovery() {
  std::lock_guard lock(reload_mu);
  if (discovery.Poll(file_config->discovery, SteadyMs(), /*force=*/false)) {
    Apply(/*stapler_too=*/false);
  }
}

}  // namespace ose
