// The one-shot commands: `probe HOST:PORT`, `ready` and `--config.check`.
#include "ocsp_staple_exporter/app/commands.h"

#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <optional>
#include <ostream>

#include "ocsp_staple_exporter/common/asio.h"
#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/common/curl_body.h"
#include "ocsp_staple_exporter/common/curl_ptr.h"
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

int RunReadyCommand(const ReadyCommandOptions& a, std::ostream& out, std::ostream& err) {
  const auto timeout = ParseDuration(a.timeout);
  if (!timeout || timeout->count() <= 0) {
    err << "ready: --timeout must be a duration such as 5s\n";
    return 2;
  }
  const auto authority = IsHttpUrl(a.url) ? UrlHostPort(a.url) : std::nullopt;
  const bool loopback = authority && (authority->host == "localhost" ||
                                      authority->host.rfind("127.", 0) == 0 ||
                                      authority->host == "[::1]" || authority->host == "::1");
  if (!loopback) {
    err << "ready: --url must be http(s) on a loopback address or localhost: " << a.url << "\n";
    return 2;
  }
  CurlPtr curl(curl_easy_init());
  if (!curl) {
    err << "ready: curl_easy_init failed\n";
    return 1;
  }
  CURL* c = curl.get();
  LimitedBody body;
  body.limit = 64 * 1024;
  char errbuf[CURL_ERROR_SIZE] = {0};
  SetFetchOptions(c, a.url.c_str(),
                  std::chrono::duration_cast<std::chrono::milliseconds>(*timeout).count(), &body,
                  errbuf);
  // The exporter's own listener: its certificate is not what is checked.
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  CurlSlistPtr headers;
  if (const char* auth = std::getenv(kReadyAuthorizationEnv); auth != nullptr && *auth != '\0') {
    const std::string header = std::string("Authorization: ") + auth;
    if (header.find_first_of("\r\n") != std::string::npos) {
      err << "ready: " << kReadyAuthorizationEnv << " holds a line break\n";
      return 2;
    }
    headers.reset(curl_slist_append(nullptr, header.c_str()));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  }
  const CURLcode code = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (code != CURLE_OK) {
    err << "not ready: " << (errbuf[0] ? errbuf : curl_easy_strerror(code)) << "\n";
    return 1;
  }
  if (status != 200) {
    err << "not ready: HTTP " << status << "\n";
    return 1;
  }
  out << "ready\n";
  return 0;
}

}  // namespace ose
