#pragma once
// Thread-safe store of the latest result of every target. Probes write it
// from the event loop; scrapes and the landing page read snapshots of it
// from HTTP threads, so a scrape never waits on the network.

#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ocsp_staple_exporter/common/boxed.h"
#include "ocsp_staple_exporter/common/shared.h"
#include "ocsp_staple_exporter/config/file_sd.h"
#include "ocsp_staple_exporter/probe/probe_result.h"

namespace ose {

/// What names a target and labels its series. One allocation per target,
/// shared by the scheduler's entry, the result store and every snapshot
/// taken of it (a scrape copies a pointer, not three strings and the
/// labels); a reload that changes any of it brings a new one.
struct TargetInfo {
  std::string name{};           ///< unique; the `target` label
  std::string kind{};           ///< "tls", "responder", "file", "crl"
  std::string address{};        ///< what is probed, for the landing page
  LabelPairs labels{};          ///< extra labels of its series, after `target` (discovery)
  double interval_seconds = 0;  ///< the configured probe interval
};

/// What the exporter knows of one target.
struct TargetSnapshot {
  Shared<TargetInfo> info;
  const std::string& name() const { return info->name; }
  const std::string& kind() const { return info->kind; }
  const std::string& address() const { return info->address; }
  const LabelPairs& labels() const { return info->labels; }
  double interval_seconds() const { return info->interval_seconds; }
  /// The latest result, null until the first probe ends. Shared and
  /// immutable: a snapshot (scrape, landing page) takes a reference, never
  /// a copy, and the next probe replaces the pointer.
  std::shared_ptr<const ProbeResult> last;
  std::map<std::string, uint64_t> failures;  ///< reason -> count since start
  uint64_t probes = 0;                       ///< probes finished since start
  struct Histogram {
    std::vector<uint64_t> buckets;  ///< cumulative counts per kResponderBuckets bound
    double sum = 0;
    uint64_t count = 0;
  };
  /// Counters of targets that speak HTTP, since start.
  struct HttpCounters {
    /// `[[crl]]` targets with a URL: fetches by result (fetched,
    /// not_modified, failed) and body bytes received.
    std::map<std::string, uint64_t> crl_fetches;
    uint64_t crl_bytes = 0;
    /// `[[responder]]`: durations of HTTP requests, for a histogram.
    Histogram request_seconds;
  };
  /// Empty (one pointer) until the target's first HTTP exchange: a TLS
  /// fleet's targets have none (~100 bytes a target in the store and in
  /// each scrape's snapshot).
  Boxed<HttpCounters> http;
};

/// Upper bounds (seconds) of `ocsp_responder_request_duration_seconds`.
inline constexpr double kResponderBuckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                               0.5,   1,    2.5,   5,    10};

class ResultStore {
 public:
  /// Replaces the set of targets (at start and on reload). Targets whose
  /// name, kind and address stay keep their results and counters (and take
  /// the new info: labels, interval); removed targets disappear. Names are
  /// unique (a later duplicate is ignored).
  void SetTargets(std::vector<Shared<TargetInfo>> targets);
  /// As above, for infos not yet shared (tests, benchmarks).
  void SetTargets(std::vector<TargetInfo> targets) {
    std::vector<Shared<TargetInfo>> shared(std::make_move_iterator(targets.begin()),
                                           std::make_move_iterator(targets.end()));
    SetTargets(std::move(shared));
  }

  struct Recorded {
    bool known = false;                   ///< false: target no longer configured
    std::optional<std::string> previous;  ///< StateLabel before; nullopt for a first result
  };

  /// Records a finished probe (`r` non-null; the store keeps the reference).
  /// Results of unknown targets (a probe that finished after a reload
  /// removed its target) are dropped.
  Recorded Record(const std::string& name, std::shared_ptr<const ProbeResult> r);
  /// As above, for a result not yet shared (tests, benchmarks).
  Recorded Record(const std::string& name, ProbeResult r) {
    return Record(name, std::make_shared<const ProbeResult>(std::move(r)));
  }

  /// Every target, sorted by name. Names, labels and counters are copied;
  /// results are shared (see TargetSnapshot::last).
  std::vector<TargetSnapshot> Snapshot() const;

  /// True once every target has a result.
  bool AllProbed() const;

 private:
  mutable std::mutex mu_;
  /// Keyed by the snapshot's own info->name (a view: the name is held once).
  std::map<std::string_view, TargetSnapshot> targets_;
};

}  // namespace ose
