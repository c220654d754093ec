#pragma once
// The /metrics view: a prometheus-cpp Collectable that builds every metric
// family at scrape time from a snapshot of the ResultStore, so a scrape
// never touches the network and removed targets simply disappear.

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ocsp_staple_exporter/config/discovery.h"
#include "ocsp_staple_exporter/crl/crl_store.h"
#include "ocsp_staple_exporter/metrics/request_stats.h"
#include "ocsp_staple_exporter/scheduler/result_store.h"
#include "ocsp_staple_exporter/scheduler/scheduler.h"
#include "ocsp_staple_exporter/stapler/engine.h"

namespace ose {

class GzipPieces;

/// Facts about the exporter itself, updated by main (reloads).
struct ExporterStatus {
  std::atomic<bool> last_reload_successful{false};
  std::atomic<int64_t> last_reload_success_timestamp{0};  ///< Unix seconds
  /// The scheduler's statistics (borrowed; none when null).
  const SchedulerStats* scheduler = nullptr;
  /// The listener's request counts (borrowed; none when null:
  /// --web.disable-exporter-metrics).
  const RequestStats* requests = nullptr;
  /// Export the standard process_* families (off with
  /// --web.disable-exporter-metrics).
  bool process = false;
  /// `[[discovery]]` blocks' counts (none when null).
  std::function<std::vector<DiscoveryStats>()> discovery;
  /// The TLS verification cache: entries, capacity, hits, misses (none
  /// when null).
  std::function<std::array<uint64_t, 4>()> verification_cache;
  /// The shared CRL store's per-URL fetch counters (none when null).
  std::function<std::vector<CrlFetchCounts>()> crl_fetches;
};

/// Per-target families (`ocsp_probe_*`, `ocsp_staple_present`,
/// `ocsp_cert_*`, `ocsp_response_*`) for `targets` at Unix time `now`.
/// With `target_label` false the `target` label is left out (the /probe
/// endpoint answers for one target). Targets without a result yet have no
/// series. Times of a response are exported only when its signature
/// verified; the state set never reads good without a verified response.
std::vector<prometheus::MetricFamily> TargetFamilies(const std::vector<TargetSnapshot>& targets,
                                                     int64_t now, bool target_label = true);

/// What GET /probe answers for one probe of a TLS target at Unix time
/// `now`: the per-target families without the `target` label and without
/// those that belong to scheduled targets only (`ocsp_probe_failures_total`,
/// `ocsp_probe_timestamp_seconds`), rendered straight to the text format
/// 0.0.4 (no object per series).
std::string ProbeText(const std::string& name, ProbeResult result, int64_t now);

/// The stapling engine's families (`ocsp_stapler_*`, label `certificate`);
/// the held staple's status as it reads at Unix time `now` (VerdictAt).
std::vector<prometheus::MetricFamily> StaplerFamilies(const std::vector<StaplerCertState>& certs,
                                                      int64_t now);

class Collector : public prometheus::Collectable {
 public:
  using NowFn = std::function<int64_t()>;
  using StaplerFn = std::function<std::vector<StaplerCertState>()>;

  /// `store` and `status` are borrowed and must outlive the collector.
  /// `now` returns Unix seconds (injected for tests); `stapler` returns the
  /// engine's state (none when null).
  Collector(const ResultStore& store, const ExporterStatus& status, NowFn now = nullptr,
            StaplerFn stapler = nullptr);

  std::vector<prometheus::MetricFamily> Collect() const override;

  /// The same series as Collect, rendered in the text format 0.0.4 without
  /// building an object per series (what /metrics serves: 50,000 targets
  /// are 1.5 million series).
  std::string CollectText() const;

  /// CollectText gzipped (one RFC 1952 member), compressed family by
  /// family while it is rendered (GzipPieces): what /metrics serves a client
  /// that accepts gzip, without the whole text in memory at once. nullopt
  /// when zlib fails.
  std::optional<std::string> CollectGzip() const;

  /// CollectGzip renders on up to `threads` threads (the calling one and
  /// threads of its own, started per scrape and joined before it returns),
  /// one slice of the targets each, at least `min_targets_per_thread`
  /// targets a slice: fewer targets, fewer threads. The answer is the same
  /// text whatever the count. Default: the machine's cores, at most 4;
  /// 4,096 targets a slice. Not to be called during a collection.
  void SetRenderThreads(unsigned threads, size_t min_targets_per_thread = 4096);

 private:
  size_t GzipSlices(const std::vector<TargetSnapshot>& targets, int64_t now, size_t slices,
                    GzipPieces& gz) const;

  /// Stapler and exporter families (everything but the targets').
  std::vector<prometheus::MetricFamily> OtherFamilies() const;

  const ResultStore& store_;
  const ExporterStatus& status_;
  NowFn now_;
  StaplerFn stapler_;
  unsigned render_threads_ = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  size_t min_targets_per_thread_ = 4096;
};

/// Renders families in the Prometheus text exposition format 0.0.4.
std::string SerializeText(const std::vector<prometheus::MetricFamily>& families);

}  // namespace ose
