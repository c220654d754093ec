// Writes the fuzzers' seed corpora, generated now (nothing that expires is
// committed): ose_fuzz_seeds OUTDIR [CONFIG_TESTDATA_DIR]
//   OUTDIR/pki/{leaf,issuer}.pem   the PKI the OCSP and certificate targets load
//   OUTDIR/<target>/...            one folder of inputs per fuzz target
#include <openssl/ocsp.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/stapler/store.h"
#include "pki.h"

namespace fs = std::filesystem;
using namespace ose;
using namespace ose::testing;

namespace {

void Put(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

void Put(const fs::path& dir, const std::string& name, const std::vector<uint8_t>& bytes) {
  Put(dir, name, std::string(bytes.begin(), bytes.end()));
}

std::string Pem(const std::vector<X509*>& certs, const fs::path& tmp) {
  WritePem(tmp.string(), certs);
  std::ifstream in(tmp, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUTDIR [CONFIG_TESTDATA_DIR]\n", argv[0]);
    return 2;
  }
  fs::path out(argv[1]);
  fs::create_directories(out / "pki");
  int64_t now = std::time(nullptr), day = 86400;
  auto ca_key = GenerateKey();
  auto ca = IssueCert({.common_name = "Fuzz CA", .not_before = now - day,
                       .not_after = now + 365 * day, .ca = true},
                      ca_key.get(), nullptr, ca_key.get());
  auto leaf_key = GenerateKey();
  auto leaf = IssueCert({.common_name = "fuzz.test", .serial = 7, .not_before = now - day,
                         .not_after = now + 90 * day, .must_staple = true,
                         .ocsp_url = "http://127.0.0.1:1/ocsp"},
                        leaf_key.get(), ca.get(), ca_key.get());
  auto responder_key = GenerateKey();
  auto responder = IssueCert({.common_name = "Fuzz OCSP", .serial = 8, .not_before = now - day,
                              .not_after = now + 30 * day, .ocsp_signing = true},
                             responder_key.get(), ca.get(), ca_key.get());
  WritePem((out / "pki/leaf.pem").string(), {leaf.get()});
  WritePem((out / "pki/issuer.pem").string(), {ca.get()});

  // OCSP responses: every shape the verifier knows.
  fs::path ocsp = out / "ocsp_response";
  ResponseSpec fresh;
  fresh.this_update = now - 3600;
  fresh.next_update = now + 3 * day;
  Put(ocsp, "good", MakeResponse(fresh, leaf.get(), ca.get(), ca.get(), ca_key.get()));
  ResponseSpec revoked = fresh;
  revoked.cert_status = V_OCSP_CERTSTATUS_REVOKED;
  revoked.revocation_reason = OCSP_REVOKED_STATUS_KEYCOMPROMISE;
  revoked.revoked_at = now - day;
  Put(ocsp, "revoked", MakeResponse(revoked, leaf.get(), ca.get(), ca.get(), ca_key.get()));
  ResponseSpec unknown = fresh;
  unknown.cert_status = V_OCSP_CERTSTATUS_UNKNOWN;
  Put(ocsp, "unknown", MakeResponse(unknown, leaf.get(), ca.get(), ca.get(), ca_key.get()));
  Put(ocsp, "delegated",
      MakeResponse(fresh, leaf.get(), ca.get(), responder.get(), responder_key.get()));
  ResponseSpec sha256 = fresh;
  sha256.cert_id_md = EVP_sha256();
  sha256.responder_id_by_key = true;
  sha256.include_signer = false;
  Put(ocsp, "sha256-keyid", MakeResponse(sha256, leaf.get(), ca.get(), ca.get(), ca_key.get()));
  ResponseSpec no_next = fresh;
  no_next.next_update.reset();
  Put(ocsp, "no-next-update", MakeResponse(no_next, leaf.get(), ca.get(), ca.get(), ca_key.get()));
  ResponseSpec several = fresh;
  several.extra_statuses = {V_OCSP_CERTSTATUS_UNKNOWN, V_OCSP_CERTSTATUS_GOOD};
  Put(ocsp, "several", MakeResponse(several, leaf.get(), ca.get(), ca.get(), ca_key.get()));
  ResponseSpec critical = fresh;
  critical.critical_single_extension = true;
  Put(ocsp, "critical", MakeResponse(critical, leaf.get(), ca.get(), ca.get(), ca_key.get()));
  OcspRequestPtr req(OCSP_REQUEST_new());
  OCSP_request_add1_nonce(req.get(), nullptr, 16);
  ResponseSpec nonce = fresh;
  nonce.copy_nonce_from = req.get();
  Put(ocsp, "nonce", MakeResponse(nonce, leaf.get(), ca.get(), ca.get(), ca_key.get()));
  ResponseSpec try_later;
  try_later.response_status = OCSP_RESPONSE_STATUS_TRYLATER;
  Put(ocsp, "try-later", MakeResponse(try_later, leaf.get(), ca.get(), ca.get(), ca_key.get()));

  // CRLs: full, delta, expired.
  fs::path crls = out / "crl";
  CrlSpec crl;
  crl.this_update = now - 3600;
  crl.next_update = now + 7 * day;
  crl.crl_number = 12;
  crl.revoked = {{.serial = 7, .revoked_at = now - day, .reason = 1},
                 {.serial = 99, .revoked_at = now - day, .reason = 8}};
  Put(crls, "full", MakeCrl(crl, ca.get(), ca_key.get()));
  CrlSpec delta = crl;
  delta.delta_base = 11;
  Put(crls, "delta", MakeCrl(delta, ca.get(), ca_key.get()));
  CrlSpec expired = crl;
  expired.this_update = now - 10 * day;
  expired.next_update = now - day;
  Put(crls, "expired", MakeCrl(expired, ca.get(), ca_key.get()));

  // Certificates, PEM and DER.
  fs::path certs = out / "certificate";
  Put(certs, "chain.pem", Pem({leaf.get(), ca.get()}, out / "tmp.pem"));
  Put(certs, "responder.pem", Pem({responder.get()}, out / "tmp.pem"));
  unsigned char* der = nullptr;
  int len = i2d_X509(leaf.get(), &der);
  OpensslBytesPtr owned(der);
  Put(certs, "leaf.der", std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len)));
  auto v2 = IssueCert({.common_name = "v2.test", .serial = 9, .not_before = now - day,
                       .not_after = now + day, .tls_features = {"status_request_v2", "1"}},
                      leaf_key.get(), ca.get(), ca_key.get());
  Put(certs, "two-tls-features.pem", Pem({v2.get()}, out / "tmp.pem"));
  fs::remove(out / "tmp.pem");

  // Configs: the unit tests' files, and ones using the fuzzer's certificates.
  fs::path config = out / "config";
  fs::create_directories(config);
  if (argc > 2) {
    for (const auto& f : fs::directory_iterator(argv[2])) {
      if (f.path().extension() == ".toml") fs::copy_file(f.path(), config / f.path().filename(),
                                                         fs::copy_options::overwrite_existing);
    }
  }
  Put(config, "all-sections.toml",
      "[global]\ninterval = \"30s\"\ntimeout = \"5s\"\nskew = \"5m\"\n"
      "dns_servers = [\"127.0.0.1:53\", \"[::1]\"]\n"
      "[[tls]]\nname = \"a\"\naddress = \"[::1]:443\"\nserver_name = \"x\"\n"
      "ca_file = \"issuer.pem\"\n"
      "[[responder]]\nname = \"r\"\ncert_file = \"chain.pem\"\nmethod = \"post\"\nnonce = true\n"
      "[[file]]\nname = \"f\"\npath = \"x.ocsp\"\ncert_file = \"leaf.pem\"\n"
      "issuer_file = \"issuer.pem\"\n"
      "[[crl]]\nname = \"c1\"\nurl = \"http://127.0.0.1/ca.crl\"\nissuer_file = \"issuer.pem\"\n"
      "max_size = 4096\nfollow_redirects = true\n"
      "[[crl]]\nname = \"c2\"\npath = \"ca.crl\"\nissuer_file = \"issuer.pem\"\n"
      "[[module]]\nname = \"m\"\ntimeout = \"3s\"\n"
      "[alertmanager]\nurl = \"http://127.0.0.1:9093\"\n"
      "[stapler]\nstore_dir = \"s\"\ncommand_timeout = \"5s\"\n"
      "[[stapler.certificate]]\nname = \"c\"\ncert_file = \"chain.pem\"\nmode = \"must\"\n"
      "output_file = \"c.ocsp\"\n");

  // store_dir sidecars, as the store writes them.
  fs::path store_tmp = out / "store-tmp";
  StapleStore store(store_tmp.string());
  StoreEntry e;
  e.der = {0x30, 0x03, 0x0a, 0x01, 0x03};
  e.certificate = "api";
  e.status = "good";
  e.url = "http://127.0.0.1:1/";
  e.fetched_at = now;
  e.this_update = now - 60;
  e.next_update = now + day;
  e.produced_at = now - 60;
  fs::create_directories(out / "store");
  if (store.Save("k", e)) fs::copy_file(store_tmp / "k.toml", out / "store" / "sidecar.toml",
                                        fs::copy_options::overwrite_existing);
  fs::remove_all(store_tmp);
  Put(out / "store", "garbage.toml", "certificate = [\n");

  // HTTP: query string, newline, scrape-timeout header.
  fs::path http = out / "http";
  Put(http, "probe", "target=127.0.0.1%3A443&module=lab\n9.5");
  Put(http, "cache-control", "public, max-age=3600, must-revalidate");
  Put(http, "encoded", "target=%5B%3A%3A1%5D%3A443&module=%FF%00\n1e308");
  Put(http, "authorization", "Basic cHJvbTpzM2NyZXQ6d2l0aDpjb2xvbnM=");
  // STARTTLS: protocol byte (0 smtp, 1 imap, 2 pop3, 3 ftp, 4 ldap,
  // 5 postgres, 6 xmpp), then the server's turns separated by 0xFF.
  fs::path starttls = out / "starttls";
  Put(starttls, "smtp", std::string("\x00") + "220-mx ESMTP\r\n220 ready\r\n\xff" +
                            "250-mx\r\n250-SIZE 10\r\n250 STARTTLS\r\n\xff" "220 go\r\n");
  Put(starttls, "imap", std::string("\x01") + "* OK [CAPABILITY IMAP4rev1 STARTTLS]\r\n\xff" +
                            "* CAPABILITY IMAP4rev1\r\na1 OK begin\r\n");
  Put(starttls, "pop3", std::string("\x02") + "+OK ready\r\n\xff+OK begin\r\n");
  Put(starttls, "ftp", std::string("\x03") + "220-hi\r\ntext\r\n220 ready\r\n\xff" "234 ok\r\n");
  Put(starttls, "ldap", std::string("\x04") +
                            std::string("\x30\x0c\x02\x01\x01\x78\x07\x0a\x01\x00\x04\x00\x04\x00", 14));
  Put(starttls, "postgres", std::string("\x05") + "S");
  Put(starttls, "xmpp", std::string("\x06") +
                            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                            "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
                            "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
                            "</stream:features>\xff<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");

  // Durations and addresses.
  fs::path parsers = out / "parsers";
  for (const char* s : {"30s", "1h30m", "500ms", "2d", "[::1]:443", "example.net:65535",
                        "127.0.0.1:0", "[fe80::1%eth0]:443",
                        // file_sd documents (JSON and YAML)
                        "[{\"targets\": [\"a.example.net:443\", \"[::1]:8443\"], "
                        "\"labels\": {\"team\": \"web\"}}]",
                        "- targets: [a:1, 'b:2']\n  labels: {env: prod}\n- targets: []\n"}) {
    Put(parsers, std::string("seed-") + std::to_string(std::hash<std::string>{}(s)), s);
  }
  std::printf("seeds written to %s\n", out.c_str());
  return 0;
}
