#pragma once
// Runs every target's probe on its interval, with jitter, a per-probe
// timeout (enforced by the prober) and a global limit on probes in flight.
// All scheduling state lives on one asio::io_context thread; results go to
// the ResultStore, which HTTP threads read.

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/probe/tls_prober.h"
#include "ocsp_staple_exporter/scheduler/result_store.h"

namespace ose {

/// Builds the prober request for a configured `[[tls]]` target.
TlsProbeRequest MakeTlsRequest(const TlsTarget& target, const GlobalConfig& global);

class Scheduler {
 public:
  /// `io`, `store` and `prober` are borrowed and must outlive the scheduler;
  /// the scheduler must outlive the io_context's run().
  Scheduler(asio::io_context& io, ResultStore& store, TlsProber& prober);
  ~Scheduler();

  /// Replaces the targets and the concurrency limit (at start and on
  /// reload). Thread-safe: the change is posted to the io_context. Targets
  /// that stay keep their schedule; new ones start within
  /// min(interval, 5s); removed ones stop (a probe in flight is dropped).
  void Apply(const Config& config);

  /// Most probes ever in flight at once (any thread; for tests and bench).
  int MaxInFlight() const { return max_in_flight_.load(); }

 private:
  struct Entry;
  void ApplyNow(Config config);
  void Arm(const std::shared_ptr<Entry>& e, std::chrono::milliseconds delay);
  void Fire(const std::shared_ptr<Entry>& e);
  void Launch(const std::shared_ptr<Entry>& e);
  void Finished(const std::weak_ptr<Entry>& weak, const std::string& name, ProbeResult r);

  asio::io_context& io_;
  ResultStore& store_;
  TlsProber& prober_;
  GlobalConfig global_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  std::deque<std::weak_ptr<Entry>> waiting_;  ///< due, but over the concurrency limit
  int in_flight_ = 0;
  std::atomic<int> max_in_flight_{0};
  std::mt19937_64 rng_;
};

}  // namespace ose
