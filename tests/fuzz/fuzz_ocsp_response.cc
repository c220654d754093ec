// OCSP response parsing and verification (RFC 6960) against a fixed leaf
// and issuer: no input may crash, leak, or read `good` unless verified.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "fuzz_common.h"
#include "ocsp_staple_exporter/ocsp/response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& pki = ose::fuzz::FixedPki();
  std::span<const uint8_t> der(data, size);
  ose::OcspVerdict v =
      ose::VerifyOcspResponse(der, pki.leaf.get(), pki.issuer.get(), {}, pki.now);
  // Invariants: good/revoked/unknown only with a verified signature; times
  // of a verdict read later never turn it good.
  bool answered = v.state == ose::ResponseState::kGood ||
                  v.state == ose::ResponseState::kRevoked ||
                  v.state == ose::ResponseState::kUnknown;
  if (answered && !v.signature_verified) std::abort();
  if (v.fresh_until) {
    ose::OcspVerdict later = ose::VerdictAt(v, *v.fresh_until + 1);
    if (later.state == ose::ResponseState::kGood) std::abort();
  }
  // The same bytes as a staple for the wrong certificate: never good.
  ose::OcspVerdict swapped =
      ose::VerifyOcspResponse(der, pki.issuer.get(), pki.issuer.get(), {}, pki.now);
  (void)swapped;
  ose::OcspRequestPtr req(OCSP_REQUEST_new());
  (void)ose::NonceMatches(der, req.get());
  return 0;
}
