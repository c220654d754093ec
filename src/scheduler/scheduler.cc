#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/scheduler/scheduler.h"

#include "ocsp_staple_exporter/common/asio.h"
#include <boost/asio/post.hpp>
#include <algorithm>

#include "ocsp_staple_exporter/common/log.h"

namespace ose {

using std::chrono::milliseconds;

struct Scheduler::Entry {
  explicit Entry(ScheduledTarget t) : target(std::move(t)) {}
  ScheduledTarget target;
  /// When the next run is due, and which Arm set it (see Scheduler::Due).
  std::chrono::steady_clock::time_point next;
  uint64_t armed = 0;
  bool busy = false;          ///< in flight or waiting for a slot
  /// When the current run was due, for the lag.
  std::chrono::steady_clock::time_point due;
  bool removed = false;       ///< dropped by a reload
  int64_t not_before = 0;     ///< Unix seconds; from a responder's max-age
};

Scheduler::Scheduler(asio::io_context& io, ResultStore& store)
    : io_(io), store_(store), rng_(std::random_device{}()), wake_(io) {}

Scheduler::~Scheduler() {
  alive_.reset();
  wake_.cancel();
}

void Scheduler::Apply(std::vector<ScheduledTarget> targets, int concurrency,
                      int per_key_limit) {
  asio::post(io_, [this, targets = std::move(targets), concurrency, per_key_limit]() mutable {
    concurrency_ = concurrency;
    per_key_limit_ = per_key_limit;
    ApplyNow(std::move(targets));
  });
}

void Scheduler::ApplyNow(std::vector<ScheduledTarget> targets) {
  std::vector<Shared<TargetInfo>> infos;
  infos.reserve(targets.size());
  std::map<std::string_view, std::shared_ptr<Entry>> next;
  auto same = [&](const ScheduledTarget& t) {
    auto it = entries_.find(t.info->name);
    return it != entries_.end() && it->second->target.info->kind == t.info->kind &&
                   it->second->target.info->address == t.info->address
               ? it
               : entries_.end();
  };
  size_t fresh = 0;
  for (const ScheduledTarget& t : targets) fresh += same(t) == entries_.end();
  // New targets start spread over a window: at least 5 s, longer for a
  // large batch (1 ms per target, so 50,000 targets start at ~1,000 probes
  // a second instead of all at once), never longer than their interval.
  const milliseconds window = std::max(milliseconds(5000), milliseconds(fresh));
  auto latest_first = std::chrono::steady_clock::now();
  for (ScheduledTarget& t : targets) {
    if (next.contains(t.info->name)) continue;  // names are unique; a duplicate is ignored
    t.info.Mut().interval_seconds = std::chrono::duration<double>(t.interval).count();
    infos.push_back(t.info);  // shared with the store
    if (auto it = same(t); it != entries_.end()) {
      // Keep its schedule; the new options apply from its next probe. Out
      // of entries_ first: its key views the info the new target replaces.
      std::shared_ptr<Entry> e = it->second;
      entries_.erase(it);
      e->target = std::move(t);
      next.emplace(e->target.info->name, e);
      continue;
    }
    auto e = std::make_shared<Entry>(std::move(t));
    milliseconds spread = std::min<milliseconds>(e->target.interval, window);
    std::uniform_int_distribution<int64_t> first(0, spread.count());
    Arm(e, milliseconds(first(rng_)));
    latest_first = std::max(latest_first, e->next);
    next.emplace(e->target.info->name, e);
  }
  for (auto& [name, e] : entries_) e->removed = true;  // removed targets: never fired again
  entries_ = std::move(next);
  store_.SetTargets(std::move(infos));
  // Readiness waits for the first round only; a reload never flips it back.
  // Set after the store knows the targets (FirstRoundDue: they are in it).
  auto unset = std::chrono::steady_clock::duration::max().count();
  first_round_due_.compare_exchange_strong(unset, latest_first.time_since_epoch().count());
  log::Info("targets applied", {{"targets", std::to_string(entries_.size())},
                                {"concurrency", std::to_string(concurrency_)}});
  LaunchWaiting();  // limits may have grown
}

void Scheduler::Arm(const std::shared_ptr<Entry>& e, milliseconds delay) {
  e->next = std::chrono::steady_clock::now() + delay;
  due_.push({e->next, ++e->armed, e});
  if (!running_due_) ArmWake();
}

// Sets the one timer to the earliest due run, if that is earlier than it is
// set for (setting it cancels the wait before, whose handler then returns).
void Scheduler::ArmWake() {
  if (due_.empty() || (wake_armed_ && wake_at_ <= due_.top().at)) return;
  wake_armed_ = true;
  wake_at_ = due_.top().at;
  wake_.expires_at(wake_at_);
  const uint64_t generation = ++wake_generation_;
  wake_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_), generation](const boost::system::error_code& ec) {
        if (ec || alive.expired() || generation != wake_generation_) return;
        wake_armed_ = false;
        RunDue();
        ArmWake();
      });
}

void Scheduler::RunDue() {
  const auto now = std::chrono::steady_clock::now();
  running_due_ = true;
  while (!due_.empty() && due_.top().at <= now) {
    Due d = due_.top();
    due_.pop();
    auto e = d.entry.lock();
    if (!e || e->removed || d.armed != e->armed) continue;  // gone, or armed again since
    Fire(e);
  }
  running_due_ = false;
}

void Scheduler::Fire(const std::shared_ptr<Entry>& e) {
  const auto due = e->next;
  // Next run: interval from now, +-5% jitter so targets drift apart.
  int64_t base = e->target.interval.count();
  std::uniform_int_distribution<int64_t> jitter(-base / 20, base / 20);
  Arm(e, milliseconds(std::max<int64_t>(1, base + jitter(rng_))));
  if (e->busy) {
    ++stats_.skipped_busy;
    log::Debug("probe skipped, previous one still running", {{"target", e->target.info->name}});
    return;
  }
  if (e->not_before > NowUnix()) {
    log::Debug("probe skipped, responder's max-age not reached",
               {{"target", e->target.info->name}});
    return;
  }
  e->busy = true;
  e->due = due;
  if (CanLaunch(*e)) {
    Launch(e);
  } else {
    waiting_.push_back(e);
  }
}

bool Scheduler::CanLaunch(const Entry& e) const {
  if (in_flight_ >= concurrency_) return false;
  if (e.target.limit_key.empty()) return true;
  auto it = key_in_flight_.find(e.target.limit_key);
  return it == key_in_flight_.end() || it->second < per_key_limit_;
}

void Scheduler::Launch(const std::shared_ptr<Entry>& e) {
  const double lag =
      std::max(0.0, std::chrono::duration<double>(std::chrono::steady_clock::now() - e->due).count());
  size_t bucket = 0;
  while (bucket < std::size(SchedulerStats::kLagBuckets) &&
         lag > SchedulerStats::kLagBuckets[bucket]) {
    ++bucket;
  }
  if (bucket < std::size(SchedulerStats::kLagBuckets)) ++stats_.lag_buckets[bucket];
  ++stats_.lag_count;
  stats_.lag_sum.fetch_add(lag);
  ++stats_.in_flight;
  ++in_flight_;
  if (in_flight_ > max_in_flight_.load()) max_in_flight_ = in_flight_;
  if (!e->target.limit_key.empty()) ++key_in_flight_[e->target.limit_key];
  e->target.start([this, e](ProbeResult r) { Finished(e, std::move(r)); });
}

void Scheduler::Finished(const std::shared_ptr<Entry>& e, ProbeResult result) {
  --in_flight_;
  --stats_.in_flight;
  if (!e->target.limit_key.empty() && --key_in_flight_[e->target.limit_key] <= 0) {
    key_in_flight_.erase(e->target.limit_key);
  }
  e->busy = false;
  e->not_before = result.extras().not_before.value_or(0);
  if (result.extras().refresh_at && !e->removed) {
    // The result goes stale before the next run (a CRL's half-life): run
    // again then instead.
    const auto delay =
        std::chrono::seconds(std::max<int64_t>(1, *result.extras().refresh_at - NowUnix()));
    if (std::chrono::steady_clock::now() + delay < e->next) {
      Arm(e, std::chrono::duration_cast<milliseconds>(delay));
    }
  }
  const std::string& name = e->target.info->name;
  if (!e->removed) {
    auto held = std::make_shared<const ProbeResult>(std::move(result));
    auto recorded = store_.Record(name, held);
    const ProbeResult& r = *held;
    std::string now_label = StateLabel(r);
    if (recorded.known && recorded.previous != now_label) {
      std::vector<log::Field> fields = {{"target", name},
                                        {"from", recorded.previous.value_or("none")},
                                        {"to", now_label}};
      const std::string& detail = r.success ? r.verdict->detail : r.detail;
      if (!detail.empty()) fields.emplace_back("detail", detail);
      log::Info("target state changed", fields);
    }
    log::Debug("probe finished", {{"target", name},
                                  {"state", now_label},
                                  {"duration_seconds", std::to_string(r.duration_seconds)}});
  }
  LaunchWaiting();
}

void Scheduler::LaunchWaiting() {
  // Oldest first; entries whose key is saturated wait for their own key.
  for (auto it = waiting_.begin(); it != waiting_.end() && in_flight_ < concurrency_;) {
    auto e = it->lock();
    if (!e || e->removed) {
      it = waiting_.erase(it);
    } else if (CanLaunch(*e)) {
      it = waiting_.erase(it);
      Launch(e);
    } else {
      ++it;
    }
  }
}

}  // namespace ose
