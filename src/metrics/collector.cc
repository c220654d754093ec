#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/metrics/collector.h"

#include "ocsp_staple_exporter/http/gzip.h"
#include "ocsp_staple_exporter/metrics/request_stats.h"
#include "ocsp_staple_exporter/probe/fleet.h"

#include <algorithm>
#include <openssl/crypto.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <limits>
#include <span>
#include <sstream>
#include <system_error>
#include <thread>

namespace ose {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// The text exposition format 0.0.4, written straight into one string:
// prometheus-cpp's ostream serializer took 0.8 s for 50,000 targets.
void AppendNumber(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v < 0 ? "-Inf" : "+Inf";
  } else {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
    out.append(buf, ec == std::errc() ? end : buf);
  }
}

void AppendUint(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// HELP text escapes backslash and newline; label values also the quote.
// Runs without a special character are appended whole.
void AppendEscaped(std::string& out, std::string_view s, bool quote) {
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c != '\\' && c != '\n' && (c != '"' || !quote)) continue;
    out.append(s.data() + run, i - run);
    out += c == '\\' ? "\\\\" : c == '\n' ? "\\n" : "\\\"";
    run = i + 1;
  }
  out.append(s.data() + run, s.size() - run);
}

void AppendLabel(std::string& out, const ClientMetric::Label& l) {
  out += l.name;
  out += "=\"";
  AppendEscaped(out, l.value, true);
  out += '"';
}

// The labels a run of series starts with (a target's `target` and
// discovery labels), rendered once: `target="a",team="b"`. A series whose
// labels begin with them copies the text instead of escaping them again
// (50,000 targets are 1.5 million series).
struct LabelPrefix {
  std::vector<ClientMetric::Label> labels;
  std::string text;

  void Set(const std::vector<ClientMetric::Label>& base) {
    labels = base;  // reuses the vectors' and strings' capacity
    text.clear();
    for (size_t i = 0; i < base.size(); ++i) {
      if (i > 0) text += ',';
      AppendLabel(text, base[i]);
    }
  }
  bool Starts(const std::vector<ClientMetric::Label>& series) const {
    if (labels.empty() || series.size() < labels.size()) return false;
    for (size_t i = 0; i < labels.size(); ++i) {
      if (series[i].value != labels[i].value || series[i].name != labels[i].name) return false;
    }
    return true;
  }
};

void AppendSeries(std::string& out, std::string_view name, std::string_view suffix,
                  const std::vector<ClientMetric::Label>& labels, std::string_view le_name,
                  double le, const LabelPrefix* prefix = nullptr) {
  out += name;
  out += suffix;
  if (!labels.empty() || !le_name.empty()) {
    out += '{';
    bool first = true;
    size_t from = 0;
    if (prefix != nullptr && prefix->Starts(labels)) {
      out += prefix->text;
      first = false;
      from = prefix->labels.size();
    }
    for (size_t i = from; i < labels.size(); ++i) {
      if (!first) out += ',';
      first = false;
      AppendLabel(out, labels[i]);
    }
    if (!le_name.empty()) {
      if (!first) out += ',';
      out += le_name;
      out += "=\"";
      AppendNumber(out, le);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
}

const char* TypeName(MetricType t) {
  switch (t) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Histogram: return "histogram";
    case MetricType::Summary: return "summary";
    default: return "untyped";
  }
}


void AppendHeader(std::string& out, const MetricFamily& f) {
  if (!f.help.empty()) {
    out += "# HELP ";
    out += f.name;
    out += ' ';
    AppendEscaped(out, f.help, false);
    out += '\n';
  }
  out += "# TYPE ";
  out += f.name;
  out += ' ';
  out += TypeName(f.type);
  out += '\n';
}

void AppendSamples(std::string& out, std::string_view name, MetricType type,
                   const ClientMetric& m) {
  switch (type) {
    case MetricType::Counter:
      AppendSeries(out, name, "", m.label, "", 0);
      AppendNumber(out, m.counter.value);
      break;
    case MetricType::Histogram:
      for (const auto& b : m.histogram.bucket) {
        AppendSeries(out, name, "_bucket", m.label, "le", b.upper_bound);
        AppendUint(out, b.cumulative_count);
        out += '\n';
      }
      AppendSeries(out, name, "_sum", m.label, "", 0);
      AppendNumber(out, m.histogram.sample_sum);
      out += '\n';
      AppendSeries(out, name, "_count", m.label, "", 0);
      AppendUint(out, m.histogram.sample_count);
      break;
    case MetricType::Untyped:
      AppendSeries(out, name, "", m.label, "", 0);
      AppendNumber(out, m.untyped.value);
      break;
    default:  // gauges; this exporter has no summaries
      AppendSeries(out, name, "", m.label, "", 0);
      AppendNumber(out, m.gauge.value);
      break;
  }
  out += '\n';
}


// Collects the series of each family; families without series are
// dropped. Either as prometheus-cpp MetricFamily objects (tests, the
// stapler) or, in text mode, rendered at once into one buffer per family
// (/metrics, /probe: no object per series for 1.5 million series). With
// `gzip`, each family's text is compressed as it grows (piece = family
// index): the whole text never exists.
class Families {
 public:
  /// Gzip mode with `headers` false: each family's series only (the
  /// caller writes the family's HELP and TYPE once: a slice of the targets
  /// rendered on its own thread, see CollectGzip).
  explicit Families(bool text = false, GzipPieces* gzip = nullptr, bool headers = true)
      : text_(text || gzip != nullptr), headers_(headers), gzip_(gzip) {}

  // Names and help texts are literals: compared as views, copied only when
  // a family is created.
  MetricFamily& Get(std::string_view name, std::string_view help, MetricType type) {
    return families_[Index(name, help, type)];
  }

  // Labels by reference: in text mode they are only read (no vector
  // copied per series: 50,000 targets are 1.5 million series).
  void Gauge(std::string_view name, std::string_view help,
             const std::vector<ClientMetric::Label>& labels, double value) {
    Scalar(name, help, MetricType::Gauge, labels, value);
  }

  void Counter(std::string_view name, std::string_view help,
               const std::vector<ClientMetric::Label>& labels, double value) {
    Scalar(name, help, MetricType::Counter, labels, value);
  }

  /// A state set: one series per name in `names` (label `label`), 1 for
  /// the one at `current`, 0 for the others.
  template <size_t N>
  void StateSet(std::string_view name, std::string_view help,
                const std::vector<ClientMetric::Label>& base, const std::string& label,
                const std::string_view (&names)[N], int current) {
    std::vector<ClientMetric::Label>& labels = state_labels_;  // capacity reused
    labels = base;
    labels.push_back({label, ""});
    for (size_t i = 0; i < N; ++i) {
      labels.back().value.assign(names[i]);
      Gauge(name, help, labels, current == static_cast<int>(i) ? 1 : 0);
    }
  }

  void Histogram(std::string_view name, std::string_view help,
                 std::vector<ClientMetric::Label> labels, const TargetSnapshot::Histogram& h) {
    ClientMetric m;
    m.label = std::move(labels);
    m.histogram.sample_count = h.count;
    m.histogram.sample_sum = h.sum;
    for (size_t i = 0; i < std::size(kResponderBuckets); ++i) {
      m.histogram.bucket.push_back({i < h.buckets.size() ? h.buckets[i] : 0, kResponderBuckets[i]});
    }
    m.histogram.bucket.push_back({h.count, std::numeric_limits<double>::infinity()});
    const size_t i = Index(name, help, MetricType::Histogram);
    if (text_) {
      StartText(i);
      AppendSamples(bodies_[i], families_[i].name, MetricType::Histogram, m);
      Compress(i);
    } else {
      families_[i].metric.push_back(std::move(m));
    }
  }

  std::vector<MetricFamily> Take() { return std::move(families_); }

  /// Text mode: the labels the next series start with (see LabelPrefix).
  void Prefix(const std::vector<ClientMetric::Label>& base) {
    if (text_) prefix_.Set(base);
  }

  /// Families left out whatever is emitted (a /probe answer has no
  /// counters or probe timestamp: those belong to scheduled targets).
  void Skip(std::vector<std::string_view> names) { skip_ = std::move(names); }

  /// Text mode: appends every family with series to `out`, freeing each
  /// family's buffer as it goes.
  /// Gzip mode: compresses what each family still holds; the caller joins
  /// the pieces (indices 0 .. size()-1 are taken).
  void TakeGzip() {
    for (size_t i = 0; i < bodies_.size(); ++i) {
      gzip_->Append(i, bodies_[i]);
      std::string().swap(bodies_[i]);
    }
  }
  size_t size() const { return families_.size(); }
  /// Every family declared so far, in order (text mode: without series).
  const std::vector<MetricFamily>& declared() const { return families_; }

  void TakeText(std::string& out) {
    size_t total = out.size();
    for (const auto& b : bodies_) total += b.size() + 256;
    out.reserve(total);
    for (size_t i = 0; i < families_.size(); ++i) {
      if (bodies_[i].empty()) continue;
      AppendHeader(out, families_[i]);
      out += bodies_[i];
      std::string().swap(bodies_[i]);
    }
  }

 private:
  size_t Index(std::string_view name, std::string_view help, MetricType type) {
    if (last_ < families_.size() && families_[last_].name == name) return last_;
    for (size_t i = 0; i < families_.size(); ++i) {
      if (families_[i].name == name) return last_ = i;
    }
    families_.push_back(MetricFamily{std::string(name), std::string(help), type, {}});
    bodies_.emplace_back();
    started_.push_back(false);
    return last_ = families_.size() - 1;
  }

  void Scalar(std::string_view name, std::string_view help, MetricType type,
              const std::vector<ClientMetric::Label>& labels, double value) {
    for (std::string_view n : skip_) {
      if (n == name) return;
    }
    const size_t i = Index(name, help, type);
    if (text_) {
      StartText(i);
      AppendSeries(bodies_[i], families_[i].name, "", labels, "", 0, &prefix_);
      AppendNumber(bodies_[i], value);
      bodies_[i] += '\n';
      Compress(i);
      return;
    }
    ClientMetric m;
    m.label = labels;
    (type == MetricType::Counter ? m.counter.value : m.gauge.value) = value;
    families_[i].metric.push_back(std::move(m));
  }

  // Gzip mode: a family's header goes first, with its first series.
  void StartText(size_t i) {
    if (gzip_ != nullptr && !started_[i]) {
      started_[i] = true;
      if (headers_) AppendHeader(bodies_[i], families_[i]);
    }
  }
  // Gzip mode: hands a family's text to its compressor in 64 KiB runs.
  void Compress(size_t i) {
    if (gzip_ != nullptr && bodies_[i].size() >= 64 * 1024) {
      gzip_->Append(i, bodies_[i]);
      bodies_[i].clear();
    }
  }

  bool text_;
  bool headers_;
  GzipPieces* gzip_;
  std::vector<bool> started_;  ///< gzip mode: header written
  std::vector<std::string_view> skip_;
  std::vector<MetricFamily> families_;
  std::vector<std::string> bodies_;  ///< text mode: rendered samples per family
  size_t last_ = 0;  ///< the family found last: series come in runs
  LabelPrefix prefix_;  ///< text mode
  std::vector<ClientMetric::Label> state_labels_;  ///< StateSet's, never a caller's
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

// Which certificate a target's series are about: joins with
// x509-certificate-exporter's series (serial_number) and answers "which
// certificate?" on a page.
void CertInfo(Families& f, const std::vector<ClientMetric::Label>& base, const ProbeResult& r) {
  if (r.identity->sha256_fingerprint.empty()) return;
  std::vector<ClientMetric::Label> labels = base;
  labels.push_back({"serial", r.identity->serial});
  labels.push_back({"issuer", r.identity->issuer});
  labels.push_back({"subject", r.subject});
  labels.push_back({"sha256_fingerprint", r.identity->sha256_fingerprint});
  f.Gauge("ocsp_cert_info",
          "1, labelled with the serial (decimal), issuer, subject and SHA-256 fingerprint of "
          "the leaf certificate the last probe saw.",
          std::move(labels), 1);
}

void CertNotAfter(Families& f, const std::vector<ClientMetric::Label>& base, int64_t t) {
  f.Gauge("ocsp_cert_not_after_timestamp_seconds", "Leaf certificate notAfter, Unix time.", base,
          static_cast<double>(t));
}

// A leaf's status from the CRLs of its distribution points
// (`revocation = "crl" | "both"`).
void LeafCrlFamilies(Families& f, const std::vector<ClientMetric::Label>& base,
                     const LeafCrlStatus& c) {
  f.StateSet("ocsp_cert_crl_status",
             "The certificate's status in the CRLs of its CRL Distribution Points (state set: "
             "exactly one of good, revoked, unavailable is 1).",
             base, "status", kLeafCrlStateNames, static_cast<int>(c.state));
  if (c.state != LeafCrlState::kRevoked) return;
  if (c.revoked_at) {
    f.Gauge("ocsp_cert_crl_revoked_at_timestamp_seconds",
            "revocationDate of the certificate's CRL entry, Unix time.", base,
            static_cast<double>(*c.revoked_at));
  }
  f.Gauge("ocsp_cert_crl_revocation_reason",
          "1 for the reason code (RFC 5280 CRLReason) of the certificate's CRL entry.",
          With(base, "reason", c.reason.empty() ? "unspecified" : c.reason), 1);
}

// The certificates above the leaf (`revocation_scope = "chain"`), one
// `position` each (1 = the leaf's issuer).
void ChainFamilies(Families& f, const std::vector<ClientMetric::Label>& base,
                   const std::vector<ProbeResult::ChainCert>& chain) {
  for (const ProbeResult::ChainCert& c : chain) {
    const auto at = With(base, "position", std::to_string(c.position));
    f.StateSet("ocsp_chain_cert_revocation_status",
               "Revocation status of the certificate at this position above the leaf (1 = the "
               "leaf's issuer), from its CRLs and/or OCSP responder as the target's revocation "
               "says (state set: exactly one of good, revoked, unavailable is 1).",
               at, "status", kLeafCrlStateNames, static_cast<int>(c.state));
    if (c.state == LeafCrlState::kRevoked && c.revoked_at) {
      f.Gauge("ocsp_chain_cert_revoked_at_timestamp_seconds",
              "When the certificate at this position above the leaf was revoked, Unix time.", at,
              static_cast<double>(*c.revoked_at));
    }
    if (c.not_after) {
      f.Gauge("ocsp_chain_cert_not_after_timestamp_seconds",
              "notAfter of the certificate at this position above the leaf, Unix time.", at,
              static_cast<double>(*c.not_after));
    }
    std::vector<ClientMetric::Label> info = at;
    info.push_back({"subject", c.subject});
    info.push_back({"issuer", c.issuer});
    info.push_back({"serial", c.serial});
    f.Gauge("ocsp_chain_cert_info",
            "1, labelled with the subject, issuer and serial (decimal) of the certificate at "
            "this position above the leaf.",
            std::move(info), 1);
  }
}

}  // namespace

namespace {

constexpr const char* kCrlFetchesHelp =
    "Fetches of CRLs, by result: fetched (a whole CRL), not_modified (304: the CRL held is "
    "current), failed (network, HTTP, size), refused (a distribution point's CRL that is "
    "unauthentic or older than the one held, which is kept). Per target for [[crl]] targets, "
    "per url for distribution points.";
constexpr const char* kCrlFetchBytesHelp =
    "Bytes of CRL bodies received (a 304 costs none); per target or per url as "
    "ocsp_crl_fetches_total.";

// A `[[crl]]` target's fetch counters (from a URL): every result from 0.
void CrlFetchFamilies(Families& f, const std::vector<ClientMetric::Label>& base,
                      const TargetSnapshot& t) {
  const TargetSnapshot::HttpCounters none;
  const TargetSnapshot::HttpCounters& c = t.http ? *t.http : none;
  for (const char* result : {"fetched", "not_modified", "failed"}) {
    auto n = c.crl_fetches.find(result);
    f.Counter("ocsp_crl_fetches_total", kCrlFetchesHelp, With(base, "result", result),
              n == c.crl_fetches.end() ? 0.0 : static_cast<double>(n->second));
  }
  f.Counter("ocsp_crl_fetch_bytes_total", kCrlFetchBytesHelp, base,
            static_cast<double>(c.crl_bytes));
}

// A `[[crl]]` target's own families (`ocsp_crl_*`), the state read at `now`.
void CrlFamilies(Families& f, const std::vector<ClientMetric::Label>& base, const ProbeResult& r,
                 int64_t now) {
  const ProbeResult::Crl empty;
  const ProbeResult::Crl& crl = r.crl ? *r.crl : empty;
  const CrlVerdict v = CrlVerdictAt(crl.verdict, now);
  const CrlState state = r.success ? v.state : CrlState::kAbsent;
  f.StateSet("ocsp_crl_status",
             "State of the CRL (state set: exactly one of valid, expired, invalid, absent is 1).",
             base, "status", kCrlStateNames, static_cast<int>(state));
  if (!r.success) return;
  f.Gauge("ocsp_crl_fetch_duration_seconds", "Duration of the CRL's transfer (or file read).",
          base, crl.fetch_seconds);
  if (crl.size_bytes > 0) {
    f.Gauge("ocsp_crl_size_bytes", "Size of the CRL as fetched, in bytes.", base,
            static_cast<double>(crl.size_bytes));
  }
  if (state == CrlState::kInvalid) {
    f.Gauge("ocsp_crl_invalid_reason", "1 for the reason the CRL failed verification.",
            With(base, "reason", v.invalid_reason), 1);
  }
  if (!v.signature_verified) return;  // unauthenticated figures are not shown
  if (v.this_update) {
    f.Gauge("ocsp_crl_this_update_timestamp_seconds", "thisUpdate of the CRL, Unix time.", base,
            static_cast<double>(*v.this_update));
  }
  if (v.next_update) {
    f.Gauge("ocsp_crl_next_update_timestamp_seconds", "nextUpdate of the CRL, Unix time.", base,
            static_cast<double>(*v.next_update));
    f.Gauge("ocsp_crl_next_update_margin_seconds",
            "nextUpdate of the CRL minus now, at scrape time; negative once expired.", base,
            static_cast<double>(*v.next_update - now));
  }
  if (v.crl_number) {
    f.Gauge("ocsp_crl_number", "The CRL's cRLNumber (RFC 5280 §5.2.3).", base,
            std::strtod(v.crl_number->c_str(), nullptr));
  }
  f.Gauge("ocsp_crl_revoked_certificates", "Entries in the CRL.", base,
          static_cast<double>(v.revoked_certificates));
}

void EmitResult(Families& f, const TargetSnapshot& t, const std::vector<ClientMetric::Label>& base,
                const ProbeResult& r, int64_t now);

// The leaf's facts: Must-Staple, URLs present, which certificate, notAfter.
void LeafFacts(Families& f, const std::vector<ClientMetric::Label>& base, const ProbeResult& r) {
  CertificateFacts(f, base, r.must_staple, r.ocsp_url_present, r.crl_url_present);
  CertInfo(f, base, r);
  if (r.not_after) CertNotAfter(f, base, *r.not_after);
}

// A [[responder]] target's HTTP exchange.
void ResponderExchange(Families& f, const TargetSnapshot& t,
                       const std::vector<ClientMetric::Label>& base, const ProbeResult& r) {
  if (t.http && t.http->request_seconds.count > 0) {
    f.Histogram("ocsp_responder_request_duration_seconds",
                "Duration of HTTP requests to the OCSP responder.", base,
                t.http->request_seconds);
  }
  if (r.http && !r.http->url.empty()) {
    f.Gauge("ocsp_responder_info", "1, labelled with the responder URL the last probe asked.",
            With(base, "url", r.http->url), 1);
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

// `ocsp_probe_handshakes` on every TLS target; the stapled count with
// handshakes > 1.
void HandshakeCounts(Families& f, const TargetSnapshot& t,
                     const std::vector<ClientMetric::Label>& base, const ProbeResult& r) {
  if (r.extras().handshakes) {
    f.Gauge("ocsp_probe_handshakes", "Handshakes the last probe completed.", base,
            r.extras().handshakes->completed);
    f.Gauge("ocsp_staple_present_handshakes",
            "Of the handshakes the last probe completed, those that carried a staple "
            "(targets with handshakes > 1).",
            base, r.extras().handshakes->stapled);
  } else if (t.kind() == "tls" || t.kind().empty()) {
    f.Gauge("ocsp_probe_handshakes", "Handshakes the last probe completed.", base,
            r.success ? 1 : 0);
  }
}

// The authenticated figures of a verified response, read at `now`.
void ResponseFigures(Families& f, const std::vector<ClientMetric::Label>& base,
                     const OcspVerdict& v, int64_t now) {
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
  if (v.delegated_signer && v.signer_not_after) {
    f.Gauge("ocsp_response_signer_not_after_timestamp_seconds",
            "notAfter of the delegated responder certificate that signed the response, Unix "
            "time (responses signed by the issuer itself have none).",
            base, static_cast<double>(*v.signer_not_after));
  }
  if (v.valid_until) {
    f.Gauge("ocsp_response_next_update_margin_seconds",
            "nextUpdate (or thisUpdate + default_validity when absent) minus now, at scrape "
            "time.",
            base, static_cast<double>(*v.valid_until - now));
  }
  if (v.state == ResponseState::kRevoked) {
    if (v.revoked_at) {
      f.Gauge("ocsp_response_revoked_at_timestamp_seconds", "revocationTime, Unix time.",
              base, static_cast<double>(*v.revoked_at));
    }
    f.Gauge("ocsp_response_revocation_reason",
            "1 for the revocation reason (RFC 5280 CRLReason) of a revoked certificate.",
            With(base, "reason", v.revocation_reason.value_or("unspecified")), 1);
  }
}

// Every per-target series of `targets` into `f`.
void EmitTargets(Families& f, std::span<const TargetSnapshot> targets, int64_t now,
                 bool target_label) {
  // Declare families in a stable order, so the exposition reads well.
  f.Get("ocsp_probe_success", "1 when the last probe reached the server and got an answer.",
        MetricType::Gauge);
  f.Get("ocsp_probe_duration_seconds", "Duration of the last probe in seconds.",
        MetricType::Gauge);
  // Reused from target to target (their capacity): 50,000 targets need not
  // allocate a label vector and a failure map each.
  std::vector<ClientMetric::Label> base;
  std::vector<ClientMetric::Label> with_reason;
  std::vector<std::string_view> reasons;
  for (const TargetSnapshot& t : targets) {
    if (!t.last) continue;
    size_t n = 0;
    auto label = [&](std::string_view name, const std::string& value) {
      if (base.size() <= n) base.emplace_back();
      base[n].name.assign(name);
      base[n].value = value;
      ++n;
    };
    if (target_label) label("target", t.name());
    for (const auto& [name, value] : t.labels()) label(name, value);
    base.resize(n);
    f.Prefix(base);
    // Every reason starts at 0, so rate() and increase() see the first
    // failure (for TLS targets, the reasons a handshake can fail with:
    // 50,000 targets need not carry four series that can never move), in
    // the order of the reason names.
    reasons.assign(std::begin(kProbeFailureReasons),
                   std::begin(kProbeFailureReasons) +
                       (t.kind() == "tls" ? kTlsFailureReasons : std::size(kProbeFailureReasons)));
    if (t.last->starttls != StartTls::kNone) {
      reasons.insert(reasons.end(), std::begin(kStartTlsFailureReasons),
                     std::end(kStartTlsFailureReasons));
    }
    for (const auto& [reason, count] : t.failures) reasons.push_back(reason);
    std::sort(reasons.begin(), reasons.end());
    reasons.erase(std::unique(reasons.begin(), reasons.end()), reasons.end());
    with_reason = base;
    with_reason.push_back({"reason", ""});
    auto counted = t.failures.begin();  // sorted as `reasons`: one walk
    for (std::string_view reason : reasons) {
      while (counted != t.failures.end() && std::string_view(counted->first) < reason) ++counted;
      const bool has = counted != t.failures.end() && counted->first == reason;
      with_reason.back().value.assign(reason);
      f.Counter("ocsp_probe_failures_total", "Failed probes by reason.", with_reason,
                has ? static_cast<double>(counted->second) : 0.0);
    }
    const ProbeResult& r = *t.last;
    f.Gauge("ocsp_probe_timestamp_seconds", "Unix time the last probe finished.", base,
            static_cast<double>(r.finished_at));
    if (t.interval_seconds() > 0) {
      f.Gauge("ocsp_probe_interval_seconds",
              "The target's configured probe interval; with ocsp_probe_timestamp_seconds it "
              "tells a target that is no longer probed.",
              base, t.interval_seconds());
    }
    if (r.every_address) {
      // addresses = "all": each address's series carry its `address`
      // label; the target's CRL status (one leaf lookup) and the count of
      // addresses per state do not.
      const std::vector<int> counts = CountAddressStates(r, now);
      for (size_t i = 0; i < counts.size(); ++i) {
        f.Gauge("ocsp_target_addresses",
                "Addresses of the target (addresses = \"all\") by the state of their last "
                "probe: an OCSP state, or failed.",
                With(base, "state", std::string(kAddressStateNames[i])), counts[i]);
      }
      // (from the addresses that answered, also when others failed)
      if (r.leaf_crl) LeafCrlFamilies(f, base, *r.leaf_crl);
      ChainFamilies(f, base, r.extras().chain);
      if (r.extras().per_address.empty()) EmitResult(f, t, base, r, now);
      for (const ProbeResult& a : r.extras().per_address)
        EmitResult(f, t, With(base, "address", a.address), a, now);
      continue;
    }
    if (r.leaf_crl && (r.success || r.ocsp_skipped)) LeafCrlFamilies(f, base, *r.leaf_crl);
    if (r.success) ChainFamilies(f, base, r.extras().chain);
    EmitResult(f, t, base, r, now);
  }
}

// The series of one result: a target's, or one address's of it.
void EmitResult(Families& f, const TargetSnapshot& t, const std::vector<ClientMetric::Label>& base,
                const ProbeResult& r, int64_t now) {
  f.Gauge("ocsp_probe_success", "", base, r.success ? 1 : 0);
  f.Gauge("ocsp_probe_duration_seconds", "", base, r.duration_seconds);
  if (t.kind() == "crl") {
    CrlFamilies(f, base, r, now);
    if (r.http) CrlFetchFamilies(f, base, t);
    return;
  }
  if (r.ocsp_skipped) {  // revocation = "crl": no OCSP request, no OCSP series
    if (r.success) LeafFacts(f, base, r);
    return;
  }
  // Freshness at scrape time, whatever the probe schedule.
  const OcspVerdict v = VerdictAt(r.verdict, now);
  // "failed": the probe did not complete (server down is not "absent", a
  // server that does not staple).
  f.StateSet("ocsp_response_status",
             "State of the OCSP response (state set: exactly one of good, revoked, unknown, "
             "absent, invalid, failed is 1; failed: the probe did not complete).",
             base, "status", kAddressStateNames,
             r.success ? static_cast<int>(v.state) : static_cast<int>(kFailedState));
  if (t.kind() == "responder") ResponderExchange(f, t, base, r);
  if (r.extras().file_modified) {
    f.Gauge("ocsp_file_modified_timestamp_seconds",
            "Modification time of the staple file, Unix time.", base,
            static_cast<double>(*r.extras().file_modified));
  }
  HandshakeCounts(f, t, base, r);
  if (!r.success) return;
  if (t.kind() == "tls" || t.kind().empty()) {
    f.Gauge("ocsp_staple_present", "1 when the TLS handshake carried a stapled OCSP response.",
            base, r.staple_present ? 1 : 0);
    f.Gauge("ocsp_tls_chain_verified",
            "1 when the served chain validates to the system trust store or ca_file.", base,
            r.chain_verified ? 1 : 0);
    f.Gauge("ocsp_tls_name_matched",
            "1 when the leaf certificate matches the SNI name (or the IP address probed).",
            base, r.name_matched ? 1 : 0);
  }
  LeafFacts(f, base, r);
  if (v.state == ResponseState::kInvalid) {
    f.Gauge("ocsp_response_invalid_reason",
            "1 for the reason the OCSP response failed verification.",
            With(base, "reason", v.invalid_reason), 1);
  }
  if (v.signature_verified) ResponseFigures(f, base, v, now);  // unauthenticated: none
}

}  // namespace

std::vector<MetricFamily> TargetFamilies(const std::vector<TargetSnapshot>& targets,
                                         int64_t now, bool target_label) {
  Families f;
  EmitTargets(f, targets, now, target_label);
  std::vector<MetricFamily> out;
  for (auto& fam : f.Take()) {
    if (!fam.metric.empty()) out.push_back(std::move(fam));
  }
  return out;
}

std::string ProbeText(const std::string& name, ProbeResult result, int64_t now) {
  std::vector<TargetSnapshot> one(1);
  one[0].info = TargetInfo{.name = name, .kind = "tls"};
  one[0].last = std::make_shared<const ProbeResult>(std::move(result));
  Families f(/*text=*/true);
  f.Skip({"ocsp_probe_failures_total", "ocsp_probe_timestamp_seconds"});
  EmitTargets(f, one, now, /*target_label=*/false);
  std::string out;
  f.TakeText(out);
  return out;
}

std::vector<MetricFamily> StaplerFamilies(const std::vector<StaplerCertState>& certs,
                                          int64_t now) {
  Families f;
  for (StaplerCertState c : certs) {
    c.held = VerdictAt(c.held, now);
    std::vector<ClientMetric::Label> base{{"certificate", c.name}};
    f.StateSet("ocsp_stapler_mode", "1 for the configured stapling mode.", base, "mode",
               kStaplerModeNames, static_cast<int>(c.mode));
    f.StateSet("ocsp_stapler_status",
               "State of the held staple (state set as ocsp_response_status; never failed).",
               base, "status", kAddressStateNames, static_cast<int>(c.held.state));
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
    f.Gauge("ocsp_stapler_publish_failing",
            "1 while the last attempt of a publisher (output_file, store_dir, HAProxy, "
            "reload_command) failed; 0 once it succeeds.",
            base, c.publish_failing ? 1 : 0);
    for (const auto& [stage, n] : c.publish_errors) {
      f.Counter("ocsp_stapler_publish_errors_total",
                "Failed publishes by stage (write, persist, haproxy, reload).",
                With(base, "stage", stage), static_cast<double>(n));
    }
    f.Gauge("ocsp_stapler_fatal", "1 when the mode's fail-closed condition holds.", base,
            c.fatal ? 1 : 0);
    if (c.crl) {
      f.StateSet("ocsp_stapler_crl_status",
                 "revocation = \"crl\" | \"both\": the certificate's status in the CRLs of its "
                 "CRL Distribution Points at the last fetch (state set: good, revoked, "
                 "unavailable); revoked is never stapled good and fails must/always closed.",
                 base, "status", kLeafCrlStateNames, static_cast<int>(c.crl->state));
    }
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
  for (auto& fam : OtherFamilies()) out.push_back(std::move(fam));
  return out;
}

std::string Collector::CollectText() const {
  std::string out;
  {
    Families f(/*text=*/true);
    EmitTargets(f, store_.Snapshot(), now_(), /*target_label=*/true);
    f.TakeText(out);
  }
  out += SerializeText(OtherFamilies());
  return out;
}

void Collector::SetRenderThreads(unsigned threads, size_t min_targets_per_thread) {
  render_threads_ = std::max(threads, 1u);
  min_targets_per_thread_ = std::max<size_t>(min_targets_per_thread, 1);
}

std::optional<std::string> Collector::CollectGzip() const {
  const std::vector<TargetSnapshot> targets = store_.Snapshot();
  const int64_t now = now_();
  const size_t slices =
      std::clamp<size_t>(targets.size() / min_targets_per_thread_, 1, render_threads_);
  GzipPieces gz;
  size_t next = 0;
  if (slices == 1) {
    Families f(/*text=*/true, &gz);
    EmitTargets(f, targets, now, /*target_label=*/true);
    f.TakeGzip();
    next = f.size();
  } else {
    next = GzipSlices(targets, now, slices, gz);
  }
  gz.Append(next, SerializeText(OtherFamilies()));
  return gz.Join();
}

// The targets cut into `slices` runs, each rendered and compressed on its
// own thread (this one takes the first) into pieces of its own, without
// family headers; then each family's header and its pieces, slice by
// slice, join `gz` from piece 0. Families come in the order a single pass
// declares them: the first slice's, then those a later slice declares
// first. The text is byte for byte the single pass's. Returns the next
// free piece.
size_t Collector::GzipSlices(const std::vector<TargetSnapshot>& targets, int64_t now,
                             size_t slices, GzipPieces& gz) const {
  struct Slice {
    GzipPieces gz;
    std::unique_ptr<Families> families;
    std::exception_ptr error;
  };
  std::vector<std::unique_ptr<Slice>> parts;
  for (size_t k = 0; k < slices; ++k) parts.push_back(std::make_unique<Slice>());
  auto render = [&](size_t k) {
    Slice& s = *parts[k];
    try {
      const size_t from = targets.size() * k / slices;
      const size_t to = targets.size() * (k + 1) / slices;
      s.families = std::make_unique<Families>(/*text=*/true, &s.gz, /*headers=*/false);
      EmitTargets(*s.families, std::span(targets).subspan(from, to - from), now,
                  /*target_label=*/true);
      s.families->TakeGzip();
    } catch (...) {
      s.error = std::current_exception();
    }
  };
  {
    std::vector<std::jthread> threads;
    for (size_t k = 1; k < slices; ++k) {
      try {
        threads.emplace_back(render, k);
      } catch (const std::system_error&) {
        render(k);  // no thread to be had (a limit on tasks): this one renders it
      }
    }
    render(0);
  }  // joined
  for (auto& s : parts) {
    if (s->error) std::rethrow_exception(s->error);
  }
  // One pass, slice by slice: each family where it is first declared,
  // with the pieces of the slices that have its series, in slice order.
  struct Merged {
    const MetricFamily* family;
    std::vector<std::pair<Slice*, size_t>> pieces;
  };
  std::vector<Merged> merged;
  for (auto& s : parts) {
    const auto& declared = s->families->declared();
    for (size_t i = 0; i < declared.size(); ++i) {
      auto m = std::find_if(merged.begin(), merged.end(),
                            [&](const Merged& x) { return x.family->name == declared[i].name; });
      if (m == merged.end()) m = merged.insert(m, Merged{&declared[i], {}});
      if (s->gz.Has(i)) m->pieces.emplace_back(s.get(), i);
    }
  }
  size_t next = 0;
  for (const Merged& m : merged) {
    if (m.pieces.empty()) continue;  // declared, no series
    std::string header;
    AppendHeader(header, *m.family);
    gz.Append(next++, header);
    for (auto [s, i] : m.pieces) gz.Adopt(next++, s->gz, i);
  }
  return next;
}

std::vector<MetricFamily> Collector::OtherFamilies() const {
  std::vector<MetricFamily> out;
  if (stapler_) out = StaplerFamilies(stapler_(), now_());
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
    std::array<uint64_t, std::size(SchedulerStats::kLagBuckets)> per_bucket{};
    for (size_t i = 0; i < per_bucket.size(); ++i) per_bucket[i] = s->lag_buckets[i].load();
    ClientMetric lag = HistogramMetric(SchedulerStats::kLagBuckets, per_bucket,
                                       s->lag_count.load(), s->lag_sum.load());
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
  if (status_.verification_cache) {
    const auto [entries, capacity, hits, misses] = status_.verification_cache();
    f.Gauge("ocsp_staple_exporter_verification_cache_entries",
            "Verified TLS inputs (served chain, staple, name) held, each checked again only "
            "against the clock.",
            {}, static_cast<double>(entries));
    f.Gauge("ocsp_staple_exporter_verification_cache_capacity",
            "Most entries the verification cache holds (twice the TLS targets, at least 65536).",
            {}, static_cast<double>(capacity));
    const char* kLookups =
        "Verification cache lookups by result; misses verify signatures and chains in full.";
    f.Counter("ocsp_staple_exporter_verification_cache_lookups_total", kLookups,
              {{"result", "hit"}}, static_cast<double>(hits));
    f.Counter("ocsp_staple_exporter_verification_cache_lookups_total", kLookups,
              {{"result", "miss"}}, static_cast<double>(misses));
  }
  if (status_.discovery) {
    for (const DiscoveryStats& d : status_.discovery()) {
      const std::vector<ClientMetric::Label> block{{"discovery", d.name}};
      f.Gauge("ocsp_staple_exporter_discovery_targets",
              "Targets listed in the files of a [[discovery]] block now.", block,
              static_cast<double>(d.targets));
      f.Gauge("ocsp_staple_exporter_discovery_files",
              "Files a [[discovery]] block reads now.", block, static_cast<double>(d.files));
      f.Counter("ocsp_staple_exporter_discovery_read_errors_total",
                "Discovery files that could not be read or parsed (their previous targets "
                "were kept).",
                block, static_cast<double>(d.read_errors));
    }
  }
  if (status_.crl_fetches) {
    for (const CrlFetchCounts& c : status_.crl_fetches()) {
      const std::pair<const char*, uint64_t> results[] = {{"fetched", c.fetched},
                                                           {"not_modified", c.not_modified},
                                                           {"failed", c.failed},
                                                           {"refused", c.refused}};
      for (const auto& [result, n] : results) {
        f.Counter("ocsp_crl_fetches_total", kCrlFetchesHelp, {{"url", c.url}, {"result", result}},
                  static_cast<double>(n));
      }
      f.Counter("ocsp_crl_fetch_bytes_total", kCrlFetchBytesHelp, {{"url", c.url}},
                static_cast<double>(c.bytes));
    }
  }
  for (auto& fam : f.Take()) out.push_back(std::move(fam));
  if (status_.requests != nullptr) {
    for (auto& fam : status_.requests->Families()) out.push_back(std::move(fam));
  }
  if (status_.process) {
    for (auto& fam : ProcessFamilies()) out.push_back(std::move(fam));
  }
  return out;
}

std::string SerializeText(const std::vector<MetricFamily>& families) {
  size_t series = 0;
  for (const auto& f : families) series += f.metric.size();
  std::string out;
  out.reserve(series * 96 + families.size() * 160);
  for (const MetricFamily& f : families) {
    if (f.metric.empty()) continue;
    AppendHeader(out, f);
    for (const ClientMetric& m : f.metric) AppendSamples(out, f.name, f.type, m);
  }
  return out;
}

}  // namespace ose
