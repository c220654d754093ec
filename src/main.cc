// ocsp_staple_exporter: command line, start-up, signals and reloads.
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <chrono>
#include <sys/resource.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/common/duration.h"
#include "ocsp_staple_exporter/common/log.h"
#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/http/server.h"
#include "ocsp_staple_exporter/metrics/collector.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"
#include "ocsp_staple_exporter/probe/report.h"
#include "ocsp_staple_exporter/probe/tls_prober.h"
#include "ocsp_staple_exporter/scheduler/scheduler.h"

namespace ose {
namespace {

constexpr const char* kUsage = R"(usage:
  ocsp_staple_exporter --config.file=FILE [--web.listen-address=HOST:PORT]
                       [--log.level=debug|info|warn|error] [--log.format=logfmt|json]
  ocsp_staple_exporter --config.file=FILE --config.check
  ocsp_staple_exporter probe HOST:PORT [--server-name=NAME] [--ca-file=FILE]
                       [--timeout=10s] [--warning-margin=12h]
  ocsp_staple_exporter --version

Exporter flags:
  --config.file          TOML configuration file (required)
  --config.check         validate the configuration and exit 0 (valid) or 1
  --web.listen-address   address of /metrics, /probe, /-/healthy, /-/ready (default :9830)
  --log.level            debug, info, warn or error (default info)
  --log.format           logfmt or json (default logfmt)

The probe command prints a report and exits 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
)";

struct Args {
  bool probe = false;
  bool check = false;
  bool version = false;
  std::string config_file;
  std::string listen = ":9830";
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
    } else if (value(arg, "--config.file", a.config_file) ||
               value(arg, "--web.listen-address", a.listen) ||
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
  if (!a.probe && !a.version && a.config_file.empty()) {
    throw std::invalid_argument("--config.file is required");
  }
  return a;
}

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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
  auto cfg = LoadConfig(a.config_file);
  if (!cfg) {
    log::Error("cannot load config", {{"file", a.config_file}, {"err", cfg.error().detail}});
    std::cerr << cfg.error().detail << "\n";
    return 1;
  }
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  TlsProber prober(io);
  ResultStore store;
  ExporterStatus status;
  Scheduler scheduler(io, store, prober);
  Collector collector(store, status);

  auto max_timeout = [](const Config& c) {
    auto t = c.global.timeout;
    for (const auto& x : c.tls) t = std::max(t, x.timeout);
    return t;
  };
  const auto start = std::chrono::steady_clock::now();
  const auto ready_by = start + max_timeout(cfg.value()) + std::chrono::seconds(5);

  std::mutex reload_mu;
  auto reload = [&]() -> Result<Ok> {
    std::lock_guard lock(reload_mu);
    auto next = LoadConfig(a.config_file);
    if (!next) {
      status.last_reload_successful = false;
      log::Error("config reload failed, keeping the running config",
                 {{"file", a.config_file}, {"err", next.error().detail}});
      return next.error();
    }
    scheduler.Apply(next.value());
    status.last_reload_successful = true;
    status.last_reload_success_timestamp = NowUnix();
    log::Info("config reloaded", {{"file", a.config_file}});
    return Ok{};
  };

  scheduler.Apply(cfg.value());
  status.last_reload_successful = true;
  status.last_reload_success_timestamp = NowUnix();

  HttpServer http(store, collector,
                  HttpHooks{.ready = [&] {
                              return store.AllProbed() ||
                                     std::chrono::steady_clock::now() >= ready_by;
                            },
                            .reload = reload});
  auto started = http.Start(HttpServerOptions{.listen_address = a.listen});
  if (!started) {
    log::Error("cannot start HTTP server", {{"err", started.error().detail}});
    return 1;
  }
  log::Info("listening", {{"address", a.listen}, {"port", std::to_string(http.port())},
                          {"config", a.config_file},
                          {"version", OSE_VERSION}, {"revision", OSE_REVISION}});

  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  std::function<void(const asio::error_code&, int)> on_signal =
      [&](const asio::error_code& ec, int sig) {
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
  io.run();
  return 0;
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
    std::cout << args.config_file << ": OK (" << cfg->tls.size() << " tls targets)\n";
    return 0;
  }
  return RunExporter(args);
}
