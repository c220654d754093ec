#include "ocsp_staple_exporter/probe/fleet.h"

#include <algorithm>

namespace ose {

int StapleSeverity(ResponseState state) {
  switch (state) {
    case ResponseState::kRevoked: return 4;
    case ResponseState::kInvalid: return 3;
    case ResponseState::kAbsent: return 2;
    case ResponseState::kUnknown: return 1;
    case ResponseState::kGood: return 0;
  }
  return 3;
}

std::string FormatEndpoint(const asio::ip::tcp::endpoint& endpoint) {
  const auto a = endpoint.address();
  std::string host = a.to_string();
  if (a.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(endpoint.port());
}

namespace {

// Index of the worst successful result: the most severe state, and among
// equals the one whose answer expires first (so one backend's older staple
// cannot hide behind a fresher one), then the first.
size_t Worst(const std::vector<ProbeResult>& rs) {
  size_t worst = 0;
  for (size_t i = 1; i < rs.size(); ++i) {
    const int a = StapleSeverity(rs[i].verdict->state),
              b = StapleSeverity(rs[worst].verdict->state);
    const auto& until = rs[i].verdict->valid_until;
    const auto& worst_until = rs[worst].verdict->valid_until;
    if (a > b || (a == b && until && (!worst_until || *until < *worst_until))) worst = i;
  }
  return worst;
}

// The earliest leaf notAfter among the results that completed.
std::optional<int64_t> EarliestNotAfter(const std::vector<ProbeResult>& rs) {
  std::optional<int64_t> out;
  for (const ProbeResult& r : rs) {
    if (r.success && r.not_after && (!out || *r.not_after < *out)) out = r.not_after;
  }
  return out;
}

// Every distinct leaf held for a CRL lookup in `rs`, moved out of them.
std::vector<std::shared_ptr<const ProbeResult::CrlSubject>> TakeCrlSubjects(
    std::vector<ProbeResult>& rs) {
  std::vector<std::shared_ptr<const ProbeResult::CrlSubject>> out;
  for (ProbeResult& r : rs) {
    ProbeResult::Extras* x = r.extras_if();
    if (x == nullptr) continue;
    for (auto& s : x->crl_subjects) {
      const bool seen = std::any_of(out.begin(), out.end(), [&](const auto& o) {
        return o->leaf && s->leaf && X509_cmp(o->leaf.get(), s->leaf.get()) == 0;
      });
      if (!seen) out.push_back(std::move(s));
    }
    x->crl_subjects.clear();
  }
  return out;
}

// The chain to look up: the first one held in `rs` (handshakes and
// addresses of one target serve one chain), moved out of all of them.
std::vector<std::shared_ptr<const ProbeResult::ChainSubject>> TakeChainSubjects(
    std::vector<ProbeResult>& rs) {
  std::vector<std::shared_ptr<const ProbeResult::ChainSubject>> out;
  for (ProbeResult& r : rs) {
    ProbeResult::Extras* x = r.extras_if();
    if (x == nullptr) continue;
    if (out.empty()) out = std::move(x->chain_subjects);
    x->chain_subjects.clear();
  }
  return out;
}

}  // namespace

ProbeResult CombineHandshakes(std::vector<ProbeResult> handshakes, int requested) {
  ProbeResult::Handshakes counts;
  counts.requested = requested;
  for (const ProbeResult& h : handshakes) {
    if (!h.success) continue;
    ++counts.completed;
    if (h.staple_present) ++counts.stapled;
  }
  auto failed = std::find_if(handshakes.begin(), handshakes.end(),
                             [](const ProbeResult& h) { return !h.success; });
  auto subjects = TakeCrlSubjects(handshakes);
  auto chain = TakeChainSubjects(handshakes);
  const std::optional<int64_t> not_after = EarliestNotAfter(handshakes);
  ProbeResult out;
  if (failed != handshakes.end()) {
    const size_t n = static_cast<size_t>(failed - handshakes.begin());
    out = std::move(*failed);
    if (requested > 1) {
      out.detail = "handshake " + std::to_string(n + 1) + " of " + std::to_string(requested) +
                   ": " + out.detail;
    }
  } else {
    out = std::move(handshakes[Worst(handshakes)]);
    out.not_after = not_after;
    out.staple_present = counts.stapled == requested;
    if (counts.stapled > 0 && counts.stapled < requested) {
      out.detail = std::to_string(counts.stapled) + " of " + std::to_string(requested) +
                   " handshakes carried a staple";
    }
  }
  // out's own subjects were taken above; extras only when there is something.
  if (requested > 1) out.extras_mut().handshakes = counts;
  if (!subjects.empty()) out.extras_mut().crl_subjects = std::move(subjects);
  if (!chain.empty()) out.extras_mut().chain_subjects = std::move(chain);
  return out;
}

ProbeResult CombineAddresses(std::vector<ProbeResult> per_address) {
  ProbeResult out;
  auto subjects = TakeCrlSubjects(per_address);
  auto chain = TakeChainSubjects(per_address);
  if (!per_address.empty()) {
    auto failed = std::find_if(per_address.begin(), per_address.end(),
                               [](const ProbeResult& r) { return !r.success; });
    const ProbeResult& pick =
        failed != per_address.end() ? *failed : per_address[Worst(per_address)];
    out = pick;
    if (out.success) out.not_after = EarliestNotAfter(per_address);
    if (!out.success) out.detail = pick.address + ": " + out.detail;
    const ProbeResult& first = per_address.front();
    const bool disagree = std::any_of(per_address.begin(), per_address.end(), [&](const auto& r) {
      return r.verdict->state != first.verdict->state || r.staple_present != first.staple_present;
    });
    if (out.success && out.detail.empty() && disagree) {
      out.detail = "addresses disagree; worst: " + pick.address;
    }
  }
  ProbeResult::Extras& x = out.extras_mut();  // per_address: always some
  x.crl_subjects = std::move(subjects);
  x.chain_subjects = std::move(chain);
  out.address.clear();
  out.every_address = true;
  x.per_address = std::move(per_address);
  return out;
}

std::vector<int> CountAddressStates(const ProbeResult& summary, int64_t now) {
  std::vector<int> counts(std::size(kAddressStateNames), 0);
  for (const ProbeResult& r : summary.extras().per_address) {
    if (!r.success) {
      ++counts.back();
      continue;
    }
    ++counts[static_cast<size_t>(VerdictAt(r.verdict, now)->state)];
  }
  return counts;
}

}  // namespace ose
