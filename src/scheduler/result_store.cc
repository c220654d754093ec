#include "ocsp_staple_exporter/scheduler/result_store.h"

namespace ose {

void ResultStore::SetTargets(
    const std::vector<std::pair<std::string, std::string>>& name_address,
    const std::string& kind) {
  std::lock_guard lock(mu_);
  std::map<std::string, TargetSnapshot> next;
  for (const auto& [name, address] : name_address) {
    auto it = targets_.find(name);
    TargetSnapshot t;
    if (it != targets_.end() && it->second.kind == kind && it->second.address == address) {
      t = std::move(it->second);
    }
    t.name = name;
    t.kind = kind;
    t.address = address;
    next.emplace(name, std::move(t));
  }
  // Keep targets of other kinds (filled by other probers).
  for (auto& [name, t] : targets_) {
    if (t.kind != kind && !next.count(name)) next.emplace(name, std::move(t));
  }
  targets_ = std::move(next);
}

ResultStore::Recorded ResultStore::Record(const std::string& name, const ProbeResult& r) {
  std::lock_guard lock(mu_);
  auto it = targets_.find(name);
  if (it == targets_.end()) return {};
  TargetSnapshot& t = it->second;
  Recorded out;
  out.known = true;
  if (t.last) out.previous = StateLabel(*t.last);
  t.last = r;
  ++t.probes;
  if (!r.success) ++t.failures[r.failure_reason];
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
