// Prints what a public CA's CRL costs the exporter; asserts nothing.
//
//   build/ose_crl_bench [ENTRIES]      (default 250,000: Let's Encrypt-sized)
//     1. the CRL generated with the OpenSSL API (18-octet serials, every
//        other entry with a reasonCode), its DER size;
//     2. OpenSSL's X509_CRL held as it was before the index: RSS it adds,
//        lookups per second through X509_CRL_get0_by_serial;
//     3. VerifyCrl (parse, signature, index): seconds, RSS the result adds,
//        with the DER the store also keeps, each against the DER size;
//     4. RevokedIndex::Find lookups per second (half listed, half not);
//     5. CrlStore::Check per leaf (the per-probe path: distribution points
//        of the leaf, the held CRL, the lookup), leaves per second.
//   build/ose_crl_bench --write OUT ENTRIES CA.pem CA.key
//     writes a DER CRL of ENTRIES random serials signed by CA (bench/scale.sh).
#include <malloc.h>

#include <openssl/pem.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/crl/crl.h"
#include "ocsp_staple_exporter/crl/crl_store.h"
#include "pki.h"

using namespace ose;
using Clock = std::chrono::steady_clock;

namespace {

long RssKiB() {
  malloc_trim(0);  // freed pages back to the system, so RSS is what is held
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double MiB(long kib) { return static_cast<double>(kib) / 1024.0; }

testing::CrlSpec BigCrl(size_t entries, int64_t now) {
  testing::CrlSpec spec;
  spec.this_update = now - 3600;
  spec.next_update = now + 7 * 86400;
  spec.crl_number = 1000;
  spec.bulk_entries = entries;
  spec.bulk_revoked_at = now - 86400;
  return spec;
}

int Write(const char* out, size_t entries, const char* ca_pem, const char* ca_key) {
  BioPtr cert_bio(BIO_new_file(ca_pem, "r")), key_bio(BIO_new_file(ca_key, "r"));
  if (!cert_bio || !key_bio) {
    std::fprintf(stderr, "cannot read %s or %s\n", ca_pem, ca_key);
    return 1;
  }
  X509Ptr ca(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!ca || !key) {
    std::fprintf(stderr, "%s or %s is not PEM\n", ca_pem, ca_key);
    return 1;
  }
  auto spec = BigCrl(entries, std::time(nullptr));
  spec.crl_number = std::time(nullptr);  // above any number the lab's CA issued
  const auto der = testing::MakeCrl(spec, ca.get(), key.get());
  std::ofstream(out, std::ios::binary).write(reinterpret_cast<const char*>(der.data()),
                                             static_cast<std::streamsize>(der.size()));
  return 0;
}

// `n` serials: the even ones listed in `crl`, the odd ones random.
std::vector<Asn1IntegerPtr> Probes(X509_CRL* crl, size_t n) {
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl);
  std::mt19937_64 rng(42);
  std::vector<Asn1IntegerPtr> out;
  for (size_t i = 0; i < n; ++i) {
    if (i % 2 == 0) {
      const int k = static_cast<int>(rng() % static_cast<uint64_t>(sk_X509_REVOKED_num(entries)));
      out.emplace_back(ASN1_INTEGER_dup(
          X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(entries, k))));
    } else {
      unsigned char octets[18];
      RAND_bytes(octets, sizeof octets);
      octets[0] = static_cast<unsigned char>((octets[0] & 0x7F) | 0x01);
      BignumPtr bn(BN_bin2bn(octets, sizeof octets, nullptr));
      out.emplace_back(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 6 && std::string(argv[1]) == "--write") {
    return Write(argv[2], std::stoul(argv[3]), argv[4], argv[5]);
  }
  const size_t entries = argc > 1 ? std::stoul(argv[1]) : 250000;
  const int64_t now = std::time(nullptr);
  auto ca = testing::MakeTestCa(now);

  auto t = Clock::now();
  const std::vector<uint8_t> der = testing::MakeCrl(BigCrl(entries, now), ca.cert.get(),
                                                    ca.key.get());
  const double der_mib = static_cast<double>(der.size()) / (1 << 20);
  std::printf("CRL: %zu entries, %.2f MiB DER (%.1f bytes per entry), generated in %.2f s\n",
              entries, der_mib, static_cast<double>(der.size()) / static_cast<double>(entries),
              Seconds(t));

  // 2. As OpenSSL holds it (what ParsedCrl kept before the index).
  std::vector<Asn1IntegerPtr> probes;
  {
    const long before = RssKiB();
    const unsigned char* d = der.data();
    X509CrlPtr crl(d2i_X509_CRL(nullptr, &d, static_cast<long>(der.size())));
    X509_REVOKED* entry = nullptr;
    (void)X509_CRL_get0_by_serial(crl.get(), &entry, X509_get0_serialNumber(ca.cert.get()));
    const long held = RssKiB() - before;
    probes = Probes(crl.get(), 1'000'000);
    t = Clock::now();
    size_t found = 0;
    for (const auto& p : probes) found += X509_CRL_get0_by_serial(crl.get(), &entry, p.get()) > 0;
    const double s = Seconds(t);
    std::printf("OpenSSL X509_CRL held: +%.1f MiB RSS (%.1fx DER); X509_CRL_get0_by_serial: "
                "%.2f M lookups/s (%zu of %zu listed)\n",
                MiB(held), MiB(held) / der_mib, static_cast<double>(probes.size()) / s / 1e6, found,
                probes.size());
  }

  // 3. Verified and indexed, the X509_CRL dropped.
  const long before = RssKiB();
  t = Clock::now();
  ParsedCrl parsed = VerifyCrl(der, ca.cert.get(), VerifyOptions{}, now);
  const double verify_s = Seconds(t);
  const long held = RssKiB() - before;
  std::printf("VerifyCrl (parse, verify, index): %.3f s, state %s, %zu entries indexed\n",
              verify_s, std::string(CrlStateName(parsed.verdict.state)).c_str(),
              parsed.revoked.size());
  std::printf("index held: +%.1f MiB RSS (%.2fx DER; heap %.1f MiB); with the DER the store "
              "keeps: %.2fx DER (goal < 3x)\n",
              MiB(held), MiB(held) / der_mib,
              static_cast<double>(parsed.revoked.HeapBytes()) / (1 << 20),
              (MiB(held) + der_mib) / der_mib);

  // 4. Lookups in the index.
  t = Clock::now();
  size_t found = 0;
  for (const auto& p : probes) found += parsed.revoked.Find(p.get()).listed;
  double s = Seconds(t);
  std::printf("RevokedIndex::Find: %.2f M lookups/s (%zu of %zu listed)\n",
              static_cast<double>(probes.size()) / s / 1e6, found, probes.size());

  // 5. The per-probe path through the shared store.
  const std::string url = "http://crl.bench.test/ca.crl";
  const std::string body(der.begin(), der.end());
  CrlStore store(
      [&](const std::string&, const CrlValidators&) -> Result<CrlDownload> {
        return CrlDownload{.body = body, .bytes = body.size()};
      },
      VerifyOptions{});
  auto leaf_key = testing::GenerateKey();
  auto leaf = testing::IssueCert({.serial = 77, .not_before = now - 60, .not_after = now + 86400,
                                  .crl_url = url},
                                 leaf_key.get(), ca.cert.get(), ca.key.get());
  t = Clock::now();
  LeafCrlStatus first = store.Check({url}, leaf.get(), ca.cert.get(), now);
  std::printf("CrlStore first Check (fetch, verify, index): %.3f s, leaf %s\n", Seconds(t),
              std::string(kLeafCrlStateNames[static_cast<int>(first.state)]).c_str());
  const int checks = 200'000;
  t = Clock::now();
  for (int i = 0; i < checks; ++i) (void)store.Check({url}, leaf.get(), ca.cert.get(), now);
  s = Seconds(t);
  std::printf("CrlStore::Check of a held CRL: %.0f k leaves/s (%.2f us each)\n",
              checks / s / 1e3, s / checks * 1e6);
  return 0;
}
