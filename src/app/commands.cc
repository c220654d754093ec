// The one-shot commands: `probe HOST:PORT` and `--config.check`.
#include "ocsp_staple_exporter/app/commands.h"

#include <boost/asio/io_context.hpp>
#include <optional>
#include <ostream>

#include "ocsp_staple_exporter/common/asio.h"
#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/common/duration.h"
#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"
#include "ocsp_staple_exporter/probe/report.h"
#include "ocsp_staple_exporter/probe/targets.h"
#include "ocsp_staple_exporter/probe/tls_prober.h"

namespace ose {

int RunProbeCommand(const ProbeCommandOptions& a, std::ostream& out, std::ostream& err) {
  auto hp = ParseHostPort(a.target);
  if (!hp) {
    err << hp.error().detail << "\n";
    return 3;
  }
  auto timeout = ParseDuration(a.timeout);
  auto margin = ParseDuration(a.warning_margin);
  if (!timeout || timeout->count() <= 0 || !margin) {
    err << "--timeout and --warning-margin take durations such as 10s or 24h\n";
    return 3;
  }
  auto starttls = ParseStartTls(a.starttls);
  if (!starttls) {
    err << "--starttls must be " << StartTlsNames() << "\n";
    return 3;
  }
  TlsTarget target;
  target.name = a.target;
  target.endpoint = hp.value();
  target.server_name = a.server_name;
  target.timeout = *timeout;
  target.starttls = *starttls;
  if (*starttls == StartTls::kSmtp) target.starttls_ehlo = DefaultEhloName();
  if (!a.ca_file.empty()) {
    auto certs = LoadPemCertificates(a.ca_file);
    if (!certs) {
      err << certs.error().detail << "\n";
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
  out << report.text;
  return static_cast<int>(report.exit);
}

int CheckConfigCommand(const std::string& config_file, std::ostream& out, std::ostream& err) {
  auto cfg = LoadConfig(config_file);
  if (!cfg) {
    err << cfg.error().detail << "\n";
    return 1;
  }
  out << config_file << ": OK (" << cfg->tls.size() << " tls, " << cfg->responders.size()
      << " responder, " << cfg->files.size() << " file, " << cfg->crls.size()
      << " crl targets, " << cfg->modules.size() << " modules, " << cfg->discovery.size()
      << " discovery, " << cfg->stapler.certificates.size() << " stapled certificates)\n";
  return 0;
}

}  // namespace ose
