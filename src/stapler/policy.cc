#include "ocsp_staple_exporter/stapler/policy.h"

#include <algorithm>

namespace ose {

std::string_view ModeName(StaplerMode m) { return kStaplerModeNames[static_cast<int>(m)]; }

bool ModeStaples(StaplerMode mode, bool must_staple) {
  return mode == StaplerMode::kAlways ||
         ((mode == StaplerMode::kAuto || mode == StaplerMode::kMust) && must_staple);
}

bool Servable(const HeldStaple& held, int64_t now) {
  bool usable = held.state == ResponseState::kGood || held.state == ResponseState::kRevoked;
  return usable && held.valid_until && now < *held.valid_until - kWithdrawBeforeSeconds;
}

StapleDecision Decide(StaplerMode mode, bool must_staple, const HeldStaple& held, int64_t now,
                      bool attempted) {
  StapleDecision d;
  d.staple = ModeStaples(mode, must_staple);
  d.warn = mode == StaplerMode::kNever && must_staple;
  d.serve = d.staple && Servable(held, now) &&
            !(held.crl_revoked && held.state == ResponseState::kGood);
  bool fail_closed = mode == StaplerMode::kMust || mode == StaplerMode::kAlways;
  d.fatal = fail_closed && d.staple && attempted &&
            (held.state == ResponseState::kRevoked || held.crl_revoked || !d.serve);
  return d;
}

ReplaceVerdict MayReplace(const OcspVerdict& held, int64_t newest_this_update,
                          const OcspVerdict& incoming) {
  int64_t incoming_tu = incoming.this_update.value_or(0);
  bool incoming_revoked = incoming.state == ResponseState::kRevoked;
  bool incoming_hold = incoming.revocation_reason == "certificate_hold";
  if (held.state == ResponseState::kRevoked) {
    int64_t held_tu = held.this_update.value_or(0);
    if (incoming_revoked) {
      return incoming_tu >= held_tu ? ReplaceVerdict::kAccept : ReplaceVerdict::kOlder;
    }
    if (held.revocation_reason == "certificate_hold" && incoming_tu > held_tu) {
      return ReplaceVerdict::kAccept;
    }
    return ReplaceVerdict::kAfterRevocation;
  }
  if (incoming_revoked && !incoming_hold) return ReplaceVerdict::kAccept;
  if (incoming_tu < newest_this_update) return ReplaceVerdict::kOlder;
  return ReplaceVerdict::kAccept;
}

int64_t NextRefresh(const RefreshPolicy& p, int64_t now, int64_t this_update, int64_t valid_until,
                    std::optional<int64_t> signer_not_after, std::optional<int64_t> leaf_not_after,
                    std::optional<int64_t> max_age, double jitter01) {
  int64_t end = valid_until;
  if (signer_not_after) end = std::min(end, *signer_not_after);
  if (leaf_not_after) end = std::min(end, *leaf_not_after);
  int64_t midpoint = this_update + (end - this_update) / 2;
  int64_t delay = std::clamp(midpoint - now, p.min_refresh, p.max_refresh);
  double factor = 1.0 + p.jitter * (2.0 * jitter01 - 1.0);
  int64_t next = now + static_cast<int64_t>(static_cast<double>(delay) * factor);
  if (max_age && *max_age > 0) {
    int64_t deferred = now + std::min(*max_age, kMaxAgeCapSeconds);
    int64_t latest = valid_until - kWithdrawBeforeSeconds - p.backoff_base;
    next = std::max(next, std::min(deferred, latest));
  }
  return next;
}

int64_t RetryAfterFailure(const RefreshPolicy& p, int64_t now, int failures) {
  int64_t delay = p.backoff_base;
  for (int i = 1; i < failures && delay < p.backoff_cap; ++i) delay *= 2;
  return now + std::min(delay, p.backoff_cap);
}

}  // namespace ose
