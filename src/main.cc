// ocsp_staple_exporter: the command line, dispatched to the running exporter
// (src/app/exporter.cc), the probe command or the config check
// (src/app/commands.cc).
#include <sys/resource.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <optional>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/app/commands.h"
#include "ocsp_staple_exporter/app/exporter.h"
#include "ocsp_staple_exporter/common/log.h"
#include "ocsp_staple_exporter/common/openssl_error.h"

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
                       [--starttls=smtp|imap|pop3|ftp|ldap|postgres|xmpp]
  ocsp_staple_exporter ready [--url=http://127.0.0.1:9830/-/ready] [--timeout=5s]
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

The ready command asks this exporter's /-/ready (loopback only; the Authorization header
from $OSE_PROBE_AUTHORIZATION, e.g. a Kubernetes Secret) and exits 0 when it answers 200.
The probe command prints a report and exits 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
With --starttls it upgrades the protocol first (SMTP says EHLO with this host's name)
and sends nothing after the handshake.
)";

struct Args {
  bool probe = false;
  bool ready = false;
  ReadyCommandOptions ready_options;  // ready [--url] [--timeout]
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
  ProbeCommandOptions probe_options;  // probe HOST:PORT
};

// "--name=value" or "--name value" at v[i] (then i moves past the value):
// true and `out` set; false when v[i] is another flag.
bool FlagValue(const std::vector<std::string>& v, size_t& i, const std::string& name,
               std::string& out) {
  const std::string& arg = v[i];
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
}

// A whole decimal number in [lo, hi]; std::invalid_argument naming `what`.
long BoundedNumber(const std::string& v, long lo, long hi, const char* what) {
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || end == v.c_str() || *end != '\0' || n < lo || n > hi) {
    throw std::invalid_argument(std::string(what) + " must be a number from " +
                                std::to_string(lo) + " to " + std::to_string(hi));
  }
  return n;
}

// The values are checked after the loop; throws std::invalid_argument
// (empty message: --help).
void ParseFlags(const std::vector<std::string>& v, size_t i, Args& a) {
  for (; i < v.size(); ++i) {
    const std::string& arg = v[i];
    if (arg == "-h" || arg == "--help") throw std::invalid_argument("");
    if (arg == "--version") {
      a.version = true;
    } else if (arg == "--config.check") {
      a.check = true;
    } else if (arg == "--web.disable-exporter-metrics") {
      a.disable_exporter_metrics = true;
    } else if (std::string l; FlagValue(v, i, "--web.listen-address", l)) {
      a.listen.push_back(l);
    } else if (FlagValue(v, i, "--config.file", a.config_file) ||
               FlagValue(v, i, "--web.config.file", a.web_config_file) ||
               FlagValue(v, i, "--web.telemetry-path", a.telemetry_path) ||
               FlagValue(v, i, "--web.max-probe-requests", a.max_probe_requests) ||
               FlagValue(v, i, "--shard.index", a.shard_index) ||
               FlagValue(v, i, "--shard.count", a.shard_count) ||
               FlagValue(v, i, "--log.level", a.log_level) ||
               FlagValue(v, i, "--log.format", a.log_format)) {
    } else if (a.ready && (FlagValue(v, i, "--url", a.ready_options.url) ||
                           FlagValue(v, i, "--timeout", a.ready_options.timeout))) {
    } else if (a.probe && (FlagValue(v, i, "--server-name", a.probe_options.server_name) ||
                           FlagValue(v, i, "--ca-file", a.probe_options.ca_file) ||
                           FlagValue(v, i, "--timeout", a.probe_options.timeout) ||
                           FlagValue(v, i, "--warning-margin", a.probe_options.warning_margin) ||
                           FlagValue(v, i, "--starttls", a.probe_options.starttls))) {
    } else if (a.probe && a.probe_options.target.empty() && arg.rfind("--", 0) != 0) {
      a.probe_options.target = arg;
    } else {
      throw std::invalid_argument("unknown argument \"" + arg + "\"");
    }
  }
}

// Throws std::invalid_argument with what is wrong (empty: --help).
Args ParseArgs(int argc, char** argv) {
  Args a;
  std::vector<std::string> v(argv + 1, argv + argc);
  a.probe = !v.empty() && v[0] == "probe";
  a.ready = !v.empty() && v[0] == "ready";
  ParseFlags(v, a.probe || a.ready ? 1 : 0, a);
  if (a.log_format != "logfmt" && a.log_format != "json") {
    throw std::invalid_argument("--log.format must be logfmt or json");
  }
  if (a.probe && a.probe_options.target.empty()) {
    throw std::invalid_argument("probe needs HOST:PORT");
  }
  if (a.listen.empty()) a.listen.push_back(":9830");
  if (a.telemetry_path.empty() || a.telemetry_path.front() != '/' || a.telemetry_path == "/" ||
      a.telemetry_path.find_first_of("?# ") != std::string::npos) {
    throw std::invalid_argument("--web.telemetry-path must be a path such as /metrics");
  }
  BoundedNumber(a.max_probe_requests, 1, 100000, "--web.max-probe-requests");
  if (a.shard_index.empty() != a.shard_count.empty()) {
    throw std::invalid_argument("--shard.index and --shard.count go together");
  }
  if (!a.shard_count.empty()) {
    const long count = BoundedNumber(a.shard_count, 1, 100000, "--shard.count");
    BoundedNumber(a.shard_index, 0, count - 1, "--shard.index");
  }
  if (!a.probe && !a.ready && !a.version && a.config_file.empty()) {
    throw std::invalid_argument("--config.file is required");
  }
  return a;
}

ExporterOptions ToExporterOptions(const Args& a) {
  ExporterOptions o;
  o.config_file = a.config_file;
  o.listen = a.listen;
  o.web_config_file = a.web_config_file;
  o.telemetry_path = a.telemetry_path;
  o.max_probe_requests = std::stoi(a.max_probe_requests);
  o.disable_exporter_metrics = a.disable_exporter_metrics;
  if (!a.shard_count.empty()) {
    o.shard_count = std::stoi(a.shard_count);
    o.shard_index = std::stoi(a.shard_index);
  }
  return o;
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
  ExporterOptions options = ToExporterOptions(a);
  auto cfg = LoadConfigWithFlags(options);
  if (!cfg) {
    log::Error("cannot load config", {{"file", a.config_file}, {"err", cfg.error().detail}});
    std::cerr << cfg.error().detail << "\n";
    return 1;
  }
  // Building the exporter can fail outside the config (OpenSSL refusing to
  // make a TLS context under a broken openssl.cnf): say so and exit 1.
  std::optional<Exporter> exporter;
  try {
    exporter.emplace(std::move(options), std::move(cfg).value());
  } catch (const std::exception& e) {
    log::Error("cannot start", {{"err", e.what()}});
    std::cerr << "ocsp_staple_exporter: cannot start: " << e.what() << "\n";
    return 1;
  }
  if (auto started = exporter->Start(); !started) {
    log::Error("cannot start HTTP server", {{"err", started.error().detail}});
    std::cerr << started.error().detail << "\n";
    return 1;
  }
  return exporter->Run();
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
  if (!args.ready) {
    // Before any certificate is read: a broken openssl.cnf would otherwise
    // show as every certificate of the config failing to parse.
    if (const std::string why = OpenSslUnusable(); !why.empty()) {
      log::Error("cannot start", {{"err", why}});
      std::cerr << "ocsp_staple_exporter: " << why << "\n";
      return args.probe ? 3 : 1;
    }
  }
  if (args.probe) return RunProbeCommand(args.probe_options, std::cout, std::cerr);
  if (args.ready) return RunReadyCommand(args.ready_options, std::cout, std::cerr);
  if (args.check) return CheckConfigCommand(args.config_file, std::cout, std::cerr);
  return RunExporter(args);
}
