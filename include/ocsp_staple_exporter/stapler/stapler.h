#pragma once
// The stapling engine at run time: one StaplerCore per `[[stapler.certificate]]`,
// driven by asio timers on the event loop; fetches through the responder
// prober; publishes to `output_file` (atomic DER for nginx
// `ssl_stapling_file` / HAProxy `<cert>.ocsp`) and to a running HAProxy over
// its runtime API; runs `reload_command` (rate-limited) and `fatal_command`;
// pushes fatal events to Alertmanager (`[alertmanager]`).
//
// What is on disk is what the engine believes: at start, on reload and
// after every change the driver reconciles each publisher with the core's
// decision. An `output_file` holds the served staple, or kTryLaterResponse
// after a withdrawal (never nothing: nginx cannot start without the file).
// Failed writes, persists, HAProxy pushes and reloads are counted by stage,
// retried with backoff, and make `serving` read 0 until they succeed. A
// renewed `cert_file` is noticed within one min_refresh.

#include "ocsp_staple_exporter/common/asio.h"
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/common/command.h"
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

/// What an `output_file` holds after a withdrawal: a DER OCSPResponse
/// whose responseStatus is tryLater (RFC 6960 §4.2.1) and that has no
/// responseBytes. nginx loads it (a missing `ssl_stapling_file` is an emerg
/// error: `nginx -t`, reload and a cold start would fail) and staples it
/// as is; HAProxy 2.6 loads it with a warning and staples nothing; clients
/// read "no status now", never an expired response presented as fresh.
inline constexpr uint8_t kTryLaterResponse[] = {0x30, 0x03, 0x0a, 0x01, 0x03};

class Stapler {
 public:
  /// `io` and `http` are borrowed and outlive the stapler. `exit_process`
  /// is called (on the io thread) with exit code 1 when a certificate turns
  /// fatal and `exit_on_fatal` is set.
  Stapler(asio::io_context& io, ResponderProber& http, std::function<void(int)> exit_process);
  ~Stapler();

  /// The shared CRL store (borrowed, outlives the stapler) for certificates
  /// with `revocation = "crl" | "both"`; without it they are OCSP only.
  /// Call before the first Apply.
  void SetCrlStore(CrlStore* store) { crl_store_ = store; }

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
  void MakeCore(const std::shared_ptr<Slot>& slot, const StaplerCertificate& c);
  void Reconcile(Slot& slot, int64_t now);
  void CheckRotation(const std::shared_ptr<Slot>& slot, int64_t now);
  void Wake(const std::shared_ptr<Slot>& slot);
  void Arm(const std::shared_ptr<Slot>& slot);
  void Sync(const std::shared_ptr<Slot>& slot, int64_t now);
  void SyncFile(Slot& slot, int64_t now);
  void SyncHaproxy(const std::shared_ptr<Slot>& slot, int64_t now);
  void SyncPersist(Slot& slot, int64_t now);
  void RunReload(const std::shared_ptr<Slot>& slot, int64_t now);
  void PushAlert(const std::shared_ptr<Slot>& slot, bool resolved);
  void SendAlert(const std::shared_ptr<Slot>& slot, std::string json, bool resolved);
  void CountError(Slot& slot, std::string_view stage);
  RefreshPolicy Refresh() const;
  void SaveSnapshot();

  asio::io_context& io_;
  ResponderProber& http_;
  CrlStore* crl_store_ = nullptr;  ///< SetCrlStore; borrowed
  std::function<void(int)> exit_process_;
  StaplerConfig config_;
  AlertmanagerConfig alertmanager_;
  CommandRunner commands_;
  /// Blocking side effects off the event loop, each in order on its own
  /// thread, so a black-holed Alertmanager never delays a HAProxy push.
  asio::thread_pool haproxy_pool_{1};
  asio::thread_pool alerts_pool_{1};
  VerifyOptions verify_;
  std::map<std::string, std::shared_ptr<Slot>> slots_;
  mutable std::mutex mu_;
  std::vector<StaplerCertState> snapshot_;
  std::chrono::steady_clock::time_point ready_by_;
  bool all_attempted_ = true;
};

}  // namespace ose
