#pragma once
// Turns the configuration into the scheduler's targets: each configured
// `[[tls]]`, `[[responder]]` and `[[file]]` becomes a ScheduledTarget whose
// start function runs the right prober.

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
/// order. The probers and `crl_store`
/// (which answers targets with `revocation = "crl" | "both"`; required when
/// one has it) are borrowed and must outlive the scheduler that runs them.
std::vector<ScheduledTarget> BuildTargets(const Config& config, TlsProber& tls,
                                          ResponderProber& http, CrlStore* crl_store = nullptr);

}  // namespace ose
