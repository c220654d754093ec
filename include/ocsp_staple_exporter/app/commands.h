// The one-shot commands: `ocsp_staple_exporter probe HOST:PORT` and
// `--config.check`.
#pragma once

#include <iosfwd>
#include <string>

namespace ose {

/// Arguments of `ocsp_staple_exporter probe`.
struct ProbeCommandOptions {
  std::string target;       ///< HOST:PORT
  std::string server_name;  ///< SNI and name check; "" for the host
  std::string ca_file;      ///< PEM trust anchors; "" for the system store
  std::string timeout = "10s";
  std::string warning_margin = "12h";  ///< WARNING when nextUpdate is nearer
  std::string starttls;  ///< "" or a protocol of starttls.h ("smtp", "imap", ...)
};

/// Probes once, prints the report (probe/report.h) to `out` and returns the
/// monitoring-plugin exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
/// (also for bad arguments, explained on `err`).
int RunProbeCommand(const ProbeCommandOptions& options, std::ostream& out, std::ostream& err);

/// Loads `config_file`; prints "FILE: OK (counts)" to `out` and returns 0,
/// or the error naming the file, line and key to `err` and returns 1.
int CheckConfigCommand(const std::string& config_file, std::ostream& out, std::ostream& err);

}  // namespace ose
