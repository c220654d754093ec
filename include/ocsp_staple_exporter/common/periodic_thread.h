#pragma once
// A thread that runs a function every period until destroyed, for work
// that must stay off the event loop (reading files that may sit on a slow
// or hung file system).
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "ocsp_staple_exporter/common/log.h"

namespace ose {

class PeriodicThread {
 public:
  /// Starts the thread; `tick` first runs one `period` from now. An
  /// exception out of `tick` is logged and the next tick still runs.
  PeriodicThread(std::chrono::milliseconds period, std::function<void()> tick)
      : period_(period), tick_(std::move(tick)), thread_([this] { Run(); }) {}
  /// Stops and joins: a tick in progress finishes first.
  ~PeriodicThread() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, period_, [this] { return stop_; })) {
      lock.unlock();
      try {
        tick_();
      } catch (const std::exception& e) {
        log::Error("periodic task failed; continuing", {{"err", e.what()}});
      }
      lock.lock();
    }
  }

  std::chrono::milliseconds period_;
  std::function<void()> tick_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  ///< last: starts once the rest is built
};

}  // namespace ose
