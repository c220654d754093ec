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

// Index of the worst successful result (the first of equals).
size_t Worst(const std::vector<ProbeResult>& rs) {
  size_t worst = 0;
  for (size_t i = 1; i < rs.size(); ++i) {
    if (StapleSeverity(rs[i].verdict.state) > StapleSeverity(rs[worst].verdict.state)) worst = i;
  }
  return worst;
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
    out.staple_present = counts.stapled == requested;
    if (counts.stapled > 0 && counts.stapled < requested) {
      out.detail = std::to_string(counts.stapled) + " of " + std::to_string(requested) +
                   " handshakes carried a staple";
    }
  }
  if (requested > 1) out.handshakes = counts;
  return out;
}

ProbeResult CombineAddresses(std::vector<ProbeResult> per_address) {
  ProbeResult out;
  if (!per_address.empty()) {
    auto failed = std::find_if(per_address.begin(), per_address.end(),
                               [](const ProbeResult& r) { return !r.success; });
    const ProbeResult& pick =
        failed != per_address.end() ? *failed : per_address[Worst(per_address)];
    out = pick;  // crl_subject included: the summary keeps the worst's
    if (!out.success) out.detail = pick.address + ": " + out.detail;
    const ProbeResult& first = per_address.front();
    const bool disagree = std::any_of(per_address.begin(), per_address.end(), [&](const auto& r) {
      return r.verdict.state != first.verdict.state || r.staple_present != first.staple_present;
    });
    if (out.success && out.detail.empty() && disagree) {
      out.detail = "addresses disagree; worst: " + pick.address;
    }
  }
  for (ProbeResult& r : per_address) r.crl_subject.reset();
  out.address.clear();
  out.every_address = true;
  out.per_address = std::move(per_address);
  return out;
}

std::vector<int> CountAddressStates(const ProbeResult& summary, int64_t now) {
  std::vector<int> counts(std::size(kAddressStateNames), 0);
  for (const ProbeResult& r : summary.per_address) {
    if (!r.success) {
      ++counts.back();
      continue;
    }
    ++counts[static_cast<size_t>(VerdictAt(r.verdict, now).state)];
  }
  return counts;
}

}  // namespace ose
