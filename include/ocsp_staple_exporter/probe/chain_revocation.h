#pragma once
// Revocation of the whole served chain (`revocation_scope = "chain"`):
// RFC 5280 §6.3 asks the status of every certificate in the path, and a
// revoked intermediate revokes every leaf under it. Each certificate above
// the leaf, below the trust anchor, is looked up as the target's
// `revocation` says: the CRLs of its CRL Distribution Points through the
// shared CrlStore (verified against its own issuer; an
// onlyContainsCACerts CRL answers for it, an onlyContainsUserCerts one
// does not), and with `ocsp`/`both` an OCSP request to its AIA responder
// (RFC 6960), answered from a cache until the response's half-life, so
// 50,000 targets under one intermediate cost one request per half-life.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <openssl/x509_vfy.h>

#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/crl/crl_store.h"
#include "ocsp_staple_exporter/probe/probe_result.h"
#include "ocsp_staple_exporter/probe/responder_prober.h"

namespace ose {

/// The most certificates above a leaf that are checked: a hostile server's
/// hundred-certificate chain costs at most this many lookups.
inline constexpr int kMaxChainPositions = 8;

/// The certificates above `leaf` (borrowed), position 1 its issuer: each
/// issuer is found (FindIssuer: name, key identifiers, signature) among
/// `candidates` (the served chain, then ca_file) or else in `trust` (the
/// system store, may be null), until a self-issued certificate (the trust
/// anchor, not checked), a certificate whose issuer is unknown (its issuer
/// is then null), a repeat, or kMaxChainPositions.
std::vector<std::shared_ptr<const ProbeResult::ChainSubject>> ChainSubjects(
    X509* leaf, std::span<X509* const> candidates, X509_STORE* trust);

/// Subject, issuer, serial (hex) and notAfter of `s.cert`, state unavailable.
ProbeResult::ChainCert DescribeChainCert(const ProbeResult::ChainSubject& s);

/// Looks the chain subjects of probe results up. Thread-safe; Check blocks
/// while it fetches (a pool thread).
class ChainRevocation {
 public:
  /// Sends one OCSP request, blocking (ResponderProber::ProbeNow with the
  /// running `[fetch]` policy, timeout and verification options filled in).
  using OcspAsk = std::function<ProbeResult(ResponderProbeRequest)>;

  /// `crls` is borrowed and must outlive this.
  ChainRevocation(CrlStore& crls, OcspAsk ask);

  /// Fills `r.chain` from `r.chain_subjects` (then cleared), at Unix time
  /// `now`: per certificate, `crl`: its CRLs; `ocsp`: its responder;
  /// `both`: both, revoked when either says so, good when either does.
  void Check(Revocation revocation, ProbeResult& r, int64_t now);

  /// OCSP requests sent so far (not answered from the cache); for tests.
  uint64_t ocsp_requests() const;

 private:
  struct Answer {
    LeafCrlState state = LeafCrlState::kUnavailable;
    std::optional<int64_t> revoked_at;
    std::string reason, detail;
    int64_t refresh_at = 0;   ///< ask again from then on
    int64_t usable_until = 0;  ///< nextUpdate + skew of the response held
    int64_t last_used = 0;
  };
  /// What the responder of `s` says at `now`, from the cache when fresh.
  Answer AskOcsp(const ProbeResult::ChainSubject& s, int64_t now);

  CrlStore& crls_;
  OcspAsk ask_;
  mutable std::mutex mu_;
  std::map<std::string, Answer> answers_;  ///< by SHA-256 of issuer and certificate
  uint64_t requests_ = 0;
};

}  // namespace ose
