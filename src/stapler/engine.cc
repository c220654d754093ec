#include "ocsp_staple_exporter/stapler/engine.h"

#include "ocsp_staple_exporter/ocsp/certificate.h"

namespace ose {

StaplerMode ParseStaplerMode(std::string_view s) {
  for (size_t i = 0; i < std::size(kStaplerModeNames); ++i) {
    if (kStaplerModeNames[i] == s) return static_cast<StaplerMode>(i);
  }
  return StaplerMode::kAuto;
}

StaplerCore::StaplerCore(const StaplerCertificate& cfg, RefreshPolicy refresh,
                         VerifyOptions verify, StaplerEffects effects,
                         std::function<double()> jitter)
    : cfg_(cfg),
      refresh_(refresh),
      verify_(verify),
      effects_(std::move(effects)),
      jitter_(std::move(jitter)) {
  state_.name = cfg_.name;
  state_.mode = ParseStaplerMode(cfg_.mode);
  state_.must_staple = cfg_.cert->must_staple;
  state_.key = CertKey(cfg_.cert->cert.get());
  for (auto r : kRefreshResults) state_.refresh_total[std::string(r)] = 0;
  state_.warn = state_.mode == StaplerMode::kNever && state_.must_staple;
}

std::string StaplerCore::LoadCache(const Result<StoreEntry>& entry, int64_t now) {
  if (!entry) return entry.error().reason == "missing" ? "" : entry.error().detail;
  OcspVerdict v = VerifyOcspResponse(entry->der, cfg_.cert->cert.get(), cfg_.cert->issuer.get(),
                                     verify_, now);
  if (v.state != ResponseState::kGood && v.state != ResponseState::kRevoked) {
    return "cache entry is " + std::string(StateName(v.state)) +
           (v.invalid_reason.empty() ? "" : " (" + v.invalid_reason + ": " + v.detail + ")");
  }
  state_.attempted = true;
  Hold(v, entry->der, "cache", now, std::nullopt);
  state_.last_update = entry->fetched_at;
  Evaluate(now);
  return "";
}

bool StaplerCore::FetchDue(int64_t now) const {
  return ModeStaples(state_.mode, state_.must_staple) && now >= state_.next_refresh;
}

void StaplerCore::Hold(const OcspVerdict& v, std::vector<uint8_t> der, const std::string& source,
                       int64_t now, std::optional<int64_t> max_age) {
  state_.held = v;
  state_.held_source = source;
  der_ = std::move(der);
  state_.next_refresh = NextRefresh(refresh_, now, v.this_update.value_or(now),
                                    v.valid_until.value_or(now), v.signer_not_after,
                                    NotAfterUnix(cfg_.cert->cert.get()), max_age, jitter_());
}

void StaplerCore::OnFetched(const ProbeResult& r, int64_t now) {
  state_.attempted = true;
  state_.last_update = now;
  std::string result = !r.success ? "failed" : std::string(StateName(r.verdict.state));
  ++state_.refresh_total[result];
  std::optional<int64_t> max_age = r.http ? r.http->max_age : std::nullopt;
  const std::string url = r.http ? r.http->url : "";
  bool usable = r.success && r.der &&
                (r.verdict.state == ResponseState::kGood ||
                 r.verdict.state == ResponseState::kRevoked);
  if (usable) {
    // A verified answer, good or revoked, replaces what is held at once: a
    // revocation is never hidden behind an older good staple.
    ++state_.successes;
    state_.failures_in_row = 0;
    state_.last_error.clear();
    Hold(r.verdict, *r.der, url, now, max_age);
    if (effects_.persist) {
      StoreEntry e;
      e.der = der_;
      e.certificate = cfg_.name;
      e.status = std::string(StateName(r.verdict.state));
      e.url = url;
      e.fetched_at = now;
      e.this_update = r.verdict.this_update;
      e.next_update = r.verdict.next_update;
      e.produced_at = r.verdict.produced_at;
      effects_.persist(state_, e);
    }
  } else {
    // Errors, invalid and unknown answers never overwrite a good staple.
    ++state_.failures;
    ++state_.failures_in_row;
    state_.last_error = !r.success ? r.failure_reason + ": " + r.detail
                        : r.verdict.state == ResponseState::kUnknown
                            ? "responder answered unknown"
                            : "invalid response (" + r.verdict.invalid_reason +
                                  "): " + r.verdict.detail;
    bool holding = state_.held.state == ResponseState::kGood ||
                   state_.held.state == ResponseState::kRevoked;
    if (!holding) {
      // Nothing usable held: show what the responder said.
      state_.held = r.success ? r.verdict : OcspVerdict{};
      state_.held_source = url;
      der_.clear();
    }
    state_.next_refresh = RetryAfterFailure(refresh_, now, state_.failures_in_row);
    if (max_age && *max_age > 0) state_.next_refresh = std::max(state_.next_refresh, now + *max_age);
  }
  Evaluate(now);
}

void StaplerCore::Evaluate(int64_t now) {
  // A held response past its validity is no longer a good one.
  if ((state_.held.state == ResponseState::kGood || state_.held.state == ResponseState::kRevoked) &&
      state_.held.valid_until && now > *state_.held.valid_until + verify_.skew_seconds) {
    state_.held.state = ResponseState::kInvalid;
    state_.held.invalid_reason = std::string(invalid_reason::kExpired);
    state_.held.detail = "the held response expired";
  }
  HeldStaple held{state_.held.state, state_.held.valid_until};
  StapleDecision d = Decide(state_.mode, state_.must_staple, held, now, state_.attempted);
  state_.warn = d.warn;
  if (d.serve && (!state_.serving || published_der_ != der_)) {
    state_.serving = true;
    published_der_ = der_;
    if (effects_.publish) effects_.publish(state_, published_der_);
  } else if (!d.serve && state_.serving) {
    state_.serving = false;
    published_der_.clear();
    if (effects_.withdraw) effects_.withdraw(state_);
  }
  if (d.fatal != state_.fatal) {
    state_.fatal = d.fatal;
    if (effects_.fatal) effects_.fatal(state_, d.fatal);
  }
  if (!d.staple) state_.next_refresh = 0;
}

int64_t StaplerCore::NextWake(int64_t now) const {
  int64_t wake = now + refresh_.max_refresh;
  if (ModeStaples(state_.mode, state_.must_staple)) {
    wake = std::min(wake, std::max(state_.next_refresh, now));
  }
  if (state_.held.valid_until) {
    int64_t withdraw_at = *state_.held.valid_until - kWithdrawBeforeSeconds;
    if (withdraw_at > now) wake = std::min(wake, withdraw_at);
    int64_t expire_at = *state_.held.valid_until + verify_.skew_seconds + 1;
    if (expire_at > now) wake = std::min(wake, expire_at);
  }
  return wake;
}

}  // namespace ose
