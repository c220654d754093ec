#pragma once
// The responder prober: asks an OCSP responder directly over HTTP (RFC 6960
// Appendix A, RFC 5019 §5) with libcurl, and verifies the answer exactly as
// a staple. Requests run on a small thread pool (libcurl easy handles);
// results are handed back on the io_context's thread.

#include "ocsp_staple_exporter/crl/crl_prober.h"
#include "ocsp_staple_exporter/common/asio.h"
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/common/result.h"
#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/crl/crl_store.h"
#include "ocsp_staple_exporter/probe/probe_policy.h"
#include "ocsp_staple_exporter/probe/probe_result.h"

namespace ose {

class ChainRevocation;

/// Largest response body accepted (1 MiB); larger is `body_too_large`.
inline constexpr size_t kMaxResponseBytes = 1 << 20;

struct ResponderProbeRequest {
  LoadedCertPtr cert;             ///< certificate and issuer; required
  std::vector<std::string> urls;  ///< tried in order until one answers
  HttpMethod method = HttpMethod::kAuto;
  bool nonce = false;
  std::chrono::milliseconds timeout{10000};  ///< for all URLs together
  VerifyOptions verify;
  /// kCrl: no OCSP request, the CRL lookup alone; kBoth: OCSP, then the CRL.
  Revocation revocation = Revocation::kOcsp;
  CrlStore* crl_store = nullptr;  ///< borrowed; required unless kOcsp
  /// `[fetch]` (borrowed; null: none), for URLs taken from certificates a
  /// server sent (chain checks): refused ones fail "forbidden" unconnected.
  const ProbePolicy* policy = nullptr;
};

/// A DER OCSPRequest for one certificate (SHA-1 CertID, as RFC 5019 §2.1.1
/// requires), with a random 32-byte nonce when `nonce` (RFC 8954). The
/// request object is returned too, for the nonce check. Errors: reason
/// "request".
struct EncodedRequest {
  OcspRequestPtr request;
  std::vector<uint8_t> der;
};
Result<EncodedRequest> BuildOcspRequest(X509* cert, X509* issuer, bool nonce);

/// The GET form of a request: `url` + "/" + URL-encoded base64 of the DER
/// (RFC 6960 Appendix A.1).
std::string OcspGetUrl(const std::string& url, std::span<const uint8_t> der);

/// RFC 5019 §5: GET when the GET URL is shorter than 255 bytes (auto), or
/// as forced.
bool UseGet(HttpMethod method, const std::string& get_url);

/// The max-age of a Cache-Control header value ("public, max-age=600"),
/// in seconds; nullopt when absent or malformed.
std::optional<int64_t> ParseMaxAge(std::string_view cache_control);

/// The host part of a URL ("" when it does not parse), e.g. to limit the
/// requests in flight per responder host.
std::string UrlHost(const std::string& url);

class ResponderProber {
 public:
  /// `threads` HTTP requests can run at once; `io` receives the callbacks.
  ResponderProber(asio::io_context& io, size_t threads);
  ~ResponderProber();  ///< waits for requests in flight
  ResponderProber(const ResponderProber&) = delete;
  ResponderProber& operator=(const ResponderProber&) = delete;

  using Callback = std::function<void(ProbeResult)>;

  /// Starts one probe; `done` runs exactly once, on the io_context's thread.
  void Probe(ResponderProbeRequest request, Callback done);

  /// Checks a `[[file]]` staple on the pool (file reads may block), and the
  /// leaf's CRLs with `crl_store` when the target's revocation asks;
  /// `done` runs on the io_context's thread.
  void ProbeFile(FileTarget target, VerifyOptions verify, CrlStore* crl_store, Callback done);

  /// On the pool (fetches block): every leaf of `r.crl_subjects` looked up
  /// in `store` (CheckLeafCrls; TLS targets with `revocation = "crl" |
  /// "both"`), and the certificates of `r.chain_subjects` in `chain`
  /// (`revocation_scope = "chain"`, as `revocation` says); then `r` to
  /// `done` on the io_context's thread. Either may be null (that lookup is
  /// skipped); `r` passes unchanged without subjects.
  void LookUpRevocation(CrlStore* store, ChainRevocation* chain, Revocation revocation,
                        ProbeResult r, Callback done);

  /// Checks a `[[crl]]` target on the pool (ProbeCrlNow); `done` runs on
  /// the io_context's thread.
  /// `memory` (may be null) is the target's, shared with the check in flight.
  void ProbeCrl(CrlTarget target, VerifyOptions verify, std::shared_ptr<CrlTargetMemory> memory,
                Callback done);

  /// The probe itself, blocking (runs on a pool thread; exposed for tests).
  static ProbeResult ProbeNow(const ResponderProbeRequest& request);

 private:
  /// Runs `work` on the pool and hands its result to `done` on io_.
  void OnPool(std::function<ProbeResult()> work, Callback done);

  asio::io_context& io_;
  asio::thread_pool pool_;
};

/// Reads and verifies a DER staple file (`[[file]]`), blocking. A missing
/// file is kAbsent; an unreadable one kInvalid "unreadable"; one over
/// kMaxResponseBytes or not an OCSPResponse kInvalid "malformed".
ProbeResult ProbeStapleFile(const FileTarget& target, const VerifyOptions& verify,
                            CrlStore* crl_store = nullptr);

/// Sets `r.leaf_crl` to what `store` says of `leaf` (issued by `issuer`,
/// null when unknown: then kUnavailable) from its CRL Distribution Points
/// `urls`, blocking; adds the time taken to r.duration_seconds. When
/// r.ocsp_skipped (the CRL is the whole probe), a failed fetch makes the
/// probe fail with the fetch's reason.
void AddLeafCrl(CrlStore& store, X509* leaf, X509* issuer, const std::vector<std::string>& urls,
                ProbeResult& r);

/// AddLeafCrl for every leaf of `r.crl_subjects` (the distinct leaves a
/// probe saw), folded: revoked when any is (the first), else unavailable
/// when any is, else good. Clears r.crl_subjects.
void CheckLeafCrls(CrlStore& store, ProbeResult& r);

}  // namespace ose
