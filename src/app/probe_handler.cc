// GET /probe: one TLS probe now, answered without the `target` label.
#include "ocsp_staple_exporter/app/probe_handler.h"

#include <algorithm>

#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/metrics/collector.h"
#include "ocsp_staple_exporter/probe/probe_result.h"
#include "ocsp_staple_exporter/probe/targets.h"

namespace ose {
namespace {

// The module's settings on the target; false when there is no such module.
bool ApplyModule(const Config& cfg, const std::string& name, TlsTarget& target) {
  auto m = std::find_if(cfg.modules.begin(), cfg.modules.end(),
                        [&](const Module& x) { return x.name == name; });
  if (m == cfg.modules.end()) return false;
  target.server_name = m->server_name;
  target.ca_certs = m->ca_certs;
  target.timeout = m->timeout;
  target.all_addresses = m->all_addresses;
  target.handshakes = m->handshakes;
  target.starttls = m->starttls;
  target.starttls_ehlo = m->starttls_ehlo;
  target.revocation = m->revocation;
  target.revocation_scope = m->revocation_scope;
  return true;
}

// `&revocation=` within what the module allows (`allowed`, its
// `revocation`; ocsp without a module): a caller may narrow the lookups,
// never make the exporter fetch CRLs the module does not ask for.
Result<Revocation> AskedRevocation(const ProbeQuery& q, Revocation allowed) {
  if (q.revocation.empty()) return allowed;
  for (Revocation r : {Revocation::kOcsp, Revocation::kCrl, Revocation::kBoth}) {
    if (q.revocation != RevocationName(r)) continue;
    const bool crl_ok = allowed != Revocation::kOcsp;
    const bool within = r == Revocation::kOcsp || r == allowed ||
                        (r == Revocation::kCrl && crl_ok);
    if (within) return r;
    return Error{"forbidden",
                 "revocation=" + q.revocation + " is not allowed by " +
                     (q.module.empty() ? std::string("/probe without a module")
                                       : "module \"" + q.module + "\"") +
                     " (revocation = \"" + std::string(RevocationName(allowed)) + "\")"};
  }
  return Error{"bad_request", "revocation must be ocsp, crl or both"};
}

}  // namespace

void AnswerProbe(const ProbeQuery& q, std::shared_ptr<const Config> config, TlsProber& tls,
                 const RevocationLookups& lookups,
                 std::function<void(Result<std::string>)> done) {
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
  if (!q.module.empty() && !ApplyModule(cfg, q.module, target)) {
    return done(Error{"bad_request", "unknown module \"" + q.module + "\""});
  }
  if (auto asked = AskedRevocation(q, target.revocation); !asked) {
    return done(asked.error());
  } else {
    target.revocation = asked.value();
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
  ProbeTlsTarget(
      tls, lookups, target.revocation, std::move(req),
      [name = q.target, done = std::move(done)](ProbeResult r) {
        if (r.failure_reason == probe_failure::kForbidden) {
          return done(Error{"forbidden", r.detail});
        }
        done(ProbeText(name, std::move(r), NowUnix()));
      },
      /*any_thread=*/true);
}

}  // namespace ose
