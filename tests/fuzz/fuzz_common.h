#pragma once
// Shared set-up of the fuzz targets: the fixed PKI the OCSP and
// certificate targets verify against. scripts/fuzz.sh points OSE_FUZZ_PKI
// at the folder the seed generator wrote (leaf.pem, issuer.pem), so the
// seeds' CertIDs and signatures match and the fuzzer starts deep; without
// it a fresh PKI is generated (shallower, still sound).

#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <string>

#include "ocsp_staple_exporter/ocsp/certificate.h"
#include "pki.h"

namespace ose::fuzz {

struct Pki {
  X509Ptr leaf, issuer;
  EvpPkeyPtr issuer_key;  ///< null when loaded from OSE_FUZZ_PKI
  int64_t now = 0;
};

/// Loads or makes the PKI once. Never returns null members.
inline const Pki& FixedPki() {
  static Pki pki = [] {
    Pki p;
    p.now = static_cast<int64_t>(std::time(nullptr));
    if (const char* dir = std::getenv("OSE_FUZZ_PKI")) {
      auto leaf = LoadPemCertificates(std::string(dir) + "/leaf.pem");
      auto issuer = LoadPemCertificates(std::string(dir) + "/issuer.pem");
      if (leaf && issuer) {
        p.leaf = std::move(leaf.value().front());
        p.issuer = std::move(issuer.value().front());
        return p;
      }
    }
    p.issuer_key = testing::GenerateKey();
    p.issuer = testing::IssueCert({.common_name = "Fuzz CA", .not_before = p.now - 86400,
                                   .not_after = p.now + 365 * 86400, .ca = true},
                                  p.issuer_key.get(), nullptr, p.issuer_key.get());
    auto key = testing::GenerateKey();
    p.leaf = testing::IssueCert({.common_name = "fuzz.test", .serial = 7,
                                 .not_before = p.now - 86400, .not_after = p.now + 86400,
                                 .must_staple = true},
                                key.get(), p.issuer.get(), p.issuer_key.get());
    return p;
  }();
  return pki;
}

}  // namespace ose::fuzz
