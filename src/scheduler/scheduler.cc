#include "ocsp_staple_exporter/scheduler/scheduler.h"

#include <asio/post.hpp>
#include <algorithm>

#include "ocsp_staple_exporter/common/log.h"

namespace ose {

using std::chrono::milliseconds;

struct Scheduler::Entry {
  Entry(asio::io_context& io, TlsTarget t) : target(std::move(t)), timer(io) {}
  TlsTarget target;
  asio::steady_timer timer;
  bool busy = false;  ///< in flight or waiting for a slot
};

TlsProbeRequest MakeTlsRequest(const TlsTarget& target, const GlobalConfig& global) {
  TlsProbeRequest req;
  req.host = target.endpoint.host;
  req.port = target.endpoint.port;
  req.server_name = target.server_name;
  req.extra_issuers = target.ca_certs;
  req.timeout = target.timeout;
  req.verify.skew_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(global.skew).count();
  req.verify.default_validity_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(global.default_validity).count();
  return req;
}

Scheduler::Scheduler(asio::io_context& io, ResultStore& store, TlsProber& prober)
    : io_(io), store_(store), prober_(prober), rng_(std::random_device{}()) {}

Scheduler::~Scheduler() {
  for (auto& [name, e] : entries_) e->timer.cancel();
}

void Scheduler::Apply(const Config& config) {
  asio::post(io_, [this, config]() { ApplyNow(config); });
}

void Scheduler::ApplyNow(Config config) {
  global_ = config.global;
  std::vector<std::pair<std::string, std::string>> names;
  std::map<std::string, std::shared_ptr<Entry>> next;
  for (TlsTarget& t : config.tls) {
    names.emplace_back(t.name, t.address);
    auto it = entries_.find(t.name);
    if (it != entries_.end() && it->second->target.address == t.address) {
      // Keep its schedule; take the new options on its next probe.
      it->second->target = std::move(t);
      next.emplace(it->first, it->second);
      entries_.erase(it);
      continue;
    }
    auto e = std::make_shared<Entry>(io_, std::move(t));
    milliseconds spread = std::min<milliseconds>(e->target.interval, milliseconds(5000));
    std::uniform_int_distribution<int64_t> first(0, spread.count());
    Arm(e, milliseconds(first(rng_)));
    next.emplace(e->target.name, e);
  }
  for (auto& [name, e] : entries_) e->timer.cancel();  // removed targets
  entries_ = std::move(next);
  store_.SetTargets(names, "tls");
  log::Info("targets applied", {{"tls", std::to_string(entries_.size())},
                                {"concurrency", std::to_string(global_.concurrency)}});
}

void Scheduler::Arm(const std::shared_ptr<Entry>& e, milliseconds delay) {
  e->timer.expires_after(delay);
  std::weak_ptr<Entry> weak = e;
  e->timer.async_wait([this, weak](const asio::error_code& ec) {
    auto entry = weak.lock();
    if (ec || !entry) return;  // cancelled or removed
    Fire(entry);
  });
}

void Scheduler::Fire(const std::shared_ptr<Entry>& e) {
  // Next run: interval from now, +-5% jitter so targets drift apart.
  int64_t base = e->target.interval.count();
  std::uniform_int_distribution<int64_t> jitter(-base / 20, base / 20);
  Arm(e, milliseconds(std::max<int64_t>(1, base + jitter(rng_))));
  if (e->busy) {
    log::Debug("probe skipped, previous one still running", {{"target", e->target.name}});
    return;
  }
  e->busy = true;
  if (in_flight_ < global_.concurrency) {
    Launch(e);
  } else {
    waiting_.push_back(e);
  }
}

void Scheduler::Launch(const std::shared_ptr<Entry>& e) {
  ++in_flight_;
  if (in_flight_ > max_in_flight_.load()) max_in_flight_ = in_flight_;
  std::weak_ptr<Entry> weak = e;
  std::string name = e->target.name;
  prober_.Probe(MakeTlsRequest(e->target, global_),
                [this, weak, name](ProbeResult r) { Finished(weak, name, std::move(r)); });
}

void Scheduler::Finished(const std::weak_ptr<Entry>& weak, const std::string& name,
                         ProbeResult r) {
  --in_flight_;
  if (auto e = weak.lock()) {
    e->busy = false;
    auto recorded = store_.Record(name, r);
    std::string now_label = StateLabel(r);
    if (recorded.known && recorded.previous != now_label) {
      std::vector<log::Field> fields = {{"target", name},
                                        {"from", recorded.previous.value_or("none")},
                                        {"to", now_label}};
      const std::string& detail = r.success ? r.verdict.detail : r.detail;
      if (!detail.empty()) fields.emplace_back("detail", detail);
      log::Info("target state changed", fields);
    }
    log::Debug("probe finished", {{"target", name},
                                  {"state", now_label},
                                  {"duration_seconds", std::to_string(r.duration_seconds)}});
  }
  while (!waiting_.empty() && in_flight_ < global_.concurrency) {
    auto next = waiting_.front().lock();
    waiting_.pop_front();
    if (next) Launch(next);
  }
}

}  // namespace ose
