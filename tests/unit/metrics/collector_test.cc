#include "ocsp_staple_exporter/metrics/collector.h"

#include <gtest/gtest.h>

#include "gunzip.h"

namespace ose {
namespace {

constexpr int64_t kNow = 1'800'000'000;

using testing::Gunzip;

ProbeResult Reached(ResponseState state) {
  ProbeResult r;
  r.success = true;
  r.staple_present = state != ResponseState::kAbsent;
  r.must_staple = true;
  r.not_after = kNow + 86400;
  r.finished_at = kNow - 5;
  r.duration_seconds = 0.25;
  r.verdict.Mut().state = state;
  return r;
}

ProbeResult Verified(ResponseState state) {
  ProbeResult r = Reached(state);
  r.verdict.Mut().signature_verified = true;
  r.verdict.Mut().this_update = kNow - 3600;
  r.verdict.Mut().next_update = kNow + 7200;
  r.verdict.Mut().valid_until = kNow + 7200;
  r.verdict.Mut().fresh_until = kNow + 7200 + 300;
  r.verdict.Mut().produced_at = kNow - 3600;
  return r;
}

TargetSnapshot Target(const std::string& name, std::optional<ProbeResult> r) {
  TargetSnapshot t;
  t.info = TargetInfo{.name = name, .kind = "tls"};
  if (r) t.last = std::make_shared<const ProbeResult>(std::move(*r));
  return t;
}

// "name{labels} value" lines of the text exposition, without comments.
std::string Series(const std::vector<TargetSnapshot>& targets, bool label = true) {
  std::string text = SerializeText(TargetFamilies(targets, kNow, label));
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl - pos);
    if (!line.empty() && line[0] != '#') out += line + "\n";
    pos = nl + 1;
  }
  return out;
}

// Truth at scrape time: whatever the probe schedule (a responder deferred
// by max-age, a slow interval), a held good or unknown past its validity
// reads invalid (expired); a revocation stays revoked with a negative margin
// (certificate_hold excepted).
TEST(Collector, FreshnessIsEvaluatedAtScrapeTime) {
  ProbeResult good = Verified(ResponseState::kGood);
  good.verdict.Mut().valid_until = kNow - 400;
  good.verdict.Mut().next_update = kNow - 400;
  good.verdict.Mut().fresh_until = kNow - 100;
  ProbeResult unknown = good;
  unknown.verdict.Mut().state = ResponseState::kUnknown;
  ProbeResult revoked = good;
  revoked.verdict.Mut().state = ResponseState::kRevoked;
  revoked.verdict.Mut().revocation_reason = "key_compromise";
  revoked.verdict.Mut().revoked_at = kNow - 86400;
  ProbeResult hold = revoked;
  hold.verdict.Mut().revocation_reason = "certificate_hold";
  std::string s = Series({Target("g", good), Target("u", unknown), Target("r", revoked),
                          Target("h", hold)});
  for (const char* want : {
           "ocsp_response_status{target=\"g\",status=\"invalid\"} 1\n",
           "ocsp_response_status{target=\"g\",status=\"good\"} 0\n",
           "ocsp_response_invalid_reason{target=\"g\",reason=\"expired\"} 1\n",
           "ocsp_response_status{target=\"u\",status=\"invalid\"} 1\n",
           "ocsp_response_status{target=\"r\",status=\"revoked\"} 1\n",
           "ocsp_response_next_update_margin_seconds{target=\"r\"} -400\n",
           "ocsp_response_revocation_reason{target=\"r\",reason=\"key_compromise\"} 1\n",
           "ocsp_response_status{target=\"h\",status=\"invalid\"} 1\n",
       }) {
    EXPECT_NE(s.find(want), std::string::npos) << want << "\nin:\n" << s;
  }
  // Within the skew it still reads good.
  good.verdict.Mut().fresh_until = kNow;
  EXPECT_NE(Series({Target("g", good)}).find("ocsp_response_status{target=\"g\",status=\"good\"} 1"),
            std::string::npos);
}

TEST(Collector, RevocationSourcesOfTheCertificate) {
  ProbeResult r = Reached(ResponseState::kAbsent);
  r.ocsp_url_present = false;
  r.crl_url_present = true;
  std::string s = Series({Target("a", r)});
  EXPECT_NE(s.find("ocsp_cert_ocsp_url_present{target=\"a\"} 0\n"), std::string::npos) << s;
  EXPECT_NE(s.find("ocsp_cert_crl_url_present{target=\"a\"} 1\n"), std::string::npos) << s;
  // No OCSP URL is a normal state: absent, not invalid, no failure.
  EXPECT_NE(s.find("ocsp_response_status{target=\"a\",status=\"absent\"} 1\n"),
            std::string::npos);
  EXPECT_NE(s.find("ocsp_probe_success{target=\"a\"} 1\n"), std::string::npos);
}

TEST(Collector, ProbeTrustGaugesForTlsTargets) {
  ProbeResult r = Verified(ResponseState::kGood);
  r.chain_verified = true;
  r.name_matched = false;
  std::string s = Series({Target("a", r)});
  EXPECT_NE(s.find("ocsp_tls_chain_verified{target=\"a\"} 1\n"), std::string::npos) << s;
  EXPECT_NE(s.find("ocsp_tls_name_matched{target=\"a\"} 0\n"), std::string::npos) << s;
  TargetSnapshot responder = Target("r", r);
  responder.info.Mut().kind = "responder";
  EXPECT_EQ(Series({responder}).find("ocsp_tls_"), std::string::npos);
}

TEST(Collector, GoodTargetHasEveryFigure) {
  std::string s = Series({Target("a", Verified(ResponseState::kGood))});
  for (const char* want : {
           "ocsp_probe_success{target=\"a\"} 1\n",
           "ocsp_probe_duration_seconds{target=\"a\"} 0.25\n",
           "ocsp_probe_timestamp_seconds{target=\"a\"} 1799999995\n",
           "ocsp_probe_failures_total{target=\"a\",reason=\"timeout\"} 0\n",
           "ocsp_response_status{target=\"a\",status=\"good\"} 1\n",
           "ocsp_response_status{target=\"a\",status=\"revoked\"} 0\n",
           "ocsp_response_status{target=\"a\",status=\"unknown\"} 0\n",
           "ocsp_response_status{target=\"a\",status=\"absent\"} 0\n",
           "ocsp_response_status{target=\"a\",status=\"invalid\"} 0\n",
           "ocsp_staple_present{target=\"a\"} 1\n",
           "ocsp_cert_must_staple{target=\"a\"} 1\n",
           "ocsp_cert_not_after_timestamp_seconds{target=\"a\"} 1800086400\n",
           "ocsp_response_this_update_timestamp_seconds{target=\"a\"} 1799996400\n",
           "ocsp_response_next_update_timestamp_seconds{target=\"a\"} 1800007200\n",
           "ocsp_response_produced_at_timestamp_seconds{target=\"a\"} 1799996400\n",
           "ocsp_response_next_update_margin_seconds{target=\"a\"} 7200\n",
       }) {
    EXPECT_NE(s.find(want), std::string::npos) << want << "\nin:\n" << s;
  }
  EXPECT_EQ(s.find("revocation_reason"), std::string::npos);
  EXPECT_EQ(s.find("revoked_at"), std::string::npos);
  EXPECT_EQ(s.find("invalid_reason"), std::string::npos);
}

TEST(Collector, MarginIsComputedAtScrapeTime) {
  auto t = Target("a", Verified(ResponseState::kGood));
  auto at = [&](int64_t now) {
    for (const auto& f : TargetFamilies({t}, now)) {
      if (f.name == "ocsp_response_next_update_margin_seconds") return f.metric[0].gauge.value;
    }
    return -1.0;
  };
  EXPECT_EQ(at(kNow), 7200);
  EXPECT_EQ(at(kNow + 7200), 0);
  EXPECT_EQ(at(kNow + 10000), -2800);
}

TEST(Collector, NoNextUpdateMeansNoSeriesButAMargin) {
  auto r = Verified(ResponseState::kGood);
  r.verdict.Mut().next_update.reset();
  r.verdict.Mut().valid_until = kNow + 100;
  std::string s = Series({Target("a", r)});
  EXPECT_EQ(s.find("ocsp_response_next_update_timestamp_seconds"), std::string::npos);
  EXPECT_NE(s.find("ocsp_response_next_update_margin_seconds{target=\"a\"} 100\n"),
            std::string::npos);
}

TEST(Collector, RevokedShowsTimeAndReason) {
  auto r = Verified(ResponseState::kRevoked);
  r.verdict.Mut().revoked_at = kNow - 60;
  r.verdict.Mut().revocation_reason = "ca_compromise";
  std::string s = Series({Target("a", r)});
  EXPECT_NE(s.find("ocsp_response_status{target=\"a\",status=\"revoked\"} 1\n"),
            std::string::npos);
  EXPECT_NE(s.find("ocsp_response_revoked_at_timestamp_seconds{target=\"a\"} 1799999940\n"),
            std::string::npos);
  EXPECT_NE(
      s.find("ocsp_response_revocation_reason{target=\"a\",reason=\"ca_compromise\"} 1\n"),
      std::string::npos);
}

TEST(Collector, InvalidWithoutVerifiedSignatureHidesTimes) {
  auto r = Verified(ResponseState::kInvalid);
  r.verdict.Mut().signature_verified = false;
  r.verdict.Mut().invalid_reason = "signature";
  std::string s = Series({Target("a", r)});
  EXPECT_NE(s.find("ocsp_response_status{target=\"a\",status=\"invalid\"} 1\n"),
            std::string::npos);
  EXPECT_NE(s.find("ocsp_response_invalid_reason{target=\"a\",reason=\"signature\"} 1\n"),
            std::string::npos);
  EXPECT_EQ(s.find("ocsp_response_status{target=\"a\",status=\"good\"} 1"), std::string::npos);
  EXPECT_EQ(s.find("timestamp_seconds{target=\"a\"} 1799996400"), std::string::npos);
  EXPECT_EQ(s.find("margin"), std::string::npos);
}

// Issue 21 point 7: a probe that did not complete reads "failed", not
// "absent" (a server that answers without a staple).
TEST(Collector, FailedProbeIsFailedWithoutHandshakeFacts) {
  ProbeResult r;
  r.success = false;
  r.failure_reason = "connect";
  r.verdict.Mut().state = ResponseState::kGood;  // must not leak through
  TargetSnapshot t = Target("down", r);
  t.failures["connect"] = 3;
  std::string s = Series({t});
  EXPECT_NE(s.find("ocsp_probe_success{target=\"down\"} 0\n"), std::string::npos);
  EXPECT_NE(s.find("ocsp_response_status{target=\"down\",status=\"failed\"} 1\n"),
            std::string::npos) << s;
  EXPECT_NE(s.find("ocsp_response_status{target=\"down\",status=\"absent\"} 0\n"),
            std::string::npos);
  EXPECT_NE(s.find("ocsp_response_status{target=\"down\",status=\"good\"} 0\n"),
            std::string::npos);
  EXPECT_NE(s.find("ocsp_probe_failures_total{target=\"down\",reason=\"connect\"} 3\n"),
            std::string::npos);
  EXPECT_EQ(s.find("ocsp_staple_present"), std::string::npos);
  EXPECT_EQ(s.find("ocsp_cert_must_staple"), std::string::npos);
}

TEST(Collector, PendingTargetsHaveNoSeriesAndLabelCanBeDropped) {
  EXPECT_EQ(Series({Target("pending", std::nullopt)}), "");
  std::string s = Series({Target("a", Verified(ResponseState::kGood))}, false);
  EXPECT_NE(s.find("ocsp_response_status{status=\"good\"} 1\n"), std::string::npos) << s;
  EXPECT_EQ(s.find("target="), std::string::npos);
}

TEST(Collector, ExporterFamilies) {
  ResultStore store;
  ExporterStatus status;
  status.last_reload_successful = true;
  status.last_reload_success_timestamp = 1234;
  Collector c(store, status, [] { return kNow; });
  std::string s = SerializeText(c.Collect());
  EXPECT_NE(s.find("ocsp_staple_exporter_build_info{version=\"" OSE_VERSION "\""),
            std::string::npos);
  EXPECT_NE(s.find("ocsp_staple_exporter_config_last_reload_successful 1\n"), std::string::npos);
  EXPECT_NE(s.find("ocsp_staple_exporter_config_last_reload_success_timestamp_seconds 1234\n"),
            std::string::npos);
  EXPECT_EQ(s.find("scheduling_lag"), std::string::npos) << "no scheduler, no series";

  // The scheduler's health: a cumulative lag histogram, in flight, skipped.
  SchedulerStats stats;
  stats.lag_buckets[0] = 3;  // <= 5 ms
  stats.lag_buckets[6] = 1;  // <= 1 s
  stats.lag_count = 5;       // one over 30 s
  stats.lag_sum = 42.5;
  stats.in_flight = 7;
  stats.skipped_busy = 2;
  status.scheduler = &stats;
  s = SerializeText(c.Collect());
  for (const char* line :
       {"ocsp_staple_exporter_scheduling_lag_seconds_bucket{le=\"0.005\"} 3\n",
        "ocsp_staple_exporter_scheduling_lag_seconds_bucket{le=\"0.5\"} 3\n",
        "ocsp_staple_exporter_scheduling_lag_seconds_bucket{le=\"1\"} 4\n",
        "ocsp_staple_exporter_scheduling_lag_seconds_bucket{le=\"30\"} 4\n",
        "ocsp_staple_exporter_scheduling_lag_seconds_bucket{le=\"+Inf\"} 5\n",
        "ocsp_staple_exporter_scheduling_lag_seconds_sum 42.5\n",
        "ocsp_staple_exporter_scheduling_lag_seconds_count 5\n",
        "ocsp_staple_exporter_probes_in_flight 7\n",
        "ocsp_staple_exporter_probes_skipped_total 2\n"}) {
    EXPECT_NE(s.find(line), std::string::npos) << line << s;
  }

  // The verification cache: entries, cap, hits and misses.
  EXPECT_EQ(s.find("verification_cache"), std::string::npos) << "none without a prober";
  status.verification_cache = [] { return std::array<uint64_t, 4>{900, 65536, 12000, 950}; };
  s = SerializeText(c.Collect());
  for (const char* line :
       {"ocsp_staple_exporter_verification_cache_entries 900\n",
        "ocsp_staple_exporter_verification_cache_capacity 65536\n",
        "ocsp_staple_exporter_verification_cache_lookups_total{result=\"hit\"} 12000\n",
        "ocsp_staple_exporter_verification_cache_lookups_total{result=\"miss\"} 950\n"}) {
    EXPECT_NE(s.find(line), std::string::npos) << line << s;
  }
}

}  // namespace
}  // namespace ose

namespace ose {
namespace {

// Issue 10: /metrics renders text straight from the targets; it must say
// exactly what the object path (/probe, Collectable) says, escapes included.
TEST(Collector, TextPathRendersExactlyWhatTheObjectPathDoes) {
  ResultStore store;
  store.SetTargets({{"good", "tls", "a:1"},
                    {"revoked \"quoted\"\\back\nline", "tls", "b:1"},
                    {"down", "tls", "c:1"},
                    {"resp", "responder", "http://r"},
                    {"never-probed", "tls", "d:1"},
                    {"mail", "tls", "m:25", {{"team", "pki \"on\\call\""}}}});
  store.Record("good", Verified(ResponseState::kGood));
  // STARTTLS: its two reasons join the TLS ones, each counted in order.
  ProbeResult refused;
  refused.starttls = StartTls::kSmtp;
  refused.failure_reason = "starttls_refused";
  store.Record("mail", refused);
  store.Record("mail", refused);
  refused.failure_reason = "connect";
  store.Record("mail", refused);
  ProbeResult revoked = Verified(ResponseState::kRevoked);
  revoked.verdict.Mut().revoked_at = kNow - 100;
  revoked.verdict.Mut().revocation_reason = "key_compromise";
  store.Record("revoked \"quoted\"\\back\nline", revoked);
  ProbeResult down;
  down.failure_reason = "timeout";
  store.Record("down", down);
  ProbeResult resp = Verified(ResponseState::kUnknown);
  resp.http = ProbeResult::Http{"http://r", "GET", 200, 0.042, 60};
  store.Record("resp", resp);
  store.Record("resp", resp);
  ExporterStatus status;
  SchedulerStats stats;
  stats.lag_count = 3;
  status.scheduler = &stats;
  status.crl_fetches = [] {
    return std::vector<CrlFetchCounts>{{"http://crl.test/ca.crl", 3, 2, 1}};
  };
  Collector c(store, status, [] { return kNow; });
  const std::string text = c.CollectText();
  EXPECT_EQ(text, SerializeText(c.Collect()));
  // What a gzip client gets is that text, compressed family by family.
  auto gz = c.CollectGzip();
  ASSERT_TRUE(gz.has_value());
  EXPECT_EQ(Gunzip(*gz), text);
  // Rendered in slices on threads of its own (here one target a slice,
  // so the slices declare different families, one none at all), the
  // answer is the same text.
  for (unsigned threads : {2u, 3u, 6u, 9u}) {
    c.SetRenderThreads(threads, 1);
    auto sliced = c.CollectGzip();
    ASSERT_TRUE(sliced.has_value()) << threads;
    EXPECT_EQ(Gunzip(*sliced), text) << threads << " threads";
  }
  EXPECT_NE(text.find("ocsp_crl_fetches_total{url=\"http://crl.test/ca.crl\",result=\"refused\"} 1\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("ocsp_crl_fetches_total{url=\"http://crl.test/ca.crl\",result=\"failed\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("target=\"revoked \\\"quoted\\\"\\\\back\\nline\""), std::string::npos)
      << text;
  EXPECT_NE(text.find("ocsp_responder_request_duration_seconds_bucket{target=\"resp\",le=\"0.05\"} 2\n"),
            std::string::npos);
  EXPECT_EQ(text.find("never-probed"), std::string::npos);
  // A TLS target carries only the failure reasons a handshake can have.
  EXPECT_NE(text.find("ocsp_probe_failures_total{target=\"down\",reason=\"timeout\"} 1\n"),
            std::string::npos);
  EXPECT_EQ(text.find("ocsp_probe_failures_total{target=\"down\",reason=\"http_status\"}"),
            std::string::npos);
  EXPECT_NE(text.find("ocsp_probe_failures_total{target=\"resp\",reason=\"http_status\"} 0\n"),
            std::string::npos);
  // A target's labels (discovery's, escaped) lead each of its series.
  const std::string mail = "ocsp_probe_failures_total{target=\"mail\",team=\"pki \\\"on\\\\call\\\"\",";
  size_t at = 0;
  for (const char* tail : {"reason=\"connect\"} 1\n", "reason=\"no_certificate\"} 0\n",
                           "reason=\"resolve\"} 0\n", "reason=\"starttls_protocol\"} 0\n",
                           "reason=\"starttls_refused\"} 2\n", "reason=\"timeout\"} 0\n",
                           "reason=\"tls_handshake\"} 0\n"}) {
    at = text.find(mail + tail, at);
    EXPECT_NE(at, std::string::npos) << mail + tail << " (in this order)\n" << text;
  }
  EXPECT_NE(text.find("ocsp_probe_success{target=\"mail\",team=\"pki \\\"on\\\\call\\\"\"} 0\n"),
            std::string::npos);
}

// GET /probe's text is the object path's families of that one result,
// without the target label and without the two scheduled-only families,
// byte for byte (good, revoked, failed, every address).
TEST(Collector, ProbeTextIsTheObjectPathWithoutScheduledFamilies) {
  ProbeResult revoked = Verified(ResponseState::kRevoked);
  revoked.verdict.Mut().revoked_at = kNow - 100;
  revoked.verdict.Mut().revocation_reason = "key_compromise";
  ProbeResult down;
  down.failure_reason = "timeout";
  ProbeResult all = Verified(ResponseState::kGood);
  all.every_address = true;
  all.extras_mut().per_address = {Verified(ResponseState::kGood), down};
  all.extras_mut().per_address[0].address = "127.0.0.1:443";
  all.extras_mut().per_address[1].address = "[::1]:443";
  for (const ProbeResult& r : {Verified(ResponseState::kGood), revoked, down, all}) {
    std::vector<prometheus::MetricFamily> families;
    for (auto& f : TargetFamilies({Target("x", r)}, kNow, /*target_label=*/false)) {
      if (f.name != "ocsp_probe_failures_total" && f.name != "ocsp_probe_timestamp_seconds") {
        families.push_back(std::move(f));
      }
    }
    const std::string text = ProbeText("x", r, kNow);
    EXPECT_EQ(text, SerializeText(families));
    EXPECT_NE(text.find("ocsp_probe_success "), std::string::npos) << text;
    EXPECT_EQ(text.find("ocsp_probe_failures_total"), std::string::npos) << text;
    EXPECT_EQ(text.find("ocsp_probe_timestamp_seconds"), std::string::npos) << text;
    EXPECT_EQ(text.find("target=\""), std::string::npos) << text;
  }
}

// revocation_scope = "chain": one position per certificate above the
// leaf, a revoked one with its time, each with its notAfter and identity;
// both render paths agree; a failed probe shows no chain.
TEST(Collector, ChainPositions) {
  ProbeResult r = Verified(ResponseState::kGood);
  r.extras_mut().chain.push_back({.position = 1,
                                  .subject = "CN=Issuing CA",
                                  .issuer = "CN=Root",
                                  .serial = "4096",
                                  .not_after = kNow + 86400,
                                  .state = LeafCrlState::kRevoked,
                                  .revoked_at = kNow - 600,
                                  .reason = "ca_compromise",
                                  .source = "crl"});
  r.extras_mut().chain.push_back({.position = 2,
                                  .subject = "CN=Cross",
                                  .issuer = "CN=Old \"Root\"",
                                  .serial = "7",
                                  .not_after = kNow + 3600});
  const std::string s = Series({Target("www", r)});
  EXPECT_NE(s.find("ocsp_chain_cert_revocation_status{target=\"www\",position=\"1\","
                   "status=\"revoked\"} 1\n"), std::string::npos) << s;
  EXPECT_NE(s.find("ocsp_chain_cert_revocation_status{target=\"www\",position=\"1\","
                   "status=\"good\"} 0\n"), std::string::npos);
  EXPECT_NE(s.find("ocsp_chain_cert_revocation_status{target=\"www\",position=\"2\","
                   "status=\"unavailable\"} 1\n"), std::string::npos);
  EXPECT_NE(s.find("ocsp_chain_cert_revoked_at_timestamp_seconds{target=\"www\",position=\"1\"} "
                   "1799999400\n"), std::string::npos);
  EXPECT_EQ(s.find("ocsp_chain_cert_revoked_at_timestamp_seconds{target=\"www\",position=\"2\"}"),
            std::string::npos);
  EXPECT_NE(s.find("ocsp_chain_cert_not_after_timestamp_seconds{target=\"www\",position=\"2\"} "
                   "1800003600\n"), std::string::npos);
  EXPECT_NE(s.find("ocsp_chain_cert_info{target=\"www\",position=\"2\",subject=\"CN=Cross\","
                   "issuer=\"CN=Old \\\"Root\\\"\",serial=\"7\"} 1\n"), std::string::npos) << s;
  ResultStore store;
  store.SetTargets({{"www", "tls", "a:1"}});
  store.Record("www", r);
  ExporterStatus status;
  Collector c(store, status, [] { return kNow; });
  EXPECT_EQ(c.CollectText(), SerializeText(c.Collect()));
  ProbeResult failed = r;
  failed.success = false;
  failed.failure_reason = "timeout";
  EXPECT_EQ(Series({Target("www", failed)}).find("ocsp_chain_cert"), std::string::npos);
  EXPECT_EQ(Series({Target("www", Verified(ResponseState::kGood))}).find("ocsp_chain_cert"),
            std::string::npos) << "scope leaf: no chain series";
}

// Issue 11: a [[crl]] target's figures, its state read at scrape time, and
// nothing of a staple.
TEST(Collector, CrlTargetFamilies) {
  TargetSnapshot t;
  t.info = TargetInfo{.name = "ca", .kind = "crl"};
  ProbeResult r;
  r.success = true;
  r.finished_at = kNow - 5;
  r.crl = ProbeResult::Crl{};
  CrlVerdict& v = r.crl->verdict;
  v.state = CrlState::kValid;
  v.signature_verified = true;
  v.this_update = kNow - 3600;
  v.next_update = kNow + 600;
  v.fresh_until = kNow + 600 + 300;
  v.crl_number = "42";
  v.revoked_certificates = 3;
  r.crl->size_bytes = 1234;
  r.crl->fetch_seconds = 0.5;
  t.last = std::make_shared<const ProbeResult>(r);
  std::string text = SerializeText(TargetFamilies({t}, kNow));
  for (const char* line : {"ocsp_crl_status{target=\"ca\",status=\"valid\"} 1\n",
                           "ocsp_crl_status{target=\"ca\",status=\"expired\"} 0\n",
                           "ocsp_crl_next_update_margin_seconds{target=\"ca\"} 600\n",
                           "ocsp_crl_this_update_timestamp_seconds{target=\"ca\"} 1799996400\n",
                           "ocsp_crl_number{target=\"ca\"} 42\n",
                           "ocsp_crl_revoked_certificates{target=\"ca\"} 3\n",
                           "ocsp_crl_size_bytes{target=\"ca\"} 1234\n",
                           "ocsp_crl_fetch_duration_seconds{target=\"ca\"} 0.5\n",
                           "ocsp_probe_success{target=\"ca\"} 1\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << text;
  }
  EXPECT_EQ(text.find("ocsp_response_status"), std::string::npos) << "a CRL is not a staple";
  // Past nextUpdate + skew at scrape time: expired, margin negative.
  text = SerializeText(TargetFamilies({t}, kNow + 901));
  EXPECT_NE(text.find("ocsp_crl_status{target=\"ca\",status=\"expired\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("ocsp_crl_next_update_margin_seconds{target=\"ca\"} -301\n"),
            std::string::npos);
  // Invalid: the reason, and no unauthenticated times.
  v = CrlVerdict{};
  v.state = CrlState::kInvalid;
  v.invalid_reason = "signature";
  t.last = std::make_shared<const ProbeResult>(r);
  text = SerializeText(TargetFamilies({t}, kNow));
  EXPECT_NE(text.find("ocsp_crl_invalid_reason{target=\"ca\",reason=\"signature\"} 1\n"),
            std::string::npos);
  EXPECT_EQ(text.find("ocsp_crl_this_update"), std::string::npos);
  // A failed fetch: absent, never valid.
  r = ProbeResult{};
  r.failure_reason = "connect";
  t.last = std::make_shared<const ProbeResult>(r);
  text = SerializeText(TargetFamilies({t}, kNow));
  EXPECT_NE(text.find("ocsp_crl_status{target=\"ca\",status=\"absent\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("ocsp_crl_status{target=\"ca\",status=\"valid\"} 0\n"),
            std::string::npos);
}

TEST(Collector, StaplerFamiliesAndJson) {
  StaplerCertState c;
  c.name = "api";
  c.mode = StaplerMode::kMust;
  c.held.state = ResponseState::kRevoked;
  c.held.signature_verified = true;
  c.held.next_update = kNow + 3600;
  c.held.revocation_reason = "key_compromise";
  c.serving = true;
  c.fatal = true;
  c.publish_failing = true;
  c.next_refresh = kNow + 60;
  c.refresh_total = {{"good", 3}, {"revoked", 1}, {"failed", 0}};
  std::string s = SerializeText(StaplerFamilies({c}, kNow));
  for (const char* want : {
           "ocsp_stapler_mode{certificate=\"api\",mode=\"must\"} 1\n",
           "ocsp_stapler_mode{certificate=\"api\",mode=\"auto\"} 0\n",
           "ocsp_stapler_status{certificate=\"api\",status=\"revoked\"} 1\n",
           "ocsp_stapler_status{certificate=\"api\",status=\"good\"} 0\n",
           "ocsp_stapler_next_update_timestamp_seconds{certificate=\"api\"} 1800003600\n",
           "ocsp_stapler_next_refresh_timestamp_seconds{certificate=\"api\"} 1800000060\n",
           "ocsp_stapler_refresh_total{certificate=\"api\",result=\"good\"} 3\n",
           "ocsp_stapler_refresh_total{certificate=\"api\",result=\"revoked\"} 1\n",
           "ocsp_stapler_serving{certificate=\"api\"} 1\n",
           "ocsp_stapler_fatal{certificate=\"api\"} 1\n",
           "ocsp_stapler_publish_failing{certificate=\"api\"} 1\n",
           "ocsp_stapler_status{certificate=\"api\",status=\"failed\"} 0\n",
       }) {
    EXPECT_NE(s.find(want), std::string::npos) << want << "\nin:\n" << s;
  }
  // An unverified held response shows no nextUpdate.
  c.held.signature_verified = false;
  EXPECT_EQ(SerializeText(StaplerFamilies({c}, kNow)).find("next_update_timestamp"), std::string::npos);
}

// addresses = "all": every address's series carry `address`; the summary
// counts addresses per state; counters and the timestamp stay per target.
TEST(Collector, EveryAddressHasItsOwnSeries) {
  ProbeResult v4 = Verified(ResponseState::kGood);
  v4.address = "127.0.0.2:443";
  ProbeResult v6 = Reached(ResponseState::kAbsent);
  v6.address = "[::1]:443";
  ProbeResult down;
  down.failure_reason = "connect";
  down.address = "127.0.0.3:443";
  ProbeResult summary;
  summary.every_address = true;
  summary.finished_at = kNow - 5;
  summary.extras_mut().per_address = {v4, v6, down};
  // One address failed, so the summary did; the leaves of the others were
  // still looked up in their CRL (issue 20 point 5).
  summary.success = false;
  summary.leaf_crl = LeafCrlStatus{.state = LeafCrlState::kRevoked, .revoked_at = kNow - 60,
                                   .reason = "key_compromise"};
  std::string s = Series({Target("fleet", summary)});
  for (const char* want : {
           "ocsp_response_status{target=\"fleet\",address=\"127.0.0.2:443\",status=\"good\"} 1\n",
           "ocsp_response_status{target=\"fleet\",address=\"[::1]:443\",status=\"absent\"} 1\n",
           "ocsp_staple_present{target=\"fleet\",address=\"[::1]:443\"} 0\n",
           "ocsp_staple_present{target=\"fleet\",address=\"127.0.0.2:443\"} 1\n",
           "ocsp_probe_success{target=\"fleet\",address=\"127.0.0.3:443\"} 0\n",
           "ocsp_target_addresses{target=\"fleet\",state=\"good\"} 1\n",
           "ocsp_target_addresses{target=\"fleet\",state=\"absent\"} 1\n",
           "ocsp_target_addresses{target=\"fleet\",state=\"failed\"} 1\n",
           "ocsp_target_addresses{target=\"fleet\",state=\"revoked\"} 0\n",
           "ocsp_probe_timestamp_seconds{target=\"fleet\"} 1799999995\n",
           "ocsp_probe_failures_total{target=\"fleet\",reason=\"connect\"} 0\n",
           "ocsp_cert_crl_status{target=\"fleet\",status=\"revoked\"} 1\n",
       }) {
    EXPECT_NE(s.find(want), std::string::npos) << want << "\nin:\n" << s;
  }
  EXPECT_EQ(s.find("ocsp_probe_success{target=\"fleet\"}"), std::string::npos) << s;

  // Resolution failed: no address to label, the target's own series.
  ProbeResult unresolved;
  unresolved.every_address = true;
  unresolved.failure_reason = "resolve";
  s = Series({Target("gone", unresolved)});
  EXPECT_NE(s.find("ocsp_probe_success{target=\"gone\"} 0\n"), std::string::npos) << s;
  EXPECT_NE(s.find("ocsp_target_addresses{target=\"gone\",state=\"good\"} 0\n"),
            std::string::npos);
}

TEST(Collector, HandshakeCountsAlwaysAndStapledOnlyWhenSeveralWereAsked) {
  ProbeResult r = Verified(ResponseState::kAbsent);
  r.extras_mut().handshakes = ProbeResult::Handshakes{.requested = 4, .completed = 4, .stapled = 3};
  std::string s = Series({Target("lb", r)});
  EXPECT_NE(s.find("ocsp_probe_handshakes{target=\"lb\"} 4\n"), std::string::npos) << s;
  EXPECT_NE(s.find("ocsp_staple_present_handshakes{target=\"lb\"} 3\n"), std::string::npos);
  // Issue 21 point 7: one handshake is 1 (0 when it failed), always there.
  s = Series({Target("one", Verified(ResponseState::kGood))});
  EXPECT_NE(s.find("ocsp_probe_handshakes{target=\"one\"} 1\n"), std::string::npos) << s;
  EXPECT_EQ(s.find("ocsp_staple_present_handshakes"), std::string::npos);
  ProbeResult down;
  down.failure_reason = "connect";
  s = Series({Target("down", down)});
  EXPECT_NE(s.find("ocsp_probe_handshakes{target=\"down\"} 0\n"), std::string::npos) << s;
}


// Issue 21 point 8: which certificate, the delegated responder's notAfter,
// the responder URL that answered, and the interval a target is probed at.
TEST(Collector, CertificateInfoSignerResponderAndInterval) {
  ProbeResult r = Verified(ResponseState::kGood);
  r.subject = "CN=www.example.net";
  r.identity = CertIdentity{
      .serial = "4099", .issuer = std::string("CN=Example CA"), .sha256_fingerprint = "ab01"};
  r.verdict.Mut().delegated_signer = true;
  r.verdict.Mut().signer_not_after = kNow + 5 * 86400;
  r.http = ProbeResult::Http{"http://ocsp.example.net/", "GET", 200, 0.01, std::nullopt};
  TargetSnapshot t = Target("www", r);
  t.info.Mut().kind = "responder";
  t.info.Mut().interval_seconds = 30;
  std::string s = Series({t});
  for (const char* want : {
           "ocsp_cert_info{target=\"www\",serial=\"4099\",issuer=\"CN=Example CA\","
           "subject=\"CN=www.example.net\",sha256_fingerprint=\"ab01\"} 1\n",
           "ocsp_response_signer_not_after_timestamp_seconds{target=\"www\"} 1800432000\n",
           "ocsp_responder_info{target=\"www\",url=\"http://ocsp.example.net/\"} 1\n",
           "ocsp_probe_interval_seconds{target=\"www\"} 30\n",
       }) {
    EXPECT_NE(s.find(want), std::string::npos) << want << "\nin:\n" << s;
  }
  // Signed by the issuer itself: no signer series.
  ProbeResult own = Verified(ResponseState::kGood);
  EXPECT_EQ(Series({Target("own", own)}).find("signer_not_after"), std::string::npos);
}

}  // namespace
}  // namespace ose
