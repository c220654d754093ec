#include "ocsp_staple_exporter/probe/targets.h"

#include <memory>

#include "ocsp_staple_exporter/common/log.h"
#include "ocsp_staple_exporter/config/cert_watch.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"

namespace ose {
namespace {

// The renewed certificate behind `watch`, or null when unchanged (or
// unreadable: the current one stays and the failure is logged).
LoadedCertPtr Renewed(CertWatch& watch, const std::string& target) {
  auto c = watch.Check();
  if (!c) {
    log::Warn("cannot re-read renewed certificate; keeping the current one",
              {{"target", target}, {"err", c.error().detail}});
    return nullptr;
  }
  if (c.value()) {
    log::Info("certificate renewed on disk", {{"target", target},
                                              {"subject", SubjectString(c.value()->cert.get())}});
  }
  return c.value();
}

}  // namespace

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
  req.crl_subject = target.revocation != Revocation::kOcsp;
  req.chain_subjects = target.revocation_scope == RevocationScope::kChain;
  req.all_addresses = target.all_addresses;
  req.handshakes = target.handshakes;
  req.starttls = target.starttls;
  req.starttls_ehlo = target.starttls_ehlo;
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
  req.revocation = target.revocation;
  return req;
}

void ProbeTlsTarget(TlsProber& tls, const RevocationLookups& lookups, Revocation revocation,
                    TlsProbeRequest req, std::function<void(ProbeResult)> done, bool any_thread) {
  if (lookups.http == nullptr || lookups.crls == nullptr) req.crl_subject = false;
  if (lookups.http == nullptr || lookups.chain == nullptr) req.chain_subjects = false;
  if (!req.crl_subject && !req.chain_subjects) {
    if (any_thread) {
      tls.ProbeAnyThread(std::move(req), std::move(done));
    } else {
      tls.Probe(std::move(req), std::move(done));
    }
    return;
  }
  // The handshake on a probe loop, the lookups (which may fetch) on the
  // HTTP pool.
  auto next = [lookups, revocation, done = std::move(done)](ProbeResult r) mutable {
    lookups.http->LookUpRevocation(lookups.crls, lookups.chain, revocation, std::move(r),
                                   std::move(done));
  };
  if (any_thread) {
    tls.ProbeAnyThread(std::move(req), std::move(next));
  } else {
    tls.Probe(std::move(req), std::move(next));
  }
}

std::vector<ScheduledTarget> BuildTargets(const Config& config, TlsProber& tls,
                                          ResponderProber& http, CrlStore* crl_store,
                                          ChainRevocation* chain) {
  return BuildTargets(std::make_shared<const Config>(config), tls, http, crl_store, chain);
}

std::vector<ScheduledTarget> BuildTargets(std::shared_ptr<const Config> shared, TlsProber& tls,
                                          ResponderProber& http, CrlStore* crl_store,
                                          ChainRevocation* chain) {
  const Config& config = *shared;
  std::vector<ScheduledTarget> out;
  // Sharded over replicas: only this replica's targets (the stapling engine
  // is never sharded: it runs beside the server it feeds).
  const auto mine = [&](const std::string& name) { return InShard(name, config.global); };
  for (const TlsTarget& t : config.tls) {
    if (!mine(t.name)) continue;
    // The closure holds the config and its table, not a request of its
    // own (~200 bytes a target): the request is built as a probe starts.
    out.push_back({.info =
                       TargetInfo{
                           .name = t.name, .kind = "tls", .address = t.address, .labels = t.labels},
                   .interval = t.interval,
                   .limit_key = "",
                   .start = [&tls, lookups = RevocationLookups{&http, crl_store, chain}, shared,
                             &t](auto done) {
                     ProbeTlsTarget(tls, lookups, t.revocation, MakeTlsRequest(t, shared->global),
                                    std::move(done));
                   }});
  }
  for (const ResponderTarget& t : config.responders) {
    if (!mine(t.name)) continue;
    std::string first = t.urls.empty() ? "" : t.urls.front();
    struct State {
      ResponderProbeRequest req;
      CertWatch watch;
      bool urls_from_aia;
    };
    ResponderProbeRequest req = MakeResponderRequest(t, config.global);
    req.crl_store = crl_store;
    if (crl_store == nullptr) req.revocation = Revocation::kOcsp;
    auto st = std::make_shared<State>(State{std::move(req),
                                            CertWatch(t.cert_file, t.issuer_file, t.cert),
                                            t.urls_from_aia});
    out.push_back({.info = TargetInfo{.name = t.name, .kind = "responder", .address = first},
                   .interval = t.interval,
                   .limit_key = "http:" + UrlHost(first),
                   .start = [&http, st, name = t.name](auto done) {
                     if (auto c = Renewed(st->watch, name)) {
                       st->req.cert = c;
                       if (st->urls_from_aia && !c->ocsp_urls.empty()) st->req.urls = c->ocsp_urls;
                     }
                     http.Probe(st->req, std::move(done));
                   }});
  }
  for (const FileTarget& t : config.files) {
    if (!mine(t.name)) continue;
    VerifyOptions verify = MakeVerifyOptions(config.global);
    struct State {
      FileTarget target;
      CertWatch watch;
    };
    auto st = std::make_shared<State>(State{t, CertWatch(t.cert_file, t.issuer_file, t.cert)});
    out.push_back({.info = TargetInfo{.name = t.name, .kind = "file", .address = t.path},
                   .interval = t.interval,
                   .limit_key = "",
                   .start = [&http, st, verify, crl_store](auto done) {
                     if (auto c = Renewed(st->watch, st->target.name)) st->target.cert = c;
                     http.ProbeFile(st->target, verify, crl_store, std::move(done));
                   }});
  }
  for (const CrlTarget& t : config.crls) {
    if (!mine(t.name)) continue;
    VerifyOptions verify = MakeVerifyOptions(config.global);
    out.push_back(
        {.info =
             TargetInfo{.name = t.name, .kind = "crl", .address = t.url.empty() ? t.path : t.url},
         .interval = t.interval,
         .limit_key = t.url.empty() ? "" : "http:" + UrlHost(t.url),
         // The last CRL and its validators live with the target
         // (not across reloads): an unchanged CRL costs a 304.
         .start = [&http, t, verify, memory = std::make_shared<CrlTargetMemory>()](auto done) {
           http.ProbeCrl(t, verify, memory, std::move(done));
         }});
  }
  return out;
}

}  // namespace ose
