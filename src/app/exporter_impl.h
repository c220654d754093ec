// Private to src/app: the parts of a running Exporter, in construction
// order (members are destroyed in reverse: the listener and the pollers
// first, the probers' threads next, the event loop last). exporter.cc
// builds and runs them; reload.cc adopts configs into them.
#pragma once

#include <memory>
#include <mutex>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "ocsp_staple_exporter/app/exporter.h"
#include "ocsp_staple_exporter/common/asio.h"
#include "ocsp_staple_exporter/common/periodic_thread.h"
#include "ocsp_staple_exporter/config/discovery.h"
#include "ocsp_staple_exporter/crl/crl_store.h"
#include "ocsp_staple_exporter/probe/chain_revocation.h"
#include "ocsp_staple_exporter/http/server.h"
#include "ocsp_staple_exporter/metrics/collector.h"
#include "ocsp_staple_exporter/metrics/request_stats.h"
#include "ocsp_staple_exporter/probe/responder_prober.h"
#include "ocsp_staple_exporter/probe/tls_prober.h"
#include "ocsp_staple_exporter/scheduler/result_store.h"
#include "ocsp_staple_exporter/scheduler/scheduler.h"
#include "ocsp_staple_exporter/stapler/stapler.h"

namespace ose {

struct Exporter::Impl {
  Impl(ExporterOptions options, const Config& initial);

  // --- exporter.cc ---
  /// The running config (the file's plus discovered targets); any thread.
  std::shared_ptr<const Config> config() const;
  /// GET /-/ready: every target probed once, or the first round over (a
  /// target that hangs must not keep the exporter unready forever), and the
  /// stapling engine ready.
  bool Ready() const;
  /// The stapling engine's fail-closed path: stop the loop with `code`.
  void Exit(int code);
  void OnSignal(const boost::system::error_code& ec, int signal);
  /// Fetches a CRL Distribution Point URL as the running `[fetch]` allows.
  Result<CrlDownload> FetchCrl(const std::string& url, const CrlValidators& since) const;

  // --- reload.cc ---
  /// Makes `loaded` the running config: its discovery files read at once,
  /// targets rescheduled, the stapling engine reconfigured.
  void Adopt(Config loaded);
  /// Discovery changed or a config was loaded: the file's config plus the
  /// discovered targets becomes the running one. Caller holds reload_mu.
  void Apply(bool stapler_too);
  Result<Ok> Reload();
  /// Runs on the discovery poller's thread every second.
  void PollDiscovery();

  const ExporterOptions options;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  /// Handshakes on every core; scheduling, results and the stapler on `io`.
  TlsProber tls;
  mutable std::mutex config_mu;
  std::shared_ptr<const Config> current;  ///< guarded by config_mu
  /// One fetch per CRL Distribution Point URL, shared by every target whose
  /// revocation asks for CRLs (`[global] timeout` bounds each fetch).
  CrlStore crl_store;
  /// `revocation_scope = "chain"`: intermediates' CRLs (in crl_store) and
  /// OCSP answers (cached here); used from http_prober's pool.
  ChainRevocation chain_revocation;
  /// After crl_store and chain_revocation: its pool threads look CRLs and
  /// chains up there until joined.
  ResponderProber http_prober;
  ResultStore store;
  ExporterStatus status;
  Scheduler scheduler;
  int exit_code = 0;
  /// The stapling engine fetches on a pool of its own: no hung CRL
  /// distribution point or responder of a probed target can hold the
  /// threads a staple refresh needs.
  ResponderProber stapler_http;
  Stapler stapler;
  RequestStats requests;
  Collector collector;
  /// [[discovery]] targets join the config file's [[tls]] targets.
  DiscoveryWatcher discovery;
  std::mutex reload_mu;
  std::shared_ptr<const Config> file_config;  ///< as loaded; guarded by reload_mu
  HttpServer http;
  /// Discovery files are checked off the event loop (started by Start): a
  /// slow or hung file system delays new targets, never a probe or a scrape.
  std::unique_ptr<PeriodicThread> discovery_poll;
  asio::signal_set signals;
};

}  // namespace ose
