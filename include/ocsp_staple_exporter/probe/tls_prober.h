#pragma once
// The TLS prober: one handshake with the status_request extension
// (RFC 6066 §8), capture of the stapled OCSP response and the peer chain,
// issuer lookup, Must-Staple detection and verification of the staple.
//
// Probes are asynchronous operations on an asio::io_context: no thread per
// probe, so thousands can wait on slow servers at once.

#include <asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/probe/probe_result.h"

namespace ose {

struct TlsProbeRequest {
  std::string host;         ///< name or IP literal (no brackets)
  uint16_t port = 0;
  std::string server_name;  ///< SNI; empty: the host, unless it is an IP literal
  CertPool extra_issuers;   ///< may be null
  std::chrono::milliseconds timeout{10000};  ///< whole probe: resolve to handshake
  VerifyOptions verify;
};

/// Owns the client SSL_CTX shared by all probes. The context does not
/// validate the server's chain: monitoring must look at self-signed,
/// expired or unknown-CA servers too. TLS 1.2 and 1.3 are offered.
class TlsProber {
 public:
  using Callback = std::function<void(ProbeResult)>;

  /// Builds the SSL_CTX. Throws std::runtime_error (start-up only) when
  /// OpenSSL cannot create it.
  explicit TlsProber(asio::io_context& io);
  ~TlsProber();
  TlsProber(const TlsProber&) = delete;
  TlsProber& operator=(const TlsProber&) = delete;

  /// Starts one probe; `done` runs exactly once on the io_context's thread,
  /// after success, failure or timeout. Never throws; failures are data.
  void Probe(TlsProbeRequest request, Callback done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ose
