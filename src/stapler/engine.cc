#include "ocsp_staple_exporter/stapler/engine.h"

#include <algorithm>

#include "ocsp_staple_exporter/common/clock.h"
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
  state_.ocsp_url_present = !cfg_.cert->ocsp_urls.empty();
  state_.crl_url_present = !cfg_.cert->crl_urls.empty();
  state_.no_ocsp_url = cfg_.urls.empty();
  state_.key = CertKey(cfg_.cert->cert.get());
  for (auto r : kRefreshResults) state_.refresh_total[std::string(r)] = 0;
  state_.warn = state_.mode == StaplerMode::kNever && state_.must_staple;
}

namespace {

bool Usable(ResponseState s) { return s == ResponseState::kGood || s == ResponseState::kRevoked; }

}  // namespace

std::string StaplerCore::Refusal(const OcspVerdict& v) const {
  switch (MayReplace(state_.held, state_.newest_this_update, v)) {
    case ReplaceVerdict::kAccept:
      return "";
    case ReplaceVerdict::kOlder:
      return "answer's thisUpdate " + FormatUnixTimeOrNone(v.this_update) +
             " is older than the newest held one (" + FormatUnixTimeOrNone(state_.newest_this_update) +
             "): replayed or served from a stale cache";
    case ReplaceVerdict::kAfterRevocation:
      return std::string(StateName(v.state)) + " answer after a revocation (" +
             state_.held.revocation_reason.value_or("unspecified") +
             "): revocation is permanent";
  }
  return "refused";
}

std::string StaplerCore::LoadCache(const Result<StoreEntry>& entry, int64_t now) {
  if (!entry) return entry.error().reason == "missing" ? "" : entry.error().detail;
  OcspVerdict v = VerifyOcspResponse(entry->der, cfg_.cert->cert.get(), cfg_.cert->issuer.get(),
                                     verify_, now);
  if (!Usable(v.state)) {
    return "cache entry is " + std::string(StateName(v.state)) +
           (v.invalid_reason.empty() ? "" : " (" + v.invalid_reason + ": " + v.detail + ")");
  }
  if (std::string why = Refusal(v); !why.empty()) return "cache entry refused: " + why;
  state_.attempted = true;
  Hold(v, entry->der, "cache", now, std::nullopt);
  state_.last_update = entry->fetched_at;
  Evaluate(now);
  return "";
}

std::string StaplerCore::Offer(std::span<const uint8_t> der, const std::string& source,
                               int64_t now) {
  OcspVerdict v = VerifyOcspResponse(der, cfg_.cert->cert.get(), cfg_.cert->issuer.get(),
                                     verify_, now);
  if (!Usable(v.state)) {
    return std::string(StateName(v.state)) +
           (v.invalid_reason.empty() ? "" : " (" + v.invalid_reason + ": " + v.detail + ")");
  }
  if (std::string why = Refusal(v); !why.empty()) return why;
  if (der_.size() == der.size() && std::equal(der.begin(), der.end(), der_.begin())) {
    return "";  // already held
  }
  state_.attempted = true;
  Hold(v, std::vector<uint8_t>(der.begin(), der.end()), source, now, std::nullopt);
  state_.last_update = now;
  Persist(source, now);
  Evaluate(now);
  return "";
}

void StaplerCore::Reconfigure(RefreshPolicy refresh, VerifyOptions verify, int64_t now) {
  OcspVerdict& h = state_.held;
  if (h.signature_verified && h.this_update && !h.next_update) {
    h.valid_until = SaturatingAdd(*h.this_update, verify.default_validity_seconds);
  }
  if (h.fresh_until && h.valid_until) {
    h.fresh_until = SaturatingAdd(*h.valid_until, verify.skew_seconds);
  }
  if (h.signer_fresh_until && h.signer_not_after) {
    h.signer_fresh_until = SaturatingAdd(*h.signer_not_after, verify.skew_seconds);
  }
  refresh_ = refresh;
  verify_ = verify;
  if (state_.next_refresh > now + refresh_.max_refresh) {
    state_.next_refresh = now + refresh_.max_refresh;
  }
  Evaluate(now);
}

bool StaplerCore::FetchDue(int64_t now) const {
  return ModeStaples(state_.mode, state_.must_staple) && !state_.no_ocsp_url &&
         now >= state_.next_refresh;
}

void StaplerCore::Hold(const OcspVerdict& v, std::vector<uint8_t> der, const std::string& source,
                       int64_t now, std::optional<int64_t> max_age) {
  state_.held = v;
  state_.held_source = source;
  der_ = std::move(der);
  state_.newest_this_update = std::max(state_.newest_this_update, v.this_update.value_or(0));
  state_.next_refresh = NextRefresh(refresh_, now, v.this_update.value_or(now),
                                    v.valid_until.value_or(now), v.signer_not_after,
                                    NotAfterUnix(cfg_.cert->cert.get()), max_age, jitter_());
}

void StaplerCore::Persist(const std::string& url, int64_t fetched_at) {
  if (!effects_.persist) return;
  StoreEntry e;
  e.der = der_;
  e.certificate = cfg_.name;
  e.status = std::string(StateName(state_.held.state));
  e.url = url;
  e.fetched_at = fetched_at;
  e.this_update = state_.held.this_update;
  e.next_update = state_.held.next_update;
  e.produced_at = state_.held.produced_at;
  effects_.persist(state_, e);
}

void StaplerCore::OnFetched(const ProbeResult& r, int64_t now) {
  state_.attempted = true;
  state_.last_update = now;
  if (r.leaf_crl) state_.crl = *r.leaf_crl;
  const std::string url = r.http ? r.http->url : "";
  bool usable = r.success && r.extras().der && Usable(r.verdict->state);
  std::string refusal = usable ? Refusal(r.verdict) : "";
  // An authentic answer older than the one held (a CDN edge's cache): not
  // a failure; counted as "stale" and asked again on the normal schedule.
  const bool older = usable && MayReplace(state_.held, state_.newest_this_update, r.verdict) ==
                                   ReplaceVerdict::kOlder;
  std::string result = !r.success         ? "failed"
                       : !refusal.empty() ? "stale"
                                          : std::string(StateName(r.verdict->state));
  ++state_.refresh_total[result];
  if (usable && refusal.empty()) {
    // A verified answer, good or revoked, replaces what is held at once: a
    // revocation is never hidden behind an older good staple. A responder's
    // max-age is honoured only here, on a verified 200 answer.
    ++state_.successes;
    state_.failures_in_row = 0;
    state_.last_error.clear();
    Hold(r.verdict, *r.extras().der, url, now, r.http ? r.http->max_age : std::nullopt);
    Persist(url, now);
  } else if (older && Usable(state_.held.state)) {
    state_.last_refusal = "refused " + refusal;
    state_.next_refresh = NextRefresh(refresh_, now, state_.held.this_update.value_or(now),
                                      state_.held.valid_until.value_or(now),
                                      state_.held.signer_not_after,
                                      NotAfterUnix(cfg_.cert->cert.get()), std::nullopt, jitter_());
  } else {
    // Errors, invalid, unknown and refused answers never overwrite a held
    // staple, and their max-age is ignored.
    ++state_.failures;
    ++state_.failures_in_row;
    state_.last_error =
        !r.success         ? r.failure_reason + ": " + r.detail
        : !refusal.empty() ? "refused " + refusal
        : r.verdict->state == ResponseState::kUnknown
            ? "responder answered unknown"
            : "invalid response (" + r.verdict->invalid_reason + "): " + r.verdict->detail;
    bool holding = Usable(state_.held.state);
    if (!holding && refusal.empty()) {
      // Nothing usable held: show what the responder said.
      state_.held = r.success ? *r.verdict : OcspVerdict{};
      state_.held_source = url;
      der_.clear();
    }
    state_.next_refresh = RetryAfterFailure(refresh_, now, state_.failures_in_row);
  }
  Evaluate(now);
}

void StaplerCore::Evaluate(int64_t now) {
  // A held response past its validity is no longer a good one. A
  // revocation stays (it is permanent), but is no longer fit to staple;
  // certificateHold is temporary and expires like a good answer.
  state_.held = VerdictAt(std::move(state_.held), now);
  HeldStaple held{state_.held.state, ServableUntil(),
                  state_.crl && state_.crl->state == LeafCrlState::kRevoked};
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
  if (std::optional<int64_t> until = ServableUntil()) {
    int64_t withdraw_at = *until - kWithdrawBeforeSeconds;
    if (withdraw_at > now) wake = std::min(wake, withdraw_at);
    int64_t expire_at = SaturatingAdd(*until, verify_.skew_seconds + 1);
    if (expire_at > now) wake = std::min(wake, expire_at);
  }
  return wake;
}

std::optional<int64_t> StaplerCore::ServableUntil() const {
  std::optional<int64_t> until = state_.held.valid_until;
  // A staple signed by a delegated responder is no better than that
  // responder's certificate (RFC 6960 §4.2.2.2): withdrawn before it expires.
  if (state_.held.delegated_signer && state_.held.signer_not_after &&
      (!until || *state_.held.signer_not_after < *until)) {
    until = state_.held.signer_not_after;
  }
  return until;
}

}  // namespace ose
