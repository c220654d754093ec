// GET /probe: one TLS probe now, for a Prometheus multi-target scrape
// (blackbox_exporter's pattern), answered without the `target` label.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <prometheus/metric_family.h>

#include "ocsp_staple_exporter/common/result.h"
#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/http/router.h"
#include "ocsp_staple_exporter/probe/targets.h"
#include "ocsp_staple_exporter/probe/tls_prober.h"

namespace ose {

/// Probes `query.target` (HOST:PORT) with the `[[module]]` it names (none:
/// `[global]` defaults), bounded by the scrape timeout Prometheus sent less
/// 0.5 s. `[probe]` allow/deny is checked on the name first and on every
/// resolved address before connecting. `config` is shared with the probe in
/// flight. `done` runs exactly once, on a probe thread, with the metrics as
/// text (ProbeText: without `ocsp_probe_failures_total` and
/// `ocsp_probe_timestamp_seconds`, which belong to scheduled targets) or an Error: "bad_request" (malformed
/// target, unknown module), "forbidden" (refused by `[probe]`). The
/// module's `revocation` (else `[global]`'s) and `revocation_scope` run the
/// CRL and chain lookups on `lookups` (then `done` runs on the HTTP
/// prober's io_context); the CRLs come from the shared store, fetched only
/// as its schedule says, never because a caller asked.
void AnswerProbe(const ProbeQuery& query, std::shared_ptr<const Config> config, TlsProber& tls,
                 const RevocationLookups& lookups,
                 std::function<void(Result<std::string>)> done);

}  // namespace ose
