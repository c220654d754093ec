#include "ocsp_staple_exporter/metrics/request_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>

namespace ose {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Gauge(std::string name, std::string help, double value,
                   MetricType type = MetricType::Gauge) {
  MetricFamily f{std::move(name), std::move(help), type, {}};
  ClientMetric m;
  (type == MetricType::Counter ? m.counter.value : m.gauge.value) = value;
  f.metric.push_back(std::move(m));
  return f;
}

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Boot time from /proc/stat ("btime SECONDS"), 0 when unknown.
int64_t BootTime() {
  std::istringstream in(ReadSmallFile("/proc/stat"));
  std::string key;
  int64_t value = 0;
  while (in >> key) {
    if (key == "btime" && (in >> value)) return value;
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

}  // namespace

ClientMetric HistogramMetric(std::span<const double> bounds, std::span<const uint64_t> per_bucket,
                             uint64_t count, double sum) {
  ClientMetric m;
  m.histogram.sample_count = count;
  m.histogram.sample_sum = sum;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += i < per_bucket.size() ? per_bucket[i] : 0;
    m.histogram.bucket.push_back({cumulative, bounds[i]});
  }
  m.histogram.bucket.push_back({count, std::numeric_limits<double>::infinity()});
  return m;
}

RequestStats::RequestStats(std::vector<std::string> handlers) {
  for (auto& h : handlers) durations_[std::move(h)];
}

void RequestStats::Observe(std::string_view handler, int code, double seconds) {
  std::lock_guard lock(mu_);
  ++counts_[{std::string(handler), code}];
  auto it = durations_.find(handler);
  if (it == durations_.end()) it = durations_.emplace(std::string(handler), Histogram{}).first;
  Histogram& h = it->second;
  ++h.count;
  h.sum += seconds;
  for (size_t i = 0; i < kRequestBuckets.size(); ++i) {
    if (seconds <= kRequestBuckets[i]) {
      ++h.buckets[i];
      break;
    }
  }
}

std::vector<MetricFamily> RequestStats::Families() const {
  MetricFamily total{"ocsp_staple_exporter_http_requests_total",
                     "HTTP requests answered by the exporter, by handler and status code.",
                     MetricType::Counter, {}};
  MetricFamily duration{"ocsp_staple_exporter_http_request_duration_seconds",
                        "Time from a request's arrival to its response, by handler.",
                        MetricType::Histogram, {}};
  std::lock_guard lock(mu_);
  for (const auto& [key, n] : counts_) {
    ClientMetric m;
    m.label = {{"handler", key.first}, {"code", std::to_string(key.second)}};
    m.counter.value = static_cast<double>(n);
    total.metric.push_back(std::move(m));
  }
  for (const auto& [handler, h] : durations_) {
    ClientMetric m = HistogramMetric(kRequestBuckets, h.buckets, h.count, h.sum);
    m.label = {{"handler", handler}};
    duration.metric.push_back(std::move(m));
  }
  std::vector<MetricFamily> out;
  if (!total.metric.empty()) out.push_back(std::move(total));
  if (!duration.metric.empty()) out.push_back(std::move(duration));
  return out;
}

bool ParseProcStat(std::string_view line, ProcStat* out) {
  // "PID (COMM) STATE FIELD4 ...": COMM may hold anything, so start after
  // the last ')'. Fields are then numbered from 3 (state).
  const size_t close = line.rfind(')');
  if (close == std::string_view::npos) return false;
  std::string_view rest = line.substr(close + 1);
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\n')) ++i;
    size_t j = i;
    while (j < rest.size() && rest[j] != ' ' && rest[j] != '\n') ++j;
    if (j > i) fields.push_back(rest.substr(i, j - i));
    i = j;
  }
  // fields[0] is field 3 (state): field N is fields[N - 3].
  auto get = [&](size_t n, auto* v) {
    if (n - 3 >= fields.size()) return false;
    std::string_view f = fields[n - 3];
    return std::from_chars(f.data(), f.data() + f.size(), *v).ec == std::errc();
  };
  return get(14, &out->utime) && get(15, &out->stime) && get(22, &out->starttime) &&
         get(23, &out->vsize) && get(24, &out->rss);
}

std::vector<MetricFamily> ProcessFamilies() {
  std::vector<MetricFamily> out;
  ProcStat st;
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);
  if (ticks > 0 && ParseProcStat(ReadSmallFile("/proc/self/stat"), &st)) {
    out.push_back(Gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                        static_cast<double>(st.utime + st.stime) / static_cast<double>(ticks),
                        MetricType::Counter));
    out.push_back(Gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                        static_cast<double>(st.rss) * static_cast<double>(page)));
    out.push_back(Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                        static_cast<double>(st.vsize)));
    if (const int64_t boot = BootTime(); boot > 0) {
      out.push_back(Gauge("process_start_time_seconds",
                          "Start time of the process since unix epoch in seconds.",
                          static_cast<double>(boot) +
                              static_cast<double>(st.starttime) / static_cast<double>(ticks)));
    }
  }
  if (DIR* d = opendir("/proc/self/fd")) {
    std::unique_ptr<DIR, int (*)(DIR*)> owned(d, closedir);
    int n = 0;
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    out.push_back(Gauge("process_open_fds", "Number of open file descriptors.", n - 1));  // minus the listing's own
  }
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    out.push_back(Gauge("process_max_fds", "Maximum number of open file descriptors.",
                        lim.rlim_cur == RLIM_INFINITY ? -1 : static_cast<double>(lim.rlim_cur)));
  }
  return out;
}

}  // namespace ose
