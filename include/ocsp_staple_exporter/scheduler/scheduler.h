#pragma once
// Runs every target's probe on its interval, with jitter, a global limit on
// probes in flight and a limit per shared key (a responder host). All
// scheduling state lives on one asio::io_context thread; results go to the
// ResultStore, which HTTP threads read. The scheduler knows nothing of what
// a probe does: each target brings a function that starts one.

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "ocsp_staple_exporter/common/asio.h"
#include "ocsp_staple_exporter/probe/probe_result.h"
#include "ocsp_staple_exporter/scheduler/result_store.h"

namespace ose {

/// One target as the scheduler sees it.
struct ScheduledTarget {
  /// Name, kind, address and labels; shared with the result store (Apply
  /// sets its interval_seconds from `interval`).
  Shared<TargetInfo> info;
  std::chrono::milliseconds interval{60000};
  /// Targets with the same non-empty key share `per_key_limit` (e.g. the
  /// host of a responder, so it is not hammered).
  std::string limit_key;
  /// Starts one probe. It must call `done` exactly once, on the io thread.
  std::function<void(std::function<void(ProbeResult)> done)> start;
};

/// The scheduler's own health, written on its thread and read by the
/// collector from any thread (`ocsp_staple_exporter_scheduling_lag_seconds`,
/// `ocsp_staple_exporter_probes_in_flight`, `..._probes_skipped_total`).
struct SchedulerStats {
  /// Upper bounds (seconds) of the lag histogram's buckets.
  static constexpr double kLagBuckets[] = {0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30};
  /// Probes whose lag was <= kLagBuckets[i] and > the bucket before
  /// (not cumulative; the collector sums them).
  std::array<std::atomic<uint64_t>, std::size(kLagBuckets)> lag_buckets{};
  std::atomic<uint64_t> lag_count{0};  ///< probes started
  std::atomic<double> lag_sum{0};      ///< seconds
  std::atomic<int> in_flight{0};
  /// Runs skipped because the target's previous probe was still running
  /// (its interval is shorter than its probes take) or waiting for a slot.
  std::atomic<uint64_t> skipped_busy{0};
};

class Scheduler {
 public:
  /// `io` and `store` are borrowed; the scheduler must outlive io.run().
  Scheduler(asio::io_context& io, ResultStore& store);
  ~Scheduler();

  /// Replaces the targets and the limits (at start and on reload).
  /// Thread-safe: the change is posted to the io_context. A target whose
  /// name, kind and address stay keeps its schedule and results; removed
  /// ones stop (a probe in flight is dropped when it ends). New ones start
  /// at random within min(interval, max(5 s, 1 ms x the number of new
  /// targets)), so a large fleet does not hammer its servers (and its own
  /// CPU) all at once.
  void Apply(std::vector<ScheduledTarget> targets, int concurrency, int per_key_limit);

  /// Most probes ever in flight at once (any thread; for tests and bench).
  int MaxInFlight() const { return max_in_flight_.load(); }

  /// When the last first probe of the first Apply's targets is due (any
  /// thread); time_point::max() until that Apply has run (set once the
  /// ResultStore holds its targets). Readiness waits
  /// for this round only, so a reload never makes the exporter unready.
  std::chrono::steady_clock::time_point FirstRoundDue() const {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(first_round_due_.load()));
  }

  /// Live statistics (any thread); valid as long as the scheduler.
  const SchedulerStats& stats() const { return stats_; }

 private:
  struct Entry;
  void ApplyNow(std::vector<ScheduledTarget> targets);
  void Arm(const std::shared_ptr<Entry>& e, std::chrono::milliseconds delay);
  void ArmWake();
  void RunDue();
  void Fire(const std::shared_ptr<Entry>& e);
  bool CanLaunch(const Entry& e) const;
  void Launch(const std::shared_ptr<Entry>& e);
  void Finished(const std::shared_ptr<Entry>& e, ProbeResult r);
  void LaunchWaiting();

  asio::io_context& io_;
  ResultStore& store_;
  int concurrency_ = 256;
  int per_key_limit_ = 4;
  /// Keyed by the entry's own target.info->name (a view: held once).
  std::map<std::string_view, std::shared_ptr<Entry>> entries_;
  std::deque<std::weak_ptr<Entry>> waiting_;  ///< due, but over a limit
  std::map<std::string, int> key_in_flight_;
  int in_flight_ = 0;
  std::atomic<int> max_in_flight_{0};
  SchedulerStats stats_;
  std::atomic<std::chrono::steady_clock::rep> first_round_due_{
      std::chrono::steady_clock::duration::max().count()};
  std::mt19937_64 rng_;
  /// One timer for every target: the next run of each armed entry in a
  /// min-heap (32 bytes an entry instead of an asio timer's ~130), and
  /// `wake_` set to the earliest. A heap element whose `armed` no longer
  /// matches its entry's was superseded by a later Arm and is skipped.
  struct Due {
    std::chrono::steady_clock::time_point at;
    uint64_t armed;
    std::weak_ptr<Entry> entry;
    bool operator>(const Due& o) const { return at > o.at; }
  };
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
  asio::steady_timer wake_;
  bool wake_armed_ = false;
  bool running_due_ = false;  ///< in RunDue: Arm leaves the timer to it
  std::chrono::steady_clock::time_point wake_at_;
  uint64_t wake_generation_ = 0;
  /// Expires with the scheduler: a wake handler that runs after it checks it.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace ose
