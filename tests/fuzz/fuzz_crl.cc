// X.509 CRL parsing and verification (RFC 5280 §5) against a fixed issuer:
// no input may crash or leak, and only a verified CRL may revoke.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <span>

#include "fuzz_common.h"
#include "ocsp_staple_exporter/common/openssl_error.h"
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
  if (!verified && p.revoked.size() != 0) std::abort();  // only an authentic CRL is indexed
  // The index over any CRL that parses (verification skipped: the fuzzer
  // cannot sign), every entry found again.
  const unsigned char* d = data;
  ose::X509CrlPtr crl(d2i_X509_CRL(nullptr, &d, static_cast<long>(size)));
  if (crl) {
    ose::RevokedIndex index = ose::RevokedIndex::Build(crl.get());
    (void)index.Find(X509_get0_serialNumber(pki.leaf.get()));
    STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl.get());
    if (index.size() > static_cast<size_t>(std::max(0, sk_X509_REVOKED_num(entries)))) std::abort();
    for (int i = 0; i < sk_X509_REVOKED_num(entries) && i < 64; ++i) {
      (void)index.Find(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(entries, i)));
    }
  }
  ose::DrainOpenSslErrors();
  return 0;
}
