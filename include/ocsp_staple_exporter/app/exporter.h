// The running exporter: builds every component from a Config, wires them,
// adopts reloads and shuts down in order. src/main.cc parses the command
// line and hands an ExporterOptions here; the rooms it wires are described in
// docs/architecture.md.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/common/result.h"
#include "ocsp_staple_exporter/config/config.h"

namespace ose {

/// What the command line says about a running exporter (see the usage text
/// in src/main.cc and docs/configuration.md).
struct ExporterOptions {
  std::string config_file;                ///< TOML; re-read on SIGHUP and POST /-/reload
  std::vector<std::string> listen;        ///< HOST:PORT each; never empty
  std::string web_config_file;            ///< exporter-toolkit web config; "" for none
  std::string telemetry_path = "/metrics";
  int max_probe_requests = 64;            ///< /probe requests in flight at once
  bool disable_exporter_metrics = false;  ///< leave out process_* and http_* families
  /// --shard.index/--shard.count; both -1 unless given (then [global] decides).
  int shard_index = -1;
  int shard_count = -1;
};

/// Loads `options.config_file` and applies the flags that override it
/// (shards). Used at start and by every reload. Errors as LoadConfig.
Result<Config> LoadConfigWithFlags(const ExporterOptions& options);

/// The exporter process: one event loop (scheduling, results, the stapling
/// engine), the TLS probe threads, the HTTP listener's threads, the
/// discovery poller. Not copyable; destroying it stops every thread in the
/// reverse order of construction (listener first, event loop last).
class Exporter {
 public:
  /// Builds and wires the components and adopts `config` (discovery files
  /// read, targets scheduled, the stapling engine configured). Throws
  /// std::runtime_error when OpenSSL or c-ares cannot start.
  Exporter(ExporterOptions options, Config config);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  /// Binds the listen addresses and starts serving (error reasons as
  /// HttpServer::Start: "listen", "web_config").
  Result<Ok> Start();

  /// Runs the event loop until SIGINT/SIGTERM, or the stapling engine's
  /// fail-closed path asks the process to exit; returns the exit code.
  /// SIGHUP reloads. An exception escaping a handler is logged and the loop
  /// goes on.
  int Run();

  /// Re-reads the config file; on error keeps the running config, sets
  /// ocsp_staple_exporter_config_last_reload_successful to 0 and returns the
  /// error (the reload endpoint answers it as 500). Any thread.
  Result<Ok> Reload();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ose
