// Certificate parsing (PEM and DER), Must-Staple and AIA extraction,
// issuer lookup and the store key, on hostile certificates.
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_common.h"
#include "ocsp_staple_exporter/stapler/store.h"

namespace {

void Exercise(X509* cert, X509* issuer) {
  (void)ose::HasMustStaple(cert);
  (void)ose::OcspUrls(cert);
  (void)ose::SubjectString(cert);
  (void)ose::NotAfterUnix(cert);
  (void)ose::CertKey(cert);
  X509* candidates[] = {issuer, cert};
  (void)ose::FindIssuer(cert, candidates);
  (void)X509_check_host(cert, "fuzz.test", 0, 0, nullptr);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& pki = ose::fuzz::FixedPki();
  auto pem = ose::ParsePemCertificates(std::span<const uint8_t>(data, size), "fuzz");
  if (pem) {
    for (const auto& c : pem.value()) Exercise(c.get(), pki.issuer.get());
  }
  const unsigned char* p = data;
  ose::X509Ptr der(d2i_X509(nullptr, &p, static_cast<long>(size)));
  if (der) Exercise(der.get(), pki.issuer.get());
  ERR_clear_error();
  return 0;
}
