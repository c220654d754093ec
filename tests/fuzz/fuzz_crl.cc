// X.509 CRL parsing and verification (RFC 5280 §5) against a fixed issuer:
// no input may crash or leak, and only a verified CRL may revoke.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "fuzz_common.h"
#include "ocsp_staple_exporter/crl/crl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& pki = ose::fuzz::FixedPki();
  // With a URL, so an authentic CRL's Issuing Distribution Point is read too.
  ose::ParsedCrl p = ose::VerifyCrl(std::span<const uint8_t>(data, size), pki.issuer.get(), {},
                                    pki.now, "http://crl.example.net/ca.crl");
  bool verified = p.verdict.state == ose::CrlState::kValid ||
                  p.verdict.state == ose::CrlState::kExpired;
  if (verified && !p.verdict.signature_verified) std::abort();
  (void)ose::LookupInCrl(p, pki.leaf.get());
  return 0;
}
