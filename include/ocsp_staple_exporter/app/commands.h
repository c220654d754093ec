// The one-shot commands: `ocsp_staple_exporter probe HOST:PORT`, `ready`
// and `--config.check`.
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

/// Arguments of `ocsp_staple_exporter ready`.
struct ReadyCommandOptions {
  std::string url = "http://127.0.0.1:9830/-/ready";
  std::string timeout = "5s";
};

/// The environment variable whose value `ready` sends as the
/// Authorization header ("Basic base64(user:password)"): set from a
/// Kubernetes Secret, it keeps the credential out of the pod spec and the
/// process list.
inline constexpr const char* kReadyAuthorizationEnv = "OSE_PROBE_AUTHORIZATION";

/// A readiness check of this exporter from inside its own pod or host (a
/// Kubernetes exec probe, a container HEALTHCHECK): GET `url` (http or
/// https, on a loopback address or localhost only; the server's certificate
/// is not verified, as it is the process's own), with the Authorization
/// header from kReadyAuthorizationEnv when set. Returns 0 on HTTP 200,
/// 1 otherwise (the status or the transfer error on `err`), 2 for a bad URL
/// or timeout.
int RunReadyCommand(const ReadyCommandOptions& options, std::ostream& out, std::ostream& err);

/// Loads `config_file`; prints "FILE: OK (counts)" to `out` and returns 0,
/// or the error naming the file, line and key to `err` and returns 1.
int CheckConfigCommand(const std::string& config_file, std::ostream& out, std::ostream& err);

}  // namespace ose
