#include "ocsp_staple_exporter/config/config.h"

#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <string>

#include "pki.h"

namespace ose {
namespace {

const std::string kDir = OSE_TESTDATA_DIR "/config/";

TEST(Config, ValidFileWithDefaultsAndOverrides) {
  // valid.toml names ca.pem beside it: copy it to a folder with a fresh CA.
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("ose-config-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(kDir + "valid.toml", dir / "valid.toml", fs::copy_options::overwrite_existing);
  auto key = testing::GenerateKey();
  int64_t now = std::time(nullptr);
  auto ca = testing::IssueCert({.common_name = "CA", .not_before = now - 60,
                                .not_after = now + 3600, .ca = true},
                               key.get(), nullptr, key.get());
  testing::WritePem((dir / "ca.pem").string(), {ca.get(), ca.get()});

  auto cfg = LoadConfig((dir / "valid.toml").string());
  fs::remove_all(dir);
  ASSERT_TRUE(cfg.ok()) << cfg.error().detail;
  EXPECT_EQ(cfg->global.interval, std::chrono::seconds(30));
  EXPECT_EQ(cfg->global.timeout, std::chrono::seconds(5));
  EXPECT_EQ(cfg->global.concurrency, 16);
  EXPECT_EQ(cfg->global.skew, std::chrono::seconds(0));
  EXPECT_EQ(cfg->global.default_validity, std::chrono::hours(2));
  ASSERT_EQ(cfg->tls.size(), 3u);
  const TlsTarget& a = cfg->tls[0];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.endpoint.host, "127.0.0.1");
  EXPECT_EQ(a.endpoint.port, 4443);
  EXPECT_EQ(a.server_name, "a.example.net");
  EXPECT_EQ(a.ca_file, (dir / "ca.pem").string());  // relative to the config's folder
  ASSERT_NE(a.ca_certs, nullptr);
  EXPECT_EQ(a.ca_certs->size(), 2u);
  EXPECT_EQ(cfg->tls[1].ca_certs, nullptr);
  EXPECT_EQ(a.interval, std::chrono::seconds(10));
  EXPECT_EQ(a.timeout, std::chrono::seconds(5));  // from [global]
  EXPECT_EQ(cfg->tls[1].endpoint.host, "::1");
  EXPECT_EQ(cfg->tls[1].endpoint.port, 443);
  EXPECT_EQ(cfg->tls[1].interval, std::chrono::seconds(30));
  EXPECT_EQ(cfg->tls[2].timeout, std::chrono::seconds(90));
}

TEST(Config, EmptyFileIsValidWithDefaults) {
  auto cfg = ParseConfig("", "/etc/x.toml");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->global.interval, std::chrono::seconds(60));
  EXPECT_EQ(cfg->global.timeout, std::chrono::seconds(10));
  EXPECT_EQ(cfg->global.concurrency, 256);
  EXPECT_EQ(cfg->global.skew, std::chrono::seconds(300));
  EXPECT_TRUE(cfg->tls.empty());
}

// `message` with "{f}" replaced by `file` and "{d}" by `dir`.
std::string Expand(std::string message, const std::string& file, const std::string& dir) {
  for (size_t pos; (pos = message.find("{f}")) != std::string::npos;) message.replace(pos, 3, file);
  for (size_t pos; (pos = message.find("{d}")) != std::string::npos;) message.replace(pos, 3, dir);
  return message;
}

struct InvalidCase {
  const char* file;
  const char* message;  // "{f}" stands for the file's path
};

class InvalidConfig : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidConfig, ExactMessage) {
  const InvalidCase& c = GetParam();
  std::string path = kDir + c.file;
  auto cfg = LoadConfig(path);
  ASSERT_FALSE(cfg.ok()) << c.file << " was accepted";
  EXPECT_EQ(cfg.error().reason, "config");
  EXPECT_EQ(cfg.error().detail, Expand(c.message, path, kDir));
}

INSTANTIATE_TEST_SUITE_P(
    Table, InvalidConfig,
    ::testing::Values(
        InvalidCase{"invalid-unknown-global-key.toml",
                    "{f}:3:1: global.intervall: unknown key"},
        InvalidCase{"invalid-unknown-tls-key.toml", "{f}:4:1: tls[0].servername: unknown key"},
        InvalidCase{"invalid-duplicate-name.toml",
                    "{f}:6:8: tls[1].name: duplicate name \"a\" (first used at line 2)"},
        InvalidCase{"invalid-bad-duration.toml",
                    "{f}:2:12: global.interval: invalid duration \"30 seconds\" (want e.g. "
                    "\"30s\", \"5m\", \"1h\")"},
        InvalidCase{"invalid-zero-timeout.toml",
                    "{f}:2:11: global.timeout: must be greater than zero"},
        InvalidCase{"invalid-huge-interval.toml",
                    "{f}:2:12: global.interval: must be at most 10y"},
        InvalidCase{"invalid-huge-skew.toml", "{f}:2:8: global.skew: must be at most 10y"},
        InvalidCase{"invalid-address-no-port.toml",
                    "{f}:3:11: tls[0].address: invalid address \"127.0.0.1\": want HOST:PORT"},
        InvalidCase{"invalid-address-bad-port.toml",
                    "{f}:3:11: tls[0].address: invalid address \"127.0.0.1:70000\": port "
                    "must be 1-65535"},
        InvalidCase{"invalid-address-ipv6-brackets.toml",
                    "{f}:3:11: tls[0].address: invalid address \"::1:443\": IPv6 addresses "
                    "need brackets, e.g. [::1]:443"},
        InvalidCase{"invalid-missing-ca-file.toml",
                    "{f}:4:11: tls[0].ca_file: cannot read file \"{d}missing-ca.pem\""},
        InvalidCase{"invalid-ca-file-not-pem.toml",
                    "{f}:4:11: tls[0].ca_file: {d}not-a-cert.pem: no PEM certificate found"},
        InvalidCase{"invalid-missing-name.toml", "{f}:1:1: tls[0].name: missing required key"},
        InvalidCase{"invalid-address-not-string.toml",
                    "{f}:3:11: tls[0].address: must be a string"},
        InvalidCase{"invalid-concurrency.toml",
                    "{f}:2:15: global.concurrency: must be between 1 and 100000"},
        InvalidCase{"invalid-syntax.toml",
                    "{f}:1:8: syntax error: Error while parsing table header: expected ']', "
                    "saw '\\n'"},
        InvalidCase{"invalid-tls-not-table.toml",
                    "{f}:1:7: tls: must be an array of tables ([[tls]])"},
        InvalidCase{"invalid-unknown-section.toml", "{f}:1:3: responders: unknown key"}),
    [](const ::testing::TestParamInfo<InvalidCase>& info) {
      std::string name = info.param.file;
      name = name.substr(0, name.find('.'));
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

TEST(Config, AllProblemsAreReportedAtOnce) {
  auto cfg = ParseConfig(
      "[global]\nbogus = 1\n[[tls]]\nname = \"x\"\naddress = \"nope\"\n", "/tmp/c.toml");
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.error().detail,
            "/tmp/c.toml:2:1: global.bogus: unknown key\n"
            "/tmp/c.toml:5:11: tls[0].address: invalid address \"nope\": want HOST:PORT");
}

TEST(Config, MissingFile) {
  auto cfg = LoadConfig("/nonexistent/ose.toml");
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.error().detail, "/nonexistent/ose.toml: cannot open config file");
}

TEST(ParseHostPort, Forms) {
  auto v4 = ParseHostPort("10.0.0.1:443");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "10.0.0.1");
  auto v6 = ParseHostPort("[2001:db8::1]:8443");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "2001:db8::1");
  EXPECT_EQ(v6->port, 8443);
  auto name = ParseHostPort("nats.example.net:4443");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->host, "nats.example.net");
  for (const char* bad : {":443", "host:", "host:0", "host:abc", "[::1]", "[nothost]:443",
                          "ho st:443", "host:123456"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace ose

namespace ose {
namespace {

// [[responder]], [[file]] and [[module]] against certificates made now.
class SectionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    namespace fs = std::filesystem;
    dir_ = (fs::temp_directory_path() / ("ose-sections-" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    int64_t now = std::time(nullptr);
    auto ca_key = testing::GenerateKey();
    auto ca = testing::IssueCert({.common_name = "CA", .not_before = now - 60,
                                  .not_after = now + 3600, .ca = true},
                                 ca_key.get(), nullptr, ca_key.get());
    auto key = testing::GenerateKey();
    auto aia = testing::IssueCert({.serial = 2, .not_before = now - 60, .not_after = now + 3600,
                                   .must_staple = true,
                                   .ocsp_url = "http://ocsp.example.net/a"},
                                  key.get(), ca.get(), ca_key.get());
    auto plain = testing::IssueCert({.serial = 3, .not_before = now - 60,
                                     .not_after = now + 3600},
                                    key.get(), ca.get(), ca_key.get());
    testing::WritePem(dir_ + "/ca.pem", {ca.get()});
    testing::WritePem(dir_ + "/aia-chain.pem", {aia.get(), ca.get()});
    testing::WritePem(dir_ + "/aia.pem", {aia.get()});
    testing::WritePem(dir_ + "/plain.pem", {plain.get()});
    // A CRL Distribution Point and no OCSP URL (Let's Encrypt since 2025).
    auto crl_only = testing::IssueCert({.serial = 4, .not_before = now - 60,
                                        .not_after = now + 3600,
                                        .crl_url = "http://crl.example.net/ca.crl"},
                                       key.get(), ca.get(), ca_key.get());
    testing::WritePem(dir_ + "/crl-only-chain.pem", {crl_only.get(), ca.get()});
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<Config> Parse(const std::string& text) { return ParseConfig(text, dir_ + "/c.toml"); }
  std::string F() const { return dir_ + "/c.toml"; }
  // Each text fails with exactly its message ({f}: the file, {d}: its directory).
  template <size_t N>
  void ExpectErrors(const std::pair<std::string, std::string> (&cases)[N]) {
    for (const auto& [text, message] : cases) {
      auto cfg = Parse(text);
      ASSERT_FALSE(cfg.ok()) << text;
      EXPECT_EQ(cfg.error().detail, Expand(message, F(), dir_)) << text;
    }
  }

  std::string dir_;
};

TEST_F(SectionsTest, ValidSections) {
  auto cfg = Parse(R"(
[global]
per_host_concurrency = 2
dns_servers = ["127.0.0.1", "127.0.0.1:5353", "[::1]:53", "::1"]

[[responder]]
name = "from-aia"
cert_file = "aia-chain.pem"

[[responder]]
name = "override"
cert_file = "plain.pem"
issuer_file = "ca.pem"
url = "http://127.0.0.1:8888"
method = "post"
nonce = true
timeout = "3s"

[[file]]
name = "staple"
path = "does-not-exist-yet.ocsp"
cert_file = "aia.pem"
issuer_file = "ca.pem"

[[module]]
name = "default"
server_name = "example.net"
ca_file = "ca.pem"
timeout = "5s"

[[crl]]
name = "ca-crl"
url = "http://crl.example.net/ca.crl"
issuer_file = "ca.pem"
max_size = 1048576
follow_redirects = true
interval = "10m"

[[crl]]
name = "ca-crl-on-disk"
path = "published/ca.crl"
issuer_file = "ca.pem"

[[tls]]
name = "a"
address = "127.0.0.1:1"
ca_file = "ca.pem"

[[tls]]
name = "b"
address = "127.0.0.1:2"
ca_file = "ca.pem"
)");
  ASSERT_TRUE(cfg.ok()) << cfg.error().detail;
  EXPECT_EQ(cfg->global.per_host_concurrency, 2);
  // Issue 11: [[crl]] targets.
  ASSERT_EQ(cfg->crls.size(), 2u);
  EXPECT_EQ(cfg->crls[0].url, "http://crl.example.net/ca.crl");
  EXPECT_EQ(cfg->crls[0].max_size, 1048576);
  EXPECT_TRUE(cfg->crls[0].follow_redirects);
  EXPECT_EQ(cfg->crls[0].interval, std::chrono::minutes(10));
  ASSERT_TRUE(cfg->crls[0].issuer && !cfg->crls[0].issuer->empty());
  EXPECT_EQ(cfg->crls[1].path, dir_ + "/published/ca.crl");
  EXPECT_EQ(cfg->crls[1].max_size, kDefaultCrlMaxSize);
  EXPECT_FALSE(cfg->crls[1].follow_redirects);
  // Issue 10: one ca_file is read and decoded once, whoever names it.
  ASSERT_EQ(cfg->tls.size(), 2u);
  ASSERT_TRUE(cfg->tls[0].ca_certs);
  EXPECT_EQ(cfg->tls[0].ca_certs.get(), cfg->tls[1].ca_certs.get());
  EXPECT_EQ(cfg->tls[0].ca_certs.get(), cfg->modules[0].ca_certs.get());
  EXPECT_EQ(cfg->global.dns_servers,
            (std::vector<std::string>{"127.0.0.1", "127.0.0.1:5353", "[::1]:53", "::1"}));
  ASSERT_EQ(cfg->responders.size(), 2u);
  EXPECT_EQ(cfg->responders[0].urls, std::vector<std::string>{"http://ocsp.example.net/a"});
  EXPECT_TRUE(cfg->responders[0].cert->must_staple);
  EXPECT_EQ(cfg->responders[0].method, HttpMethod::kAuto);
  EXPECT_FALSE(cfg->responders[0].nonce);
  EXPECT_EQ(cfg->responders[1].urls, std::vector<std::string>{"http://127.0.0.1:8888"});
  EXPECT_EQ(cfg->responders[1].method, HttpMethod::kPost);
  EXPECT_TRUE(cfg->responders[1].nonce);
  EXPECT_EQ(cfg->responders[1].timeout, std::chrono::seconds(3));
  EXPECT_FALSE(cfg->responders[1].cert->must_staple);
  ASSERT_EQ(cfg->files.size(), 1u);
  EXPECT_EQ(cfg->files[0].path, dir_ + "/does-not-exist-yet.ocsp");
  ASSERT_EQ(cfg->modules.size(), 1u);
  EXPECT_EQ(cfg->modules[0].server_name, "example.net");
  EXPECT_EQ(cfg->modules[0].ca_certs->size(), 1u);
}

TEST_F(SectionsTest, Revocation) {
  auto cfg = Parse(R"(
[global]
revocation = "both"

[[tls]]
name = "inherits"
address = "127.0.0.1:1"

[[tls]]
name = "ocsp-only"
address = "127.0.0.1:2"
revocation = "ocsp"

[[responder]]
name = "crl-only"
cert_file = "crl-only-chain.pem"
revocation = "crl"

[[responder]]
name = "both"
cert_file = "aia-chain.pem"

[[file]]
name = "staple"
path = "x.ocsp"
cert_file = "aia-chain.pem"
revocation = "crl"
)");
  ASSERT_TRUE(cfg.ok()) << cfg.error().detail;
  EXPECT_EQ(cfg->global.revocation, Revocation::kBoth);
  EXPECT_EQ(cfg->tls[0].revocation, Revocation::kBoth);
  EXPECT_EQ(cfg->tls[1].revocation, Revocation::kOcsp);
  EXPECT_EQ(cfg->responders[0].revocation, Revocation::kCrl);
  // No OCSP request, so no URL was needed (the certificate names none).
  EXPECT_TRUE(cfg->responders[0].urls.empty());
  EXPECT_EQ(cfg->responders[0].cert->crl_urls,
            std::vector<std::string>{"http://crl.example.net/ca.crl"});
  EXPECT_EQ(cfg->responders[1].revocation, Revocation::kBoth);
  EXPECT_EQ(cfg->files[0].revocation, Revocation::kCrl);
  // The default is OCSP alone, as before revocation existed.
  auto plain = Parse("[[tls]]\nname = \"a\"\naddress = \"127.0.0.1:1\"\n");
  ASSERT_TRUE(plain.ok()) << plain.error().detail;
  EXPECT_EQ(plain->tls[0].revocation, Revocation::kOcsp);

  const std::pair<std::string, std::string> cases[] = {
      {"[global]\nrevocation = \"crls\"\n",
       "{f}:2:14: global.revocation: must be ocsp, crl or both"},
      {"[[tls]]\nname = \"a\"\naddress = \"127.0.0.1:1\"\nrevocation = 1\n",
       "{f}:4:14: tls[0].revocation: must be a string"},
      // Without an OCSP request, a certificate without a CRL URL has nothing to check.
      {"[[responder]]\nname = \"r\"\ncert_file = \"aia-chain.pem\"\nrevocation = \"crl\"\n",
       "{f}:3:13: responder[0].cert_file: revocation = \"crl\" but the certificate names no "
       "CRL Distribution Point"},
      {"[[responder]]\nname = \"r\"\ncert_file = \"crl-only-chain.pem\"\n"
       "url = \"http://127.0.0.1:1\"\nrevocation = \"crl\"\n",
       "{f}:4:7: responder[0].url: revocation = \"crl\" sends no OCSP request; remove url or "
       "use \"both\""},
      // "both" still asks OCSP: the certificate must name a responder.
      {"[[responder]]\nname = \"r\"\ncert_file = \"crl-only-chain.pem\"\nrevocation = \"both\"\n",
       "{f}:3:13: responder[0].cert_file: the certificate names no OCSP responder (AIA); set url"},
  };
  ExpectErrors(cases);
}

TEST_F(SectionsTest, StartTls) {
  auto cfg = Parse(R"(
[[tls]]
name = "mx"
address = "mx.example.net:25"
starttls = "smtp"
starttls_ehlo = "monitor.example.net"

[[tls]]
name = "mx-default-ehlo"
address = "mx.example.net:587"
starttls = "smtp"

[[tls]]
name = "chat"
address = "chat.example.net:5222"
starttls = "xmpp"
server_name = "example.net"

[[module]]
name = "imap"
starttls = "imap"

[[discovery]]
name = "ldap"
files = ["ldap.json"]
starttls = "ldap"
)");
  ASSERT_TRUE(cfg.ok()) << cfg.error().detail;
  EXPECT_EQ(cfg->tls[0].starttls, StartTls::kSmtp);
  EXPECT_EQ(cfg->tls[0].starttls_ehlo, "monitor.example.net");
  EXPECT_EQ(cfg->tls[1].starttls_ehlo, DefaultEhloName());
  EXPECT_FALSE(cfg->tls[1].starttls_ehlo.empty());
  EXPECT_EQ(cfg->tls[2].starttls, StartTls::kXmpp);
  EXPECT_TRUE(cfg->tls[2].starttls_ehlo.empty());
  EXPECT_EQ(cfg->modules[0].starttls, StartTls::kImap);
  EXPECT_EQ(cfg->discovery[0].defaults.starttls, StartTls::kLdap);

  const std::pair<std::string, std::string> cases[] = {
      {"[[tls]]\nname = \"a\"\naddress = \"h:25\"\nstarttls = \"SMTP\"\n",
       "{f}:4:12: tls[0].starttls: must be smtp, imap, pop3, ftp, ldap, postgres or xmpp"},
      {"[[tls]]\nname = \"a\"\naddress = \"h:143\"\nstarttls = \"imap\"\n"
       "starttls_ehlo = \"me\"\n",
       "{f}:5:17: tls[0].starttls_ehlo: is the EHLO name of starttls = \"smtp\" only"},
      // CR LF in the EHLO name would start a second SMTP command.
      {"[[tls]]\nname = \"a\"\naddress = \"h:25\"\nstarttls = \"smtp\"\n"
       "starttls_ehlo = \"me\\r\\nMAIL FROM:<x>\"\n",
       "{f}:5:17: tls[0].starttls_ehlo: must be a host name or an address literal such as "
       "[192.0.2.1]"},
      {"[[module]]\nname = \"m\"\nstarttls = \"telnet\"\n",
       "{f}:3:12: module[0].starttls: must be smtp, imap, pop3, ftp, ldap, postgres or xmpp"},
  };
  ExpectErrors(cases);
}

TEST_F(SectionsTest, RevocationScopeAndModuleRevocation) {
  auto cfg = Parse(R"(
[global]
revocation = "crl"

[[tls]]
name = "www"
address = "www.example.net:443"
revocation_scope = "chain"

[[tls]]
name = "leaf-only"
address = "www.example.net:443"

[[module]]
name = "chain"
revocation = "both"
revocation_scope = "chain"

[[module]]
name = "plain"

[[discovery]]
name = "fleet"
files = ["fleet.json"]
revocation_scope = "chain"
)");
  ASSERT_TRUE(cfg.ok()) << cfg.error().detail;
  EXPECT_EQ(cfg->tls[0].revocation_scope, RevocationScope::kChain);
  EXPECT_EQ(cfg->tls[0].revocation, Revocation::kCrl);
  EXPECT_EQ(cfg->tls[1].revocation_scope, RevocationScope::kLeaf);
  EXPECT_EQ(cfg->modules[0].revocation, Revocation::kBoth);
  EXPECT_EQ(cfg->modules[0].revocation_scope, RevocationScope::kChain);
  EXPECT_EQ(cfg->modules[1].revocation, Revocation::kOcsp) << "not [global]'s: an opt-in";
  EXPECT_EQ(cfg->modules[1].revocation_scope, RevocationScope::kLeaf);
  EXPECT_EQ(cfg->discovery[0].defaults.revocation_scope, RevocationScope::kChain);

  const std::pair<std::string, std::string> cases[] = {
      {"[[tls]]\nname = \"a\"\naddress = \"h:443\"\nrevocation_scope = \"all\"\n",
       "{f}:4:20: tls[0].revocation_scope: must be leaf or chain"},
      {"[[module]]\nname = \"m\"\nrevocation = \"ldap\"\n",
       "{f}:3:14: module[0].revocation: must be ocsp, crl or both"},
  };
  ExpectErrors(cases);
}

TEST_F(SectionsTest, AddressesAndHandshakes) {
  auto cfg = Parse(R"(
[[tls]]
name = "lb"
address = "fleet.example.net:443"
addresses = "all"
handshakes = 10

[[tls]]
name = "plain"
address = "127.0.0.1:443"

[[module]]
name = "fleet"
addresses = "all"
handshakes = 3
)");
  ASSERT_TRUE(cfg.ok()) << cfg.error().detail;
  EXPECT_TRUE(cfg->tls[0].all_addresses);
  EXPECT_EQ(cfg->tls[0].handshakes, 10);
  EXPECT_FALSE(cfg->tls[1].all_addresses);  // "first", as before
  EXPECT_EQ(cfg->tls[1].handshakes, 1);
  EXPECT_TRUE(cfg->modules[0].all_addresses);
  EXPECT_EQ(cfg->modules[0].handshakes, 3);

  const std::pair<std::string, std::string> cases[] = {
      {"[[tls]]\nname = \"a\"\naddress = \"127.0.0.1:1\"\naddresses = \"every\"\n",
       "{f}:4:13: tls[0].addresses: must be first or all"},
      {"[[tls]]\nname = \"a\"\naddress = \"127.0.0.1:1\"\nhandshakes = 11\n",
       "{f}:4:14: tls[0].handshakes: must be between 1 and 10"},
      {"[[tls]]\nname = \"a\"\naddress = \"127.0.0.1:1\"\nhandshakes = 0\n",
       "{f}:4:14: tls[0].handshakes: must be between 1 and 10"},
      {"[[module]]\nname = \"m\"\nhandshakes = \"3\"\n",
       "{f}:3:14: module[0].handshakes: must be an integer"},
  };
  ExpectErrors(cases);
}

TEST_F(SectionsTest, Discovery) {
  auto cfg = Parse(R"(
[[discovery]]
name = "web"
files = ["sd/*.json", "/etc/ose/sd/static.yml"]
refresh_interval = "10s"
server_name = "www.example.net"
interval = "30s"
addresses = "all"
handshakes = 2
revocation = "both"
)");
  ASSERT_TRUE(cfg.ok()) << cfg.error().detail;
  ASSERT_EQ(cfg->discovery.size(), 1u);
  const DiscoveryConfig& d = cfg->discovery[0];
  EXPECT_EQ(d.name, "web");
  ASSERT_EQ(d.files.size(), 2u);
  EXPECT_TRUE(d.files[0].ends_with("/sd/*.json")) << d.files[0];
  EXPECT_EQ(d.files[0].front(), '/');  // resolved against the config's folder
  EXPECT_EQ(d.files[1], "/etc/ose/sd/static.yml");
  EXPECT_EQ(d.refresh_interval, std::chrono::seconds(10));
  EXPECT_EQ(d.defaults.server_name, "www.example.net");
  EXPECT_EQ(d.defaults.interval, std::chrono::seconds(30));
  EXPECT_EQ(d.defaults.timeout, std::chrono::seconds(10));  // [global]'s
  EXPECT_TRUE(d.defaults.all_addresses);
  EXPECT_EQ(d.defaults.handshakes, 2);
  EXPECT_EQ(d.defaults.revocation, Revocation::kBoth);
  auto plain = Parse("[[discovery]]\nname = \"d\"\nfiles = [\"a.json\"]\n");
  ASSERT_TRUE(plain.ok()) << plain.error().detail;
  EXPECT_EQ(plain->discovery[0].refresh_interval, std::chrono::seconds(30));

  const std::pair<std::string, std::string> cases[] = {
      {"[[discovery]]\nname = \"d\"\n", "{f}:1:1: discovery[0].files: missing required key"},
      {"[[discovery]]\nname = \"d\"\nfiles = []\n",
       "{f}:3:9: discovery[0].files: must be a non-empty list of file paths or patterns"},
      {"[[discovery]]\nname = \"d\"\nfiles = [\"sd.txt\"]\n",
       "{f}:3:10: discovery[0].files[0]: must end in .json, .yml or .yaml (the file_sd format)"},
      {"[[discovery]]\nname = \"d\"\nfiles = [1]\n",
       "{f}:3:10: discovery[0].files[0]: must be a non-empty string"},
      {"[[discovery]]\nname = \"d\"\nfiles = [\"a.json\"]\naddress = \"x:1\"\n",
       "{f}:4:1: discovery[0].address: unknown key"},
      {"[[discovery]]\nname = \"d\"\nfiles = [\"a.json\"]\nhandshakes = 20\n",
       "{f}:4:14: discovery[0].handshakes: must be between 1 and 10"},
  };
  ExpectErrors(cases);
}

TEST_F(SectionsTest, ProbePolicy) {
  auto cfg = Parse("[probe]\nenabled = true\nallow = [\"10.0.0.0/8\", \"*.example.net:443\"]\n"
                   "deny = [\"10.6.6.0/24\"]\n");
  ASSERT_TRUE(cfg.ok()) << cfg.error().detail;
  EXPECT_TRUE(cfg->probe.enabled);
  ASSERT_EQ(cfg->probe.allow.size(), 2u);
  EXPECT_TRUE(cfg->probe.allow[0].cidr);
  EXPECT_EQ(cfg->probe.allow[1].host, "*.example.net");
  ASSERT_EQ(cfg->probe.deny.size(), 1u);
  EXPECT_TRUE(Parse("").value().probe.enabled) << "enabled by default";
  const std::pair<std::string, std::string> cases[] = {
      {"[probe]\nallow = [\"10.0.0.0/40\"]\n",
       "{f}:2:10: probe.allow: \"10.0.0.0/40\": prefix length must be 0-32"},
      {"[probe]\ndeny = \"10.0.0.0/8\"\n",
       "{f}:2:8: probe.deny: must be an array of CIDRs and \"host:port\" patterns"},
      {"[probe]\nallowed = []\n", "{f}:2:1: probe.allowed: unknown key"},
  };
  ExpectErrors(cases);
}

// Issue 20 point 4: [fetch] (the same patterns, no `enabled`) and the CRL
// store's bound.
TEST_F(SectionsTest, FetchPolicyAndCrlCacheBound) {
  auto cfg = Parse("[global]\ncrl_cache_max_bytes = 1048576\n"
                   "[fetch]\nallow = [\"*.pki.example:80\"]\ndeny = [\"10.0.0.0/8\"]\n");
  ASSERT_TRUE(cfg.ok()) << cfg.error().detail;
  EXPECT_EQ(cfg->global.crl_cache_max_bytes, 1048576);
  EXPECT_EQ(cfg->fetch.table, "[fetch]");
  ASSERT_EQ(cfg->fetch.allow.size(), 1u);
  ASSERT_EQ(cfg->fetch.deny.size(), 1u);
  EXPECT_TRUE(cfg->fetch.deny[0].cidr);
  EXPECT_EQ(Parse("").value().global.crl_cache_max_bytes, int64_t{512} << 20);
  const std::pair<std::string, std::string> cases[] = {
      {"[fetch]\nenabled = false\n", "{f}:2:1: fetch.enabled: unknown key"},
      {"[fetch]\ndeny = [\"nope\"]\n",
       "{f}:2:9: fetch.deny: \"nope\": want a CIDR, an IP address, or HOST:PORT (PORT may be *)"},
      {"[global]\ncrl_cache_max_bytes = 10\n",
       "{f}:2:23: global.crl_cache_max_bytes: must be between 1048576 and 1099511627776"},
  };
  ExpectErrors(cases);
}

TEST(Shard, PrometheusHashmod) {
  // Last 8 bytes of MD5, big-endian (values from Python's hashlib).
  EXPECT_EQ(HashMod("nginx-good", UINT64_MAX), 10710954452188596849ull % UINT64_MAX);
  EXPECT_EQ(HashMod("nginx-good", 3), 0u);
  EXPECT_EQ(HashMod("nginx-good", 10), 9u);
  EXPECT_EQ(HashMod("a", 3), 1u);
  EXPECT_EQ(HashMod("target-7", 3), 2u);
  EXPECT_EQ(HashMod("", 10), 8u);
  GlobalConfig g;
  EXPECT_TRUE(InShard("anything", g)) << "one shard: everything";
  g.shard_count = 3;
  g.shard_index = 2;
  EXPECT_TRUE(InShard("target-7", g));
  EXPECT_FALSE(InShard("a", g));
}

TEST_F(SectionsTest, ShardKeys) {
  auto cfg = Parse("[global]\nshard_index = 2\nshard_count = 3\n");
  ASSERT_TRUE(cfg.ok()) << cfg.error().detail;
  EXPECT_EQ(cfg->global.shard_index, 2);
  EXPECT_EQ(cfg->global.shard_count, 3);
  const std::pair<std::string, std::string> cases[] = {
      {"[global]\nshard_index = 3\nshard_count = 3\n",
       "{f}:2:15: global.shard_index: must be less than shard_count (3)"},
      {"[global]\nshard_count = 0\n", "{f}:2:15: global.shard_count: must be between 1 and 100000"},
  };
  ExpectErrors(cases);
}

TEST_F(SectionsTest, Stapler) {
  auto cfg = Parse(R"(
[stapler]
store_dir = "store"
min_refresh = "1m"
max_refresh = "30m"
failure_backoff = "10s"
exit_on_fatal = true
fatal_command = "logger fatal"

[[stapler.certificate]]
name = "api"
cert_file = "aia-chain.pem"
mode = "must"
output_file = "out/api.ocsp"
haproxy_socket = "/run/haproxy.sock"
reload_command = "nginx -s reload"

[[stapler.certificate]]
name = "other"
cert_file = "plain.pem"
issuer_file = "ca.pem"
url = "http://127.0.0.1:1"
revocation = "both"

# No OCSP URL at all: auto accepts it (the engine skips it).
[[stapler.certificate]]
name = "no-url"
cert_file = "plain.pem"
issuer_file = "ca.pem"
mode = "auto"
)");
  ASSERT_TRUE(cfg.ok()) << cfg.error().detail;
  const StaplerConfig& s = cfg->stapler;
  EXPECT_EQ(s.store_dir, dir_ + "/store");
  EXPECT_EQ(s.min_refresh, std::chrono::minutes(1));
  EXPECT_EQ(s.max_refresh, std::chrono::minutes(30));
  EXPECT_EQ(s.failure_backoff, std::chrono::seconds(10));
  EXPECT_TRUE(s.exit_on_fatal);
  EXPECT_EQ(s.fatal_command, "logger fatal");
  ASSERT_EQ(s.certificates.size(), 3u);
  EXPECT_TRUE(s.certificates[2].urls.empty());
  EXPECT_EQ(s.certificates[0].mode, "must");
  EXPECT_EQ(s.certificates[0].urls, std::vector<std::string>{"http://ocsp.example.net/a"});
  EXPECT_EQ(s.certificates[0].output_file, dir_ + "/out/api.ocsp");
  EXPECT_EQ(s.certificates[0].haproxy_socket, "/run/haproxy.sock");
  EXPECT_EQ(s.certificates[1].mode, "auto");
  EXPECT_EQ(s.certificates[1].urls, std::vector<std::string>{"http://127.0.0.1:1"});
  EXPECT_EQ(s.certificates[0].revocation, Revocation::kOcsp);
  EXPECT_EQ(s.certificates[1].revocation, Revocation::kBoth);
}

TEST_F(SectionsTest, Errors) {
  const std::pair<std::string, std::string> cases[] = {
      {"[[responder]]\nname = \"r\"\n", "{f}:1:1: responder[0].cert_file: missing required key"},
      {"[[responder]]\nname = \"r\"\ncert_file = \"plain.pem\"\nissuer_file = \"ca.pem\"\n",
       "{f}:3:13: responder[0].cert_file: the certificate names no OCSP responder (AIA); set "
       "url"},
      // Issue 11.1: must/always without any OCSP URL can never staple.
      {"[stapler]\nstore_dir = \"s\"\n[[stapler.certificate]]\nname = \"nourl\"\n"
       "cert_file = \"plain.pem\"\nissuer_file = \"ca.pem\"\nmode = \"must\"\n",
       "{f}:5:13: stapler.certificate[0].cert_file: certificate \"nourl\" names no OCSP "
       "responder (AIA) and mode is must: it can never be stapled; set url"},
      {"[[responder]]\nname = \"r\"\ncert_file = \"plain.pem\"\n",
       "{f}:3:13: responder[0].cert_file: the issuer of CN=leaf.test is in neither {d}/plain.pem"},
      {"[[responder]]\nname = \"r\"\ncert_file = \"aia.pem\"\nissuer_file = \"plain.pem\"\n",
       "{f}:4:15: responder[0].issuer_file: the issuer of CN=leaf.test is in neither "
       "{d}/aia.pem nor {d}/plain.pem"},
      {"[[responder]]\nname = \"r\"\ncert_file = \"aia-chain.pem\"\nmethod = \"put\"\n",
       "{f}:4:10: responder[0].method: must be auto, get or post"},
      {"[[responder]]\nname = \"r\"\ncert_file = \"aia-chain.pem\"\nurl = \"ftp://x\"\n",
       "{f}:4:7: responder[0].url: must start with http:// or https://"},
      {"[[responder]]\nname = \"r\"\ncert_file = \"aia-chain.pem\"\nnonce = \"yes\"\n",
       "{f}:4:9: responder[0].nonce: must be true or false"},
      {"[[file]]\nname = \"f\"\ncert_file = \"aia-chain.pem\"\n",
       "{f}:1:1: file[0].path: missing required key"},
      {"[[tls]]\nname = \"x\"\naddress = \"h:1\"\n[[file]]\nname = \"x\"\npath = \"p\"\n"
       "cert_file = \"aia-chain.pem\"\n",
       "{f}:5:8: file[0].name: duplicate name \"x\" (first used at line 2)"},
      {"[[module]]\nname = \"m\"\n[[module]]\nname = \"m\"\n",
       "{f}:4:8: module[1].name: duplicate name \"m\" (first used at line 2)"},
      {"[[module]]\nname = \"m\"\nservername = \"x\"\n", "{f}:3:1: module[0].servername: unknown key"},
      {"[global]\nper_host_concurrency = 0\n",
       "{f}:2:24: global.per_host_concurrency: must be between 1 and 1000"},
      // Issue 11: a CRL comes from a URL or a file, never both or neither.
      {"[[crl]]\nname = \"c\"\nurl = \"http://x/c.crl\"\npath = \"c.crl\"\n"
       "issuer_file = \"ca.pem\"\n",
       "{f}:4:8: crl[0].path: set url or path, not both"},
      {"[[crl]]\nname = \"c\"\nissuer_file = \"ca.pem\"\n",
       "{f}:1:1: crl[0].url: missing required key (url, or path for a local file)"},
      {"[[crl]]\nname = \"c\"\nurl = \"ldap://x/c.crl\"\nissuer_file = \"ca.pem\"\n",
       "{f}:3:7: crl[0].url: must start with http:// or https://"},
      {"[[crl]]\nname = \"c\"\nurl = \"http://x/c.crl\"\n",
       "{f}:1:1: crl[0].issuer_file: missing required key"},
      {"[[crl]]\nname = \"c\"\nurl = \"http://x/c.crl\"\nissuer_file = \"ca.pem\"\n"
       "max_size = 0\n",
       "{f}:5:12: crl[0].max_size: must be between 1 and 4294967296"},
      // Issue 10: resolvers are IP[:port]; a name would need a resolver itself.
      {"[global]\ndns_servers = [\"dns.example.net\"]\n",
       "{f}:2:16: global.dns_servers: dns_servers entry \"dns.example.net\": not an IP address "
       "(IP, IP:port or [IPv6]:port)"},
      {"[global]\ndns_servers = [\"127.0.0.1:0\"]\n",
       "{f}:2:16: global.dns_servers: dns_servers entry \"127.0.0.1:0\": port must be 1-65535"},
      {"[global]\ndns_servers = [\"[::1\"]\n",
       "{f}:2:16: global.dns_servers: dns_servers entry \"[::1\": missing ']'"},
      {"[global]\ndns_servers = \"127.0.0.1\"\n",
       "{f}:2:15: global.dns_servers: must be an array of \"IP[:port]\" strings"},
      {"[stapler]\n[[stapler.certificate]]\nname = \"a\"\ncert_file = \"aia-chain.pem\"\n",
       "{f}:1:1: stapler.store_dir: missing required key"},
      {"[stapler]\nstore_dir = \"s\"\n[[stapler.certificate]]\nname = \"a\"\n"
       "cert_file = \"aia-chain.pem\"\nmode = \"sometimes\"\n",
       "{f}:6:8: stapler.certificate[0].mode: must be auto, must, always or never"},
      {"[stapler]\nstore_dir = \"s\"\nretry = \"1s\"\n", "{f}:3:1: stapler.retry: unknown key"},
      {"[stapler]\nmin_refresh = \"2h\"\n",
       "{f}:1:1: stapler.min_refresh: must not exceed max_refresh"},
      {"[stapler]\nstore_dir = \"s\"\n[[stapler.certificate]]\nname = \"a\"\n"
       "cert_file = \"aia-chain.pem\"\n[[stapler.certificate]]\nname = \"a\"\n"
       "cert_file = \"aia-chain.pem\"\n",
       "{f}:7:8: stapler.certificate[1].name: duplicate name \"a\" (first used at line 4)"},
      // A device where a certificate is expected: refused at once, not read forever.
      {"[[responder]]\nname = \"r\"\ncert_file = \"/dev/zero\"\n",
       "{f}:3:13: responder[0].cert_file: /dev/zero: is a character device"},
      // A staple must never overwrite a certificate, the config or another staple.
      {"[stapler]\nstore_dir = \"s\"\n[[stapler.certificate]]\nname = \"a\"\n"
       "cert_file = \"aia-chain.pem\"\noutput_file = \"aia-chain.pem\"\n",
       "{f}:6:15: stapler.certificate[0].output_file: \"{d}/aia-chain.pem\" is also "
       "certificate a cert_file: a staple would overwrite it"},
      {"[[responder]]\nname = \"r\"\ncert_file = \"aia.pem\"\nissuer_file = \"aia-chain.pem\"\n"
       "[stapler]\nstore_dir = \"s\"\n[[stapler.certificate]]\nname = \"a\"\n"
       "cert_file = \"aia-chain.pem\"\noutput_file = \"./aia.pem\"\n",
       "{f}:10:15: stapler.certificate[0].output_file: \"{d}/aia.pem\" is also "
       "responder r cert_file: a staple would overwrite it"},
      {"[stapler]\nstore_dir = \"s\"\n[[stapler.certificate]]\nname = \"a\"\n"
       "cert_file = \"aia-chain.pem\"\noutput_file = \"x.ocsp\"\n[[stapler.certificate]]\n"
       "name = \"b\"\ncert_file = \"aia-chain.pem\"\noutput_file = \"x.ocsp\"\n",
       "{f}:10:15: stapler.certificate[1].output_file: \"{d}/x.ocsp\" is also the "
       "output_file of certificate a"},
      {"[stapler]\nstore_dir = \"s\"\n[[stapler.certificate]]\nname = \"a\"\n"
       "cert_file = \"aia-chain.pem\"\noutput_file = \"s/a.der\"\n",
       "{f}:6:15: stapler.certificate[0].output_file: must not be inside store_dir (the "
       "engine's own cache)"},
  };
  ExpectErrors(cases);
}

}  // namespace
}  // namespace ose
