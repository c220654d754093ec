#pragma once
// The stapling engine at run time: one StaplerCore per `[[stapler.certificate]]`,
// driven by asio timers on the event loop; fetches through the responder
// prober; publishes to `output_file` (atomic DER for nginx
// `ssl_stapling_file` / HAProxy `<cert>.ocsp`) and to a running HAProxy over
// its runtime API; runs `reload_command` (rate-limited) and `fatal_command`;
// pushes fatal events to Alertmanager (`[alertmanager]`).

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/common/result.h"
#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/probe/responder_prober.h"
#include "ocsp_staple_exporter/stapler/engine.h"

namespace ose {

/// Sends one command to HAProxy's runtime API on the Unix socket `path` and
/// returns its answer (HAProxy closes the connection after a command).
/// Error reason "haproxy" on connect, write, read or timeout failures.
Result<std::string> HaproxyCommand(const std::string& path, const std::string& command,
                                   std::chrono::milliseconds timeout);

/// `set ssl ocsp-response <base64 DER>` for HAProxy's runtime API.
std::string HaproxySetOcspCommand(const std::vector<uint8_t>& der);

/// Runs `command` with /bin/sh -c in the background, with `env` added to
/// the environment; the child is reaped by a detached thread. Returns
/// false when it could not be started.
bool RunBackground(const std::string& command,
                   const std::vector<std::pair<std::string, std::string>>& env);

class Stapler {
 public:
  /// `io` and `http` are borrowed and outlive the stapler. `exit_process`
  /// is called (on the io thread) with exit code 1 when a certificate turns
  /// fatal and `exit_on_fatal` is set.
  Stapler(asio::io_context& io, ResponderProber& http, std::function<void(int)> exit_process);
  ~Stapler();

  /// Applies `[stapler]` (at start and on reload); posted to the io thread.
  /// Certificates whose name and leaf stay keep their state; new ones load
  /// their store_dir entry, then fetch when needed.
  void Apply(const Config& config);

  /// Copies of every certificate's state, by name (any thread).
  std::vector<StaplerCertState> Snapshot() const;

  /// True once every certificate that staples has a first answer (cache or
  /// fetch), or `ready_timeout` has passed since the last Apply.
  bool Ready() const;

 private:
  struct Slot;
  void ApplyNow(const Config& config);
  void Wake(const std::shared_ptr<Slot>& slot);
  void Arm(const std::shared_ptr<Slot>& slot);
  void Publish(Slot& slot, const std::vector<uint8_t>& der);
  void Withdraw(Slot& slot);
  void RunReload(Slot& slot);
  void PushAlert(Slot& slot, bool resolved);
  void SaveSnapshot();

  asio::io_context& io_;
  ResponderProber& http_;
  std::function<void(int)> exit_process_;
  StaplerConfig config_;
  AlertmanagerConfig alertmanager_;
  /// Blocking side effects (HAProxy socket, Alertmanager), in order, off
  /// the event loop.
  asio::thread_pool side_effects_{1};
  VerifyOptions verify_;
  std::map<std::string, std::shared_ptr<Slot>> slots_;
  mutable std::mutex mu_;
  std::vector<StaplerCertState> snapshot_;
  std::chrono::steady_clock::time_point ready_by_;
  bool all_attempted_ = true;
};

}  // namespace ose
