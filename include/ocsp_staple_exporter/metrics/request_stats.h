#pragma once
// The exporter's own HTTP and process metrics, as Prometheus users expect
// them of any exporter: requests by handler and status code, their
// durations, and the standard process_* families read from /proc (the
// names client_golang's process collector uses).

#include <prometheus/metric_family.h>

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ose {

/// Upper bounds (seconds) of `ocsp_staple_exporter_http_request_duration_seconds`.
inline constexpr std::array<double, 12> kRequestBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

/// One histogram sample for upper bounds `bounds` from the observations per
/// bucket (`per_bucket[i]`: those <= bounds[i] and > bounds[i - 1]; not
/// cumulative), the total `count` (those above the last bound included)
/// and `sum`: cumulative buckets and +Inf, as the exposition wants them.
prometheus::ClientMetric HistogramMetric(std::span<const double> bounds,
                                         std::span<const uint64_t> per_bucket, uint64_t count,
                                         double sum);

/// Thread-safe counts of answered requests.
class RequestStats {
 public:
  /// `handlers` get their duration histogram from the start (at zero).
  explicit RequestStats(std::vector<std::string> handlers = {});

  /// One answered request of `handler` (e.g. "/metrics") with status `code`
  /// that took `seconds` from its last byte read to its response queued.
  void Observe(std::string_view handler, int code, double seconds);

  /// `ocsp_staple_exporter_http_requests_total{handler,code}` and
  /// `ocsp_staple_exporter_http_request_duration_seconds{handler}`.
  std::vector<prometheus::MetricFamily> Families() const;

 private:
  struct Histogram {
    std::array<uint64_t, kRequestBuckets.size()> buckets{};  ///< not cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> counts_;
  std::map<std::string, Histogram, std::less<>> durations_;
};

/// The standard process families of this process, read now from
/// /proc/self: process_cpu_seconds_total, process_resident_memory_bytes,
/// process_virtual_memory_bytes, process_open_fds, process_max_fds,
/// process_start_time_seconds. A family whose source cannot be read is left
/// out (never a made-up zero).
std::vector<prometheus::MetricFamily> ProcessFamilies();

/// The fields of a /proc/PID/stat line this needs: utime and stime (clock
/// ticks), starttime (ticks after boot), vsize (bytes), rss (pages); false
/// when `line` does not parse (the command name may hold spaces and ')').
struct ProcStat {
  uint64_t utime = 0, stime = 0, starttime = 0, vsize = 0;
  int64_t rss = 0;
};
bool ParseProcStat(std::string_view line, ProcStat* out);

}  // namespace ose
