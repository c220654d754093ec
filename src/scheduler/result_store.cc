#include "ocsp_staple_exporter/scheduler/result_store.h"

namespace ose {

void ResultStore::SetTargets(std::vector<Shared<TargetInfo>> targets) {
  std::lock_guard lock(mu_);
  std::map<std::string_view, TargetSnapshot> next;
  for (auto& info : targets) {
    if (next.contains(info->name)) continue;
    auto it = targets_.find(info->name);
    TargetSnapshot t;
    if (it != targets_.end() && it->second.kind() == info->kind &&
        it->second.address() == info->address) {
      // Out of targets_ first: its key views the info replaced below.
      t = std::move(targets_.extract(it).mapped());
    }
    t.info = std::move(info);
    const std::string_view key = t.info->name;  // held by t.info, moved along with it
    next.emplace(key, std::move(t));
  }
  targets_ = std::move(next);
}

ResultStore::Recorded ResultStore::Record(const std::string& name,
                                          std::shared_ptr<const ProbeResult> held) {
  const ProbeResult& r = *held;
  std::lock_guard lock(mu_);
  auto it = targets_.find(name);
  if (it == targets_.end()) return {};
  TargetSnapshot& t = it->second;
  Recorded out;
  out.known = true;
  if (t.last) out.previous = StateLabel(*t.last);
  t.last = std::move(held);
  ++t.probes;
  if (!r.success) ++t.failures[r.failure_reason];
  if (t.kind() == "crl" && r.http) {  // fetched from a URL (not a file)
    if (!t.http) t.http.emplace();
    const char* result = !r.success                      ? "failed"
                         : r.crl && r.crl->not_modified ? "not_modified"
                                                        : "fetched";
    ++t.http->crl_fetches[result];
    if (r.crl) t.http->crl_bytes += r.crl->bytes_received;
  }
  if (r.http && r.http->status != 0) {
    if (!t.http) t.http.emplace();
    auto& h = t.http->request_seconds;
    if (h.buckets.empty()) h.buckets.assign(std::size(kResponderBuckets), 0);
    for (size_t i = 0; i < std::size(kResponderBuckets); ++i) {
      if (r.http->request_seconds <= kResponderBuckets[i]) ++h.buckets[i];
    }
    h.sum += r.http->request_seconds;
    ++h.count;
  }
  return out;
}

std::vector<TargetSnapshot> ResultStore::Snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<TargetSnapshot> out;
  out.reserve(targets_.size());
  for (const auto& [name, t] : targets_) out.push_back(t);
  return out;
}

bool ResultStore::AllProbed() const {
  std::lock_guard lock(mu_);
  for (const auto& [name, t] : targets_) {
    if (!t.last) return false;
  }
  return true;
}

}  // namespace ose
