// ocsp_staple_exporter: command line, start-up, signals and reloads.
#include "ocsp_staple_exporter/common/asio.h"
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <sys/resource.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <future>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/common/duration.h"
#include "ocsp_staple_exporter/common/log.h"
#include "ocsp_staple_exporter/common/periodic_thread.h"
#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/config/discovery.h"
#include "ocsp_staple_exporter/crl/crl_prober.h"
#include "ocsp_staple_exporter/crl/crl_store.h"
#include "ocsp_staple_exporter/http/server.h"
#include "ocsp_staple_exporter/metrics/request_stats.h"
#include "ocsp_staple_exporter/metrics/collector.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"
#include "ocsp_staple_exporter/probe/report.h"
#include "ocsp_staple_exporter/probe/tls_prober.h"
#include "ocsp_staple_exporter/probe/targets.h"
#include "ocsp_staple_exporter/scheduler/scheduler.h"
#include "ocsp_staple_exporter/stapler/stapler.h"

namespace ose {
namespace {

constexpr const char* kUsage = R"(usage:
  ocsp_staple_exporter --config.file=FILE [--web.listen-address=HOST:PORT ...]
                       [--web.config.file=FILE] [--web.telemetry-path=/metrics]
                       [--web.max-probe-requests=64] [--web.disable-exporter-metrics]
                       [--shard.index=I --shard.count=N]
                       [--log.level=debug|info|warn|error] [--log.format=logfmt|json]
  ocsp_staple_exporter --config.file=FILE --config.check
  ocsp_staple_exporter probe HOST:PORT [--server-name=NAME] [--ca-file=FILE]
                       [--timeout=10s] [--warning-margin=12h]
  ocsp_staple_exporter --version

Exporter flags:
  --config.file          TOML configuration file (required)
  --config.check         validate the configuration and exit 0 (valid) or 1
  --web.listen-address   address of /metrics, /probe, /-/healthy, /-/ready; repeat it to
                         listen on several (default :9830: every interface, IPv4 and IPv6)
  --web.config.file      exporter-toolkit web config: TLS, basic auth, headers (re-read
                         when it changes)
  --web.telemetry-path   path of the metrics (default /metrics)
  --web.max-probe-requests  /probe requests in flight at once; more answer 503 (default 64)
  --web.disable-exporter-metrics  leave out process_* and ocsp_staple_exporter_http_*
  --shard.index, --shard.count  probe only the targets whose name hashes (Prometheus'
                         hashmod) to I of N; override [global] shard_index/shard_count
  --log.level            debug, info, warn or error (default info)
  --log.format           logfmt or json (default logfmt)

The probe command prints a report and exits 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
)";

struct Args {
  bool probe = false;
  bool check = false;
  bool version = false;
  std::string config_file;
  std::vector<std::string> listen;  // empty: :9830
  std::string web_config_file;
  std::string telemetry_path = "/metrics";
  std::string max_probe_requests = "64";
  bool disable_exporter_metrics = false;
  std::string shard_index, shard_count;  // "" unless given: [global] decides
  std::string log_level = "info";
  std::string log_format = "logfmt";
  std::string target;  // probe HOST:PORT
  std::string server_name;
  std::string ca_file;
  std::string timeout = "10s";
  std::string warning_margin = "12h";
};

// Accepts "--name=value" and "--name value". Throws std::invalid_argument.
Args ParseArgs(int argc, char** argv) {
  Args a;
  std::vector<std::string> v(argv + 1, argv + argc);
  size_t i = 0;
  if (!v.empty() && v[0] == "probe") {
    a.probe = true;
    i = 1;
  }
  auto value = [&](const std::string& arg, const std::string& name,
                   std::string& out) -> bool {
    if (arg == name) {
      if (i + 1 >= v.size()) throw std::invalid_argument(name + " needs a value");
      out = v[++i];
      return true;
    }
    if (arg.rfind(name + "=", 0) == 0) {
      out = arg.substr(name.size() + 1);
      return true;
    }
    return false;
  };
  for (; i < v.size(); ++i) {
    const std::string& arg = v[i];
    if (arg == "-h" || arg == "--help") throw std::invalid_argument("");
    if (arg == "--version") {
      a.version = true;
    } else if (arg == "--config.check") {
      a.check = true;
    } else if (arg == "--web.disable-exporter-metrics") {
      a.disable_exporter_metrics = true;
    } else if (std::string l; value(arg, "--web.listen-address", l)) {
      a.listen.push_back(l);
    } else if (value(arg, "--config.file", a.config_file) ||
               value(arg, "--web.config.file", a.web_config_file) ||
               value(arg, "--web.telemetry-path", a.telemetry_path) ||
               value(arg, "--web.max-probe-requests", a.max_probe_requests) ||
               value(arg, "--shard.index", a.shard_index) ||
               value(arg, "--shard.count", a.shard_count) ||
               value(arg, "--log.level", a.log_level) ||
               value(arg, "--log.format", a.log_format)) {
    } else if (a.probe && (value(arg, "--server-name", a.server_name) ||
                           value(arg, "--ca-file", a.ca_file) ||
                           value(arg, "--timeout", a.timeout) ||
                           value(arg, "--warning-margin", a.warning_margin))) {
    } else if (a.probe && a.target.empty() && arg.rfind("--", 0) != 0) {
      a.target = arg;
    } else {
      throw std::invalid_argument("unknown argument \"" + arg + "\"");
    }
  }
  if (a.log_format != "logfmt" && a.log_format != "json") {
    throw std::invalid_argument("--log.format must be logfmt or json");
  }
  if (a.probe && a.target.empty()) throw std::invalid_argument("probe needs HOST:PORT");
  if (a.listen.empty()) a.listen.push_back(":9830");
  if (a.telemetry_path.empty() || a.telemetry_path.front() != '/' || a.telemetry_path == "/" ||
      a.telemetry_path.find_first_of("?# ") != std::string::npos) {
    throw std::invalid_argument("--web.telemetry-path must be a path such as /metrics");
  }
  auto number = [](const std::string& v, long lo, long hi, const char* what) {
    char* end = nullptr;
    const long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || end == v.c_str() || *end != '\0' || n < lo || n > hi) {
      throw std::invalid_argument(std::string(what) + " must be a number from " +
                                  std::to_string(lo) + " to " + std::to_string(hi));
    }
    return n;
  };
  number(a.max_probe_requests, 1, 100000, "--web.max-probe-requests");
  if (a.shard_index.empty() != a.shard_count.empty()) {
    throw std::invalid_argument("--shard.index and --shard.count go together");
  }
  if (!a.shard_count.empty()) {
    const long count = number(a.shard_count, 1, 100000, "--shard.count");
    number(a.shard_index, 0, count - 1, "--shard.index");
  }
  if (!a.probe && !a.version && a.config_file.empty()) {
    throw std::invalid_argument("--config.file is required");
  }
  return a;
}


int RunProbe(const Args& a) {
  auto hp = ParseHostPort(a.target);
  if (!hp) {
    std::cerr << hp.error().detail << "\n";
    return 3;
  }
  auto timeout = ParseDuration(a.timeout);
  auto margin = ParseDuration(a.warning_margin);
  if (!timeout || timeout->count() <= 0 || !margin) {
    std::cerr << "--timeout and --warning-margin take durations such as 10s or 24h\n";
    return 3;
  }
  TlsTarget target;
  target.name = a.target;
  target.endpoint = hp.value();
  target.server_name = a.server_name;
  target.timeout = *timeout;
  if (!a.ca_file.empty()) {
    auto certs = LoadPemCertificates(a.ca_file);
    if (!certs) {
      std::cerr << certs.error().detail << "\n";
      return 3;
    }
    target.ca_certs = std::make_shared<const std::vector<X509Ptr>>(std::move(certs).value());
  }
  asio::io_context io;
  TlsProber prober(io);
  std::optional<ProbeResult> result;
  prober.Probe(MakeTlsRequest(target, GlobalConfig{}),
               [&](ProbeResult r) { result = std::move(r); });
  io.run();
  auto report = BuildProbeReport(
      a.target, *result, NowUnix(),
      std::chrono::duration_cast<std::chrono::seconds>(*margin).count());
  std::cout << report.text;
  return static_cast<int>(report.exit);
}

// GET /probe: one TLS probe now, answered without the `target` label.
// `done` runs once, on a probe thread.
void ProbeOnDemand(const ProbeQuery& q, std::shared_ptr<const Config> config, TlsProber& tls,
                   std::function<void(Result<std::vector<prometheus::MetricFamily>>)> done) {
  const Config& cfg = *config;
  auto hp = ParseHostPort(q.target);
  if (!hp) return done(Error{"bad_request", hp.error().detail});
  // [probe]: the name now, every resolved address before connecting.
  if (auto ok = cfg.probe.CheckName(hp->host, hp->port); !ok) return done(ok.error());
  TlsTarget target;
  target.name = q.target;
  target.address = q.target;
  target.endpoint = hp.value();
  target.timeout = cfg.global.timeout;
  if (!q.module.empty()) {
    auto m = std::find_if(cfg.modules.begin(), cfg.modules.end(),
                          [&](const Module& x) { return x.name == q.module; });
    if (m == cfg.modules.end()) {
      return done(Error{"bad_request", "unknown module \"" + q.module + "\""});
    }
    target.server_name = m->server_name;
    target.ca_certs = m->ca_certs;
    target.timeout = m->timeout;
    target.all_addresses = m->all_addresses;
    target.handshakes = m->handshakes;
  }
  if (q.scrape_timeout_seconds > 0) {
    // Answer before Prometheus gives up, like blackbox_exporter's 0.5 s offset.
    auto budget = std::chrono::milliseconds(
        static_cast<int64_t>(std::max(0.1, q.scrape_timeout_seconds - 0.5) * 1000));
    target.timeout = std::min(target.timeout, budget);
  }
  TlsProbeRequest req = MakeTlsRequest(target, cfg.global);
  req.admit = [config, host = hp->host, port = hp->port](const auto& endpoints) {
    return config->probe.CheckAddresses(host, port, endpoints);
  };
  tls.ProbeAnyThread(std::move(req), [name = q.target, done = std::move(done)](ProbeResult r) {
                       if (r.failure_reason == probe_failure::kForbidden) {
                         return done(Error{"forbidden", r.detail});
                       }
                       TargetSnapshot snap;
                       snap.name = name;
                       snap.kind = "tls";
                       snap.last = std::move(r);
                       std::vector<prometheus::MetricFamily> out;
                       for (auto& f : TargetFamilies({snap}, NowUnix(), /*target_label=*/false)) {
                         // Counters and the probe timestamp belong to scheduled targets only.
                         if (f.name != "ocsp_probe_failures_total" &&
                             f.name != "ocsp_probe_timestamp_seconds") {
                           out.push_back(std::move(f));
                         }
                       }
                       done(std::move(out));
                     });
}

// Flags that override the config file, applied to every load (reloads too).
Result<Config> LoadWithFlags(const Args& a) {
  auto cfg = LoadConfig(a.config_file);
  if (cfg && !a.shard_count.empty()) {
    cfg->global.shard_count = std::stoi(a.shard_count);
    cfg->global.shard_index = std::stoi(a.shard_index);
  }
  return cfg;
}

// Every probe in flight holds a socket: allow as many as the hard limit.
void RaiseFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      log::Warn("cannot raise the open-file limit", {{"err", std::strerror(errno)}});
    }
  }
}

int RunExporter(const Args& a) {
  RaiseFileLimit();
  auto cfg = LoadWithFlags(a);
  if (!cfg) {
    log::Error("cannot load config", {{"file", a.config_file}, {"err", cfg.error().detail}});
    std::cerr << cfg.error().detail << "\n";
    return 1;
  }
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  // Handshakes on every core; scheduling, results and the stapler on `io`.
  const int probe_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  TlsProber tls(io, DnsOptions{.servers = cfg->global.dns_servers}, probe_threads);
  // The running config, swapped by reloads; read by /probe and CRL fetches.
  std::mutex config_mu;
  std::shared_ptr<const Config> current;
  auto config = [&] {
    std::lock_guard lock(config_mu);
    return current;
  };
  // One fetch per CRL Distribution Point URL, shared by every target whose
  // revocation asks for CRLs (`[global] timeout` bounds each fetch).
  CrlStore crl_store(
      [&](const std::string& url) {
        // URLs taken from certificates: only where `[fetch]` allows.
        std::shared_ptr<const Config> c = config();
        return FetchCrlUrl(url, c->global.timeout, kDefaultCrlMaxSize, &c->fetch);
      },
      MakeVerifyOptions(cfg->global));
  // Declared after crl_store: its pool threads look CRLs up there until joined.
  ResponderProber http_prober(io, 16);
  ResultStore store;
  ExporterStatus status;
  Scheduler scheduler(io, store);
  status.scheduler = &scheduler.stats();
  int exit_code = 0;
  // The stapling engine fetches on a pool of its own: no hung CRL
  // distribution point or responder of a probed target can hold the
  // threads a staple refresh needs.
  ResponderProber stapler_http(io, 4);
  Stapler stapler(io, stapler_http, [&](int code) {
    exit_code = code;
    work.reset();
    io.stop();
  });
  RequestStats requests({a.telemetry_path, "/probe", "/", "/-/healthy", "/-/ready"});
  if (!a.disable_exporter_metrics) {
    status.requests = &requests;
    status.process = true;
  }
  Collector collector(store, status, nullptr, [&] { return stapler.Snapshot(); });

  // [[discovery]] targets join the config file's [[tls]] targets; the
  // running config is the file's plus them.
  DiscoveryWatcher discovery;
  status.discovery = [&] { return discovery.Stats(); };
  status.crl_fetches = [&] { return crl_store.FetchCounts(); };
  std::shared_ptr<const Config> file_config;  ///< as loaded; guarded by reload_mu
  auto apply = [&](std::shared_ptr<const Config> loaded, bool stapler_too) {
    auto c = std::make_shared<Config>(*loaded);
    for (TlsTarget& t : discovery.Targets(c->discovery, TargetKinds(*c))) {
      c->tls.push_back(std::move(t));
    }
    {
      std::lock_guard lock(config_mu);
      current = c;
    }
    tls.SetDnsServers(c->global.dns_servers);
    crl_store.SetVerifyOptions(MakeVerifyOptions(c->global));
    // A CRL no target has asked for in two of the longest intervals goes.
    crl_store.SetLimits(c->global.crl_cache_max_bytes,
                        2 * std::chrono::duration_cast<std::chrono::seconds>(
                                LongestInterval(*c)).count());
    scheduler.Apply(BuildTargets(*c, tls, http_prober, &crl_store), c->global.concurrency,
                    c->global.per_host_concurrency);
    if (stapler_too) stapler.Apply(*c);
  };
  auto steady_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  auto max_timeout = [](const Config& c) {
    auto t = c.global.timeout;
    for (const auto& x : c.tls) t = std::max(t, x.timeout);
    for (const auto& x : c.responders) t = std::max(t, x.timeout);
    return t;
  };

  // A config file loaded (at start or on reload): its discovery files read
  // at once, then applied.
  auto adopt = [&](Config loaded) {
    file_config = std::make_shared<const Config>(std::move(loaded));
    discovery.Poll(file_config->discovery, steady_ms(), /*force=*/true);
    apply(file_config, true);
    status.last_reload_successful = true;
    status.last_reload_success_timestamp = NowUnix();
  };

  std::mutex reload_mu;
  auto reload = [&]() -> Result<Ok> {
    std::lock_guard lock(reload_mu);
    auto next = LoadWithFlags(a);
    if (!next) {
      status.last_reload_successful = false;
      log::Error("config reload failed, keeping the running config",
                 {{"file", a.config_file}, {"err", next.error().detail}});
      return next.error();
    }
    adopt(std::move(next).value());
    log::Info("config reloaded", {{"file", a.config_file}});
    return Ok{};
  };

  adopt(std::move(cfg).value());

  HttpServer http(store, collector,
                  HttpHooks{.ready = [&] {
                              // Every target probed once, or the first round
                              // over (a target that hangs must not keep the
                              // exporter unready forever).
                              const auto first = scheduler.FirstRoundDue();
                              const auto slack = max_timeout(*config()) + std::chrono::seconds(5);
                              const bool round_over =
                                  first != std::chrono::steady_clock::time_point::max() &&
                                  std::chrono::steady_clock::now() >= first + slack;
                              return (store.AllProbed() || round_over) && stapler.Ready();
                            },
                            .reload = reload,
                            .probe = [&](const ProbeQuery& q, auto done) {
                              ProbeOnDemand(q, config(), tls, std::move(done));
                            },
                            .stapler = [&] { return stapler.Snapshot(); }},
                  &requests);
  HttpServerOptions web;
  web.listen_addresses = a.listen;
  web.web_config_file = a.web_config_file;
  web.router.telemetry_path = a.telemetry_path;
  web.router.max_probe_requests = std::stoi(a.max_probe_requests);
  auto started = http.Start(web);
  if (!started) {
    log::Error("cannot start HTTP server", {{"err", started.error().detail}});
    std::cerr << started.error().detail << "\n";
    return 1;
  }
  std::string ports;
  for (int p : http.ports()) ports += (ports.empty() ? "" : ",") + std::to_string(p);
  std::string addresses;
  for (const auto& l : a.listen) addresses += (addresses.empty() ? "" : ",") + l;
  log::Info("listening", {{"address", addresses}, {"port", ports},
                          {"web_config", a.web_config_file},
                          {"shard", std::to_string(config()->global.shard_index) + "/" +
                                        std::to_string(config()->global.shard_count)},
                          {"config", a.config_file},
                          {"version", OSE_VERSION}, {"revision", OSE_REVISION}});

  // Discovery files are checked off the event loop: a slow or hung file
  // system delays new targets, never a probe or a scrape.
  PeriodicThread discovery_poll(std::chrono::seconds(1), [&] {
    std::lock_guard lock(reload_mu);
    if (discovery.Poll(file_config->discovery, steady_ms(), /*force=*/false)) {
      apply(file_config, false);
    }
  });

  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          (void)reload();
          signals.async_wait(on_signal);
          return;
        }
        log::Info("shutting down", {{"signal", std::to_string(sig)}});
        work.reset();
        io.stop();
      };
  signals.async_wait(on_signal);
  // Last-resort guard: an exception escaping a handler is logged and the
  // loop goes on serving; it never takes the process down.
  while (true) {
    try {
      io.run();
      break;
    } catch (const std::exception& e) {
      log::Error("uncaught exception on the event loop; continuing", {{"err", e.what()}});
    } catch (...) {
      log::Error("uncaught exception on the event loop; continuing", {});
    }
  }
  return exit_code;
}

}  // namespace
}  // namespace ose

int main(int argc, char** argv) {
  using namespace ose;
  std::signal(SIGPIPE, SIG_IGN);
  Args args;
  try {
    args = ParseArgs(argc, argv);
  } catch (const std::invalid_argument& e) {
    if (*e.what() != '\0') std::cerr << "ocsp_staple_exporter: " << e.what() << "\n\n";
    std::cerr << kUsage;
    return *e.what() != '\0' ? (argc > 1 && std::string(argv[1]) == "probe" ? 3 : 1) : 0;
  }
  if (args.version) {
    std::cout << "ocsp_staple_exporter " OSE_VERSION " (revision " OSE_REVISION ")\n";
    return 0;
  }
  if (!log::Setup(args.log_level,
                  args.log_format == "json" ? log::Format::kJson : log::Format::kLogfmt)) {
    std::cerr << "ocsp_staple_exporter: --log.level must be debug, info, warn or error\n";
    return 1;
  }
  if (args.probe) return RunProbe(args);
  if (args.check) {
    auto cfg = LoadConfig(args.config_file);
    if (!cfg) {
      std::cerr << cfg.error().detail << "\n";
      return 1;
    }
    std::cout << args.config_file << ": OK (" << cfg->tls.size() << " tls, "
              << cfg->responders.size() << " responder, " << cfg->files.size() << " file, "
              << cfg->crls.size() << " crl targets, "
              << cfg->modules.size() << " modules, " << cfg->discovery.size()
              << " discovery, " << cfg->stapler.certificates.size()
              << " stapled certificates)\n";
    return 0;
  }
  return RunExporter(args);
}
