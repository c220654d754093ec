#pragma once
// Turns the configuration into the scheduler's targets: each configured
// `[[tls]]`, `[[responder]]` and `[[file]]` becomes a ScheduledTarget whose
// start function runs the right prober.

#include <functional>
#include <memory>
#include <vector>

#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/probe/responder_prober.h"
#include "ocsp_staple_exporter/probe/tls_prober.h"
#include "ocsp_staple_exporter/scheduler/scheduler.h"

namespace ose {

/// Verification options from `[global]` (skew, default_validity).
VerifyOptions MakeVerifyOptions(const GlobalConfig& global);

/// The prober request for a `[[tls]]` target.
TlsProbeRequest MakeTlsRequest(const TlsTarget& target, const GlobalConfig& global);

/// The prober request for a `[[responder]]` target.
ResponderProbeRequest MakeResponderRequest(const ResponderTarget& target,
                                           const GlobalConfig& global);

/// Every configured target of this replica's shard (InShard), in config
/// order. The probers, `crl_store` (which answers targets with
/// `revocation = "crl" | "both"`) and `chain` (targets with
/// `revocation_scope = "chain"`) are borrowed and must outlive the
/// scheduler that runs them; without them those lookups are skipped.
/// The TLS targets' closures share `config` (each builds its request from
/// its `[[tls]]` table when it starts a probe): a fleet's requests are not
/// held a second time beside the config.
std::vector<ScheduledTarget> BuildTargets(std::shared_ptr<const Config> config, TlsProber& tls,
                                          ResponderProber& http, CrlStore* crl_store = nullptr,
                                          ChainRevocation* chain = nullptr);

/// The same for a config the caller does not share: the closures share a
/// copy of it.
std::vector<ScheduledTarget> BuildTargets(const Config& config, TlsProber& tls,
                                          ResponderProber& http, CrlStore* crl_store = nullptr,
                                          ChainRevocation* chain = nullptr);

/// What the revocation lookups after a TLS handshake run on (all
/// borrowed; a null one skips its lookup): the HTTP pool, the shared CRL
/// store (`revocation = "crl" | "both"`), the chain checker
/// (`revocation_scope = "chain"`).
struct RevocationLookups {
  ResponderProber* http = nullptr;
  CrlStore* crls = nullptr;
  ChainRevocation* chain = nullptr;
};

/// One TLS probe and then the lookups `req` asks for (crl_subject,
/// chain_subjects) on `lookups.http`'s pool, as `revocation` says; `done`
/// runs once on the HTTP prober's io_context after a lookup, else as
/// TlsProber::Probe (or ProbeAnyThread with `any_thread`) runs it.
void ProbeTlsTarget(TlsProber& tls, const RevocationLookups& lookups, Revocation revocation,
                    TlsProbeRequest req, std::function<void(ProbeResult)> done,
                    bool any_thread = false);

}  // namespace ose
