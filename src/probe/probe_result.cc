#include "ocsp_staple_exporter/probe/probe_result.h"

#include <algorithm>

namespace ose {

const ProbeResult::Extras& ProbeResult::extras() const {
  static const Extras none;
  return extras_ ? *extras_ : none;
}

std::string StateLabel(const ProbeResult& r) {
  if (!r.success) return "failed:" + r.failure_reason;
  if (r.crl) {
    const CrlVerdict& v = r.crl->verdict;
    if (v.state == CrlState::kInvalid) return "crl_invalid:" + v.invalid_reason;
    return "crl_" + std::string(CrlStateName(v.state));
  }
  if (r.ocsp_skipped) {
    return "crl_" + std::string(kLeafCrlStateNames[static_cast<int>(
                        r.leaf_crl ? r.leaf_crl->state : LeafCrlState::kUnavailable)]);
  }
  std::string out = r.verdict->state == ResponseState::kInvalid
                        ? "invalid:" + r.verdict->invalid_reason
                        : std::string(StateName(r.verdict->state));
  if (r.leaf_crl && r.leaf_crl->state != LeafCrlState::kGood) {
    out += "+crl_" + std::string(kLeafCrlStateNames[static_cast<int>(r.leaf_crl->state)]);
  }
  return out;
}

std::optional<int64_t> MaxAgeDeferral(const ProbeResult& r) {
  if (!r.success || !r.http || r.http->status != 200 || !r.http->max_age ||
      *r.http->max_age <= 0) {
    return std::nullopt;
  }
  ResponseState s = r.verdict->state;
  if (s != ResponseState::kGood && s != ResponseState::kRevoked && s != ResponseState::kUnknown) {
    return std::nullopt;
  }
  if (!r.verdict->valid_until || !r.verdict->this_update) return std::nullopt;
  // Never past the response's half-life, whatever max-age says: responders
  // that send max-age up to nextUpdate would otherwise freeze the target
  // until its answer is nearly stale.
  const int64_t half_life =
      *r.verdict->this_update + (*r.verdict->valid_until - *r.verdict->this_update) / 2;
  return CappedMaxAge(r.finished_at, *r.http->max_age, half_life);
}

std::optional<int64_t> CappedMaxAge(int64_t from, int64_t max_age,
                                    std::optional<int64_t> limit) {
  int64_t until = from + std::min(max_age, kMaxAgeCapSeconds);
  if (limit) until = std::min(until, *limit);
  if (until <= from) return std::nullopt;
  return until;
}

}  // namespace ose
