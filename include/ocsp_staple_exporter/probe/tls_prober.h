#pragma once
// The TLS prober: one handshake with the status_request extension
// (RFC 6066 §8), capture of the stapled OCSP response and the peer chain,
// issuer lookup, Must-Staple detection and verification of the staple.
//
// Probes are asynchronous operations on an asio::io_context: no thread per
// probe, so thousands can wait on slow servers at once.

#include "ocsp_staple_exporter/common/asio.h"
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/probe/dns_resolver.h"
#include "ocsp_staple_exporter/probe/probe_result.h"
#include "ocsp_staple_exporter/probe/starttls.h"
#include "ocsp_staple_exporter/probe/verify_cache.h"

namespace ose {

struct TlsProbeRequest {
  std::string host;         ///< name or IP literal (no brackets)
  uint16_t port = 0;
  std::string server_name;  ///< SNI; empty: the host, unless it is an IP literal
  CertPool extra_issuers;   ///< may be null
  std::chrono::milliseconds timeout{10000};  ///< whole probe: resolve to handshake
  VerifyOptions verify;
  /// Fill ProbeResult::crl_subject (leaf, issuer, CRL Distribution Points)
  /// for a CRL lookup after the handshake (`revocation = "crl" | "both"`).
  bool crl_subject = false;
  /// Fill ProbeResult::chain_subjects (the certificates above the leaf,
  /// ChainSubjects) for a chain lookup after the handshake
  /// (`revocation_scope = "chain"`).
  bool chain_subjects = false;
  /// `handshakes`: complete this many fresh handshakes (new connection,
  /// no session resumption: a resumed session carries no staple), one
  /// after another, within `timeout`; folded by CombineHandshakes.
  int handshakes = 1;
  /// `addresses = "all"`: probe every resolved address on its own (in
  /// parallel, each with `handshakes`), folded by CombineAddresses;
  /// otherwise the first address that accepts a connection.
  bool all_addresses = false;
  /// When set, called with the resolved addresses before connecting; an
  /// error ends the probe with probe_failure::kForbidden and its detail
  /// (/probe's `[probe]` policy, checked against the addresses connected to).
  std::function<Result<Ok>(const std::vector<asio::ip::tcp::endpoint>&)> admit;
  /// `starttls`: the plaintext protocol to upgrade before the handshake
  /// (starttls.h), bounded by the same `timeout`. XMPP's domain is the
  /// server_name, else the host.
  StartTls starttls = StartTls::kNone;
  std::string starttls_ehlo;  ///< SMTP's EHLO name (never empty when starttls is smtp)
};

/// Owns the client SSL_CTX shared by all probes. The context does not
/// validate the server's chain: monitoring must look at self-signed,
/// expired or unknown-CA servers too. TLS 1.2 and 1.3 are offered.
class TlsProber {
 public:
  using Callback = std::function<void(ProbeResult)>;

  /// Builds the SSL_CTX and the name resolver (see dns_resolver.h). With
  /// `threads` 0, probes run on `io` itself; with N > 0, on N event loops
  /// with a thread each (one per core: the handshake's crypto is the cost),
  /// and every callback is posted back to `io`. The verification cache and
  /// the system trust store are shared by all loops. Throws
  /// std::runtime_error (start-up only) when OpenSSL or c-ares cannot start.
  /// `io` is borrowed and must outlive the prober; the destructor stops and
  /// joins the threads (probes in flight are dropped, their callbacks never
  /// run). OpenSSL writes to the sockets itself: worker threads block
  /// SIGPIPE; with `threads` 0 the caller must ignore it (main does).
  explicit TlsProber(asio::io_context& io, DnsOptions dns = {}, int threads = 0);
  ~TlsProber();
  TlsProber(const TlsProber&) = delete;
  TlsProber& operator=(const TlsProber&) = delete;

  /// Starts one probe; `done` runs exactly once on `io`'s thread, after
  /// success, failure or timeout. With worker threads, callable from any
  /// thread; without, from io's thread only. Never throws; failures are
  /// data.
  void Probe(TlsProbeRequest request, Callback done);

  /// As Probe, but with worker threads `done` runs on the worker's thread
  /// (one hop less, for callers that wait on it from a thread of their
  /// own, such as /probe). `done` must be thread-safe then. Called on a
  /// worker's own thread (a connection served on Loops()), the probe runs
  /// on that worker and `done` there: no hop at all.
  void ProbeAnyThread(TlsProbeRequest request, Callback done);

  /// The worker loops (empty with `threads` 0), borrowed: they run until
  /// the prober is destroyed. Others may run their own handlers there
  /// (the listener's connections, HttpServerOptions::connection_loops),
  /// provided those are gone before the prober is.
  std::vector<asio::io_context*> Loops() const;

  /// The verification cache shared by every loop (its size and hits for
  /// the exporter's own metrics; SetCapacity as the fleet grows).
  VerificationCache& verification_cache();

  /// Replaces the DNS resolvers (`[global] dns_servers`, on reload).
  void SetDnsServers(std::vector<std::string> servers);

 private:
  void Start(TlsProbeRequest request, Callback done, bool deliver_home);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ose
