#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/metrics/collector.h"

#include <openssl/crypto.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <limits>
#include <sstream>

namespace ose {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Collects the series of one family; families without series are dropped.
class Families {
 public:
  MetricFamily& Get(const std::string& name, const std::string& help, MetricType type) {
    for (auto& f : families_) {
      if (f.name == name) return f;
    }
    families_.push_back(MetricFamily{name, help, type, {}});
    return families_.back();
  }

  void Gauge(const std::string& name, const std::string& help,
             std::vector<ClientMetric::Label> labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = value;
    Get(name, help, MetricType::Gauge).metric.push_back(std::move(m));
  }

  void Counter(const std::string& name, const std::string& help,
               std::vector<ClientMetric::Label> labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = value;
    Get(name, help, MetricType::Counter).metric.push_back(std::move(m));
  }

  void Histogram(const std::string& name, const std::string& help,
                 std::vector<ClientMetric::Label> labels, const TargetSnapshot::Histogram& h) {
    ClientMetric m;
    m.label = std::move(labels);
    m.histogram.sample_count = h.count;
    m.histogram.sample_sum = h.sum;
    for (size_t i = 0; i < std::size(kResponderBuckets); ++i) {
      m.histogram.bucket.push_back({i < h.buckets.size() ? h.buckets[i] : 0, kResponderBuckets[i]});
    }
    m.histogram.bucket.push_back({h.count, std::numeric_limits<double>::infinity()});
    Get(name, help, MetricType::Histogram).metric.push_back(std::move(m));
  }

  std::vector<MetricFamily> Take() { return std::move(families_); }

 private:
  std::vector<MetricFamily> families_;
};

std::vector<ClientMetric::Label> With(std::vector<ClientMetric::Label> base, std::string name,
                                      std::string value) {
  base.push_back({std::move(name), std::move(value)});
  return base;
}


// What a certificate says about its revocation: Must-Staple and which
// sources it names (for targets, label `target`; for the stapling engine,
// label `certificate`).
void CertificateFacts(Families& f, const std::vector<ClientMetric::Label>& base,
                      bool must_staple, bool ocsp_url, bool crl_url) {
  f.Gauge("ocsp_cert_must_staple",
          "1 when the leaf certificate has the TLS Feature status_request (Must-Staple).", base,
          must_staple ? 1 : 0);
  f.Gauge("ocsp_cert_ocsp_url_present",
          "1 when the certificate names an OCSP responder (AIA id-ad-ocsp).", base,
          ocsp_url ? 1 : 0);
  f.Gauge("ocsp_cert_crl_url_present", "1 when the certificate has a CRL Distribution Point URI.",
          base, crl_url ? 1 : 0);
}

}  // namespace

std::vector<MetricFamily> TargetFamilies(const std::vector<TargetSnapshot>& targets,
                                         int64_t now, bool target_label) {
  Families f;
  // Declare families in a stable order, so the exposition reads well.
  f.Get("ocsp_probe_success", "1 when the last probe reached the server and got an answer.",
        MetricType::Gauge);
  f.Get("ocsp_probe_duration_seconds", "Duration of the last probe in seconds.",
        MetricType::Gauge);
  for (const TargetSnapshot& t : targets) {
    std::vector<ClientMetric::Label> base;
    if (target_label) base.push_back({"target", t.name});
    if (!t.last) continue;
    // Every reason starts at 0, so rate() and increase() see the first failure.
    std::map<std::string, uint64_t> failures = t.failures;
    for (auto reason : kProbeFailureReasons) failures.try_emplace(std::string(reason), 0);
    for (const auto& [reason, count] : failures) {
      f.Counter("ocsp_probe_failures_total", "Failed probes by reason.",
                With(base, "reason", reason), static_cast<double>(count));
    }
    const ProbeResult& r = *t.last;
    f.Gauge("ocsp_probe_success", "", base, r.success ? 1 : 0);
    f.Gauge("ocsp_probe_duration_seconds", "", base, r.duration_seconds);
    f.Gauge("ocsp_probe_timestamp_seconds", "Unix time the last probe finished.", base,
            static_cast<double>(r.finished_at));
    // Freshness at scrape time, whatever the probe schedule.
    const OcspVerdict v = VerdictAt(r.verdict, now);
    ResponseState state = r.success ? v.state : ResponseState::kAbsent;
    for (size_t i = 0; i < std::size(kResponseStateNames); ++i) {
      f.Gauge("ocsp_response_status",
              "State of the OCSP response (state set: exactly one of good, revoked, unknown, "
              "absent, invalid is 1).",
              With(base, "status", std::string(kResponseStateNames[i])),
              static_cast<int>(state) == static_cast<int>(i) ? 1 : 0);
    }
    if (t.kind == "responder") {
      if (t.request_seconds.count > 0) {
        f.Histogram("ocsp_responder_request_duration_seconds",
                    "Duration of HTTP requests to the OCSP responder.", base, t.request_seconds);
      }
      if (r.http) {
        f.Gauge("ocsp_responder_http_status_code",
                "HTTP status of the last request to the responder (0: no response).",
                With(base, "method", r.http->method), static_cast<double>(r.http->status));
        if (r.http->max_age) {
          f.Gauge("ocsp_responder_cache_max_age_seconds",
                  "Cache-Control max-age of the last answer; the earliest re-query.", base,
                  static_cast<double>(*r.http->max_age));
        }
      }
    }
    if (r.file_modified) {
      f.Gauge("ocsp_file_modified_timestamp_seconds",
              "Modification time of the staple file, Unix time.", base,
              static_cast<double>(*r.file_modified));
    }
    if (!r.success) continue;
    if (t.kind == "tls" || t.kind.empty()) {
      f.Gauge("ocsp_staple_present", "1 when the TLS handshake carried a stapled OCSP response.",
              base, r.staple_present ? 1 : 0);
      f.Gauge("ocsp_tls_chain_verified",
              "1 when the served chain validates to the system trust store or ca_file.", base,
              r.chain_verified ? 1 : 0);
      f.Gauge("ocsp_tls_name_matched",
              "1 when the leaf certificate matches the SNI name (or the IP address probed).",
              base, r.name_matched ? 1 : 0);
    }
    CertificateFacts(f, base, r.must_staple, r.ocsp_url_present, r.crl_url_present);
    if (r.not_after) {
      f.Gauge("ocsp_cert_not_after_timestamp_seconds", "Leaf certificate notAfter, Unix time.",
              base, static_cast<double>(*r.not_after));
    }
    if (state == ResponseState::kInvalid) {
      f.Gauge("ocsp_response_invalid_reason",
              "1 for the reason the OCSP response failed verification.",
              With(base, "reason", v.invalid_reason), 1);
    }
    if (!v.signature_verified) continue;  // unauthenticated times are not shown
    if (v.this_update) {
      f.Gauge("ocsp_response_this_update_timestamp_seconds", "thisUpdate, Unix time.", base,
              static_cast<double>(*v.this_update));
    }
    if (v.next_update) {
      f.Gauge("ocsp_response_next_update_timestamp_seconds", "nextUpdate, Unix time.", base,
              static_cast<double>(*v.next_update));
    }
    if (v.produced_at) {
      f.Gauge("ocsp_response_produced_at_timestamp_seconds", "producedAt, Unix time.", base,
              static_cast<double>(*v.produced_at));
    }
    if (v.valid_until) {
      f.Gauge("ocsp_response_next_update_margin_seconds",
              "nextUpdate (or thisUpdate + default_validity when absent) minus now, at scrape "
              "time.",
              base, static_cast<double>(*v.valid_until - now));
    }
    if (state == ResponseState::kRevoked) {
      if (v.revoked_at) {
        f.Gauge("ocsp_response_revoked_at_timestamp_seconds", "revocationTime, Unix time.",
                base, static_cast<double>(*v.revoked_at));
      }
      f.Gauge("ocsp_response_revocation_reason",
              "1 for the revocation reason (RFC 5280 CRLReason) of a revoked certificate.",
              With(base, "reason", v.revocation_reason.value_or("unspecified")), 1);
    }
  }
  std::vector<MetricFamily> out;
  for (auto& fam : f.Take()) {
    if (!fam.metric.empty()) out.push_back(std::move(fam));
  }
  return out;
}

std::vector<MetricFamily> StaplerFamilies(const std::vector<StaplerCertState>& certs,
                                          int64_t now) {
  Families f;
  for (StaplerCertState c : certs) {
    c.held = VerdictAt(c.held, now);
    std::vector<ClientMetric::Label> base{{"certificate", c.name}};
    for (size_t i = 0; i < std::size(kStaplerModeNames); ++i) {
      f.Gauge("ocsp_stapler_mode", "1 for the configured stapling mode.",
              With(base, "mode", std::string(kStaplerModeNames[i])),
              static_cast<int>(c.mode) == static_cast<int>(i) ? 1 : 0);
    }
    for (size_t i = 0; i < std::size(kResponseStateNames); ++i) {
      f.Gauge("ocsp_stapler_status",
              "State of the held staple (state set over good, revoked, unknown, absent, invalid).",
              With(base, "status", std::string(kResponseStateNames[i])),
              static_cast<int>(c.held.state) == static_cast<int>(i) ? 1 : 0);
    }
    if (c.held.signature_verified && c.held.next_update) {
      f.Gauge("ocsp_stapler_next_update_timestamp_seconds", "nextUpdate of the held staple.",
              base, static_cast<double>(*c.held.next_update));
    }
    if (c.next_refresh > 0) {
      f.Gauge("ocsp_stapler_next_refresh_timestamp_seconds", "When the engine will fetch next.",
              base, static_cast<double>(c.next_refresh));
    }
    if (c.last_update > 0) {
      f.Gauge("ocsp_stapler_last_refresh_timestamp_seconds",
              "When the engine last finished a fetch (or loaded its cache).", base,
              static_cast<double>(c.last_update));
    }
    for (const auto& [result, n] : c.refresh_total) {
      f.Counter("ocsp_stapler_refresh_total", "Fetch attempts by result.",
                With(base, "result", result), static_cast<double>(n));
    }
    f.Gauge("ocsp_stapler_consecutive_failures", "Failed fetches since the last success.", base,
            c.failures_in_row);
    f.Gauge("ocsp_stapler_serving",
            "1 while a valid staple is published and every publisher holds it.", base,
            c.serving ? 1 : 0);
    f.Gauge("ocsp_stapler_published_expired",
            "1 while a publisher still holds a staple past its validity (or not valid for "
            "this certificate) because it could not be replaced.",
            base, c.published_expired ? 1 : 0);
    for (const auto& [stage, n] : c.publish_errors) {
      f.Counter("ocsp_stapler_publish_errors_total",
                "Failed publishes by stage (write, persist, haproxy, reload).",
                With(base, "stage", stage), static_cast<double>(n));
    }
    f.Gauge("ocsp_stapler_fatal", "1 when the mode's fail-closed condition holds.", base,
            c.fatal ? 1 : 0);
    CertificateFacts(f, base, c.must_staple, c.ocsp_url_present, c.crl_url_present);
  }
  return f.Take();
}

Collector::Collector(const ResultStore& store, const ExporterStatus& status, NowFn now,
                     StaplerFn stapler)
    : store_(store),
      status_(status),
      now_(now ? std::move(now) : NowFn(NowUnix)),
      stapler_(std::move(stapler)) {}

std::vector<MetricFamily> Collector::Collect() const {
  std::vector<MetricFamily> out = TargetFamilies(store_.Snapshot(), now_());
  if (stapler_) {
    for (auto& fam : StaplerFamilies(stapler_(), now_())) out.push_back(std::move(fam));
  }
  Families f;
  f.Gauge("ocsp_staple_exporter_build_info",
          "A metric with a constant 1 labeled by version, revision and OpenSSL version.",
          {{"version", OSE_VERSION},
           {"revision", OSE_REVISION},
           {"openssl_version", OpenSSL_version(OPENSSL_VERSION)}},
          1);
  f.Gauge("ocsp_staple_exporter_config_last_reload_successful",
          "1 when the last configuration load succeeded.", {},
          status_.last_reload_successful.load() ? 1 : 0);
  f.Gauge("ocsp_staple_exporter_config_last_reload_success_timestamp_seconds",
          "Unix time of the last successful configuration load.", {},
          static_cast<double>(status_.last_reload_success_timestamp.load()));
  if (const SchedulerStats* s = status_.scheduler) {
    ClientMetric lag;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < std::size(SchedulerStats::kLagBuckets); ++i) {
      cumulative += s->lag_buckets[i].load();
      lag.histogram.bucket.push_back({cumulative, SchedulerStats::kLagBuckets[i]});
    }
    lag.histogram.sample_count = s->lag_count.load();
    lag.histogram.bucket.push_back(
        {lag.histogram.sample_count, std::numeric_limits<double>::infinity()});
    lag.histogram.sample_sum = s->lag_sum.load();
    f.Get("ocsp_staple_exporter_scheduling_lag_seconds",
          "Seconds from when a scheduled probe was due until it started (waiting for a "
          "concurrency slot included).",
          MetricType::Histogram)
        .metric.push_back(std::move(lag));
    f.Gauge("ocsp_staple_exporter_probes_in_flight", "Scheduled probes running now.", {},
            s->in_flight.load());
    f.Counter("ocsp_staple_exporter_probes_skipped_total",
              "Scheduled runs skipped because the target's previous probe had not finished "
              "(its interval is shorter than its probe takes, or slots are short).",
              {}, static_cast<double>(s->skipped_busy.load()));
  }
  for (auto& fam : f.Take()) out.push_back(std::move(fam));
  return out;
}

std::string SerializeText(const std::vector<MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace ose
