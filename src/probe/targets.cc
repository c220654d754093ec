#include "ocsp_staple_exporter/probe/targets.h"

namespace ose {

VerifyOptions MakeVerifyOptions(const GlobalConfig& global) {
  VerifyOptions v;
  v.skew_seconds = std::chrono::duration_cast<std::chrono::seconds>(global.skew).count();
  v.default_validity_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(global.default_validity).count();
  return v;
}

TlsProbeRequest MakeTlsRequest(const TlsTarget& target, const GlobalConfig& global) {
  TlsProbeRequest req;
  req.host = target.endpoint.host;
  req.port = target.endpoint.port;
  req.server_name = target.server_name;
  req.extra_issuers = target.ca_certs;
  req.timeout = target.timeout;
  req.verify = MakeVerifyOptions(global);
  return req;
}

ResponderProbeRequest MakeResponderRequest(const ResponderTarget& target,
                                           const GlobalConfig& global) {
  ResponderProbeRequest req;
  req.cert = target.cert;
  req.urls = target.urls;
  req.method = target.method;
  req.nonce = target.nonce;
  req.timeout = target.timeout;
  req.verify = MakeVerifyOptions(global);
  return req;
}

std::vector<ScheduledTarget> BuildTargets(const Config& config, TlsProber& tls,
                                          ResponderProber& http) {
  std::vector<ScheduledTarget> out;
  for (const TlsTarget& t : config.tls) {
    TlsProbeRequest req = MakeTlsRequest(t, config.global);
    out.push_back({.name = t.name,
                   .kind = "tls",
                   .address = t.address,
                   .interval = t.interval,
                   .limit_key = "",
                   .start = [&tls, req](auto done) { tls.Probe(req, std::move(done)); }});
  }
  for (const ResponderTarget& t : config.responders) {
    ResponderProbeRequest req = MakeResponderRequest(t, config.global);
    std::string first = t.urls.empty() ? "" : t.urls.front();
    out.push_back({.name = t.name,
                   .kind = "responder",
                   .address = first,
                   .interval = t.interval,
                   .limit_key = "http:" + UrlHost(first),
                   .start = [&http, req](auto done) { http.Probe(req, std::move(done)); }});
  }
  for (const FileTarget& t : config.files) {
    VerifyOptions verify = MakeVerifyOptions(config.global);
    out.push_back({.name = t.name,
                   .kind = "file",
                   .address = t.path,
                   .interval = t.interval,
                   .limit_key = "",
                   .start = [&http, t, verify](auto done) {
                     http.ProbeFile(t, verify, std::move(done));
                   }});
  }
  return out;
}

}  // namespace ose
