// --web.config.file in exporter-toolkit's format, against certificates and
// keys made now, and bcrypt hashes made by the system's crypt library.
#include "ocsp_staple_exporter/http/web_config.h"

#include <crypt.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <iterator>

#include "ocsp_staple_exporter/http/basic_auth.h"
#include "pki.h"

namespace ose {
namespace {

// A bcrypt hash made as htpasswd -B does (cost 4: fast tests).
std::string Bcrypt(const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn("$2y$", 4, nullptr, 0, salt, sizeof salt), nullptr);
  crypt_data data{};
  const char* h = crypt_rn(password.c_str(), salt, &data, sizeof data);
  EXPECT_NE(h, nullptr);
  return h;
}

class WebConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("ose-web-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::create_directories(dir_);
    const int64_t now = std::time(nullptr);
    auto ca = testing::MakeTestCa(now, "Web CA");
    auto key = testing::GenerateKey();
    auto cert = testing::IssueCert({.common_name = "localhost", .serial = 2,
                                    .not_before = now - 60, .not_after = now + 3600},
                                   key.get(), ca.cert.get(), ca.key.get());
    testing::WritePem(dir_ + "/server.pem", {cert.get(), ca.cert.get()});
    testing::WriteKeyPem(dir_ + "/server.key", key.get());
    testing::WritePem(dir_ + "/ca.pem", {ca.cert.get()});
    auto other = testing::GenerateKey();
    testing::WriteKeyPem(dir_ + "/other.key", other.get());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<WebConfig> Parse(const std::string& text) {
    return ParseWebConfig(text, dir_ + "/web.yml");
  }
  std::string dir_;
};

TEST_F(WebConfigTest, FullConfig) {
  const std::string hash = Bcrypt("secret");
  auto cfg = Parse("tls_server_config:\n"
                   "  cert_file: server.pem\n"
                   "  key_file: server.key\n"
                   "  client_auth_type: RequireAndVerifyClientCert\n"
                   "  client_ca_file: ca.pem\n"
                   "  min_version: TLS13\n"
                   "basic_auth_users:\n"
                   "  prometheus: " + hash + "\n"
                   "http_server_config:\n"
                   "  http2: true\n"
                   "  headers:\n"
                   "    X-Frame-Options: deny\n"
                   "    Content-Security-Policy: \"default-src 'none'\"\n");
  ASSERT_TRUE(cfg.ok()) << cfg.error().detail;
  ASSERT_TRUE(cfg->tls);
  EXPECT_EQ(cfg->tls->cert_file, dir_ + "/server.pem");
  EXPECT_EQ(cfg->tls->client_auth, ClientAuth::kRequireAndVerifyClientCert);
  EXPECT_EQ(cfg->tls->min_version, TLS1_3_VERSION);
  EXPECT_EQ(cfg->tls->max_version, 0);
  EXPECT_EQ(cfg->basic_auth_users.at("prometheus"), hash);
  ASSERT_EQ(cfg->headers.size(), 2u);
  EXPECT_EQ(cfg->headers[1].second, "default-src 'none'");
  auto ctx = BuildServerTlsContext(*cfg->tls);
  ASSERT_TRUE(ctx.ok()) << ctx.error().detail;
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx->get()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_verify_mode(ctx->get()),
            SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
}

TEST_F(WebConfigTest, EmptyFileMeansPlainHttpWithoutAuth) {
  for (const char* text : {"", "# nothing\n", "tls_server_config:\n"}) {
    auto cfg = Parse(text);
    ASSERT_TRUE(cfg.ok()) << text << cfg.error().detail;
    EXPECT_FALSE(cfg->tls) << text;
    EXPECT_TRUE(cfg->basic_auth_users.empty());
  }
}

TEST_F(WebConfigTest, ErrorsNameFileLineColumnAndKey) {
  const std::string f = dir_ + "/web.yml";
  const std::pair<std::string, std::string> cases[] = {
      {"tls_server_config: [\n", f + ":2:1: syntax error: end of sequence flow not found"},
      {"tls_config:\n  cert_file: x\n", f + ":1:1: tls_config: unknown key"},
      {"tls_server_config:\n  cert_file: server.pem\n",
       f + ":2:3: tls_server_config.key_file: missing required key"},
      {"tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
       "  client_auth_type: Sometimes\n",
       f + ":4:21: tls_server_config.client_auth_type: must be NoClientCert, RequestClientCert, "
           "RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert"},
      {"tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
       "  client_auth_type: RequireAndVerifyClientCert\n",
       f + ":2:3: tls_server_config.client_ca_file: client_auth_type verifies client "
           "certificates: set the CA that issues them"},
      {"tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
       "  min_version: TLS14\n",
       f + ":4:16: tls_server_config.min_version: must be TLS10, TLS11, TLS12 or TLS13"},
      {"tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
       "  min_version: TLS13\n  max_version: TLS12\n",
       f + ":2:3: tls_server_config.max_version: is lower than min_version"},
      {"tls_server_config:\n  cert_file: missing.pem\n  key_file: server.key\n",
       f + ":2:14: tls_server_config.cert_file: " + dir_ + "/missing.pem: no such file"},
      {"basic_auth_users:\n  alice: secret\n",
       f + ":2:10: basic_auth_users.alice: must be a bcrypt hash ($2y$10$..., as htpasswd "
           "-nBC 10 makes), not a password"},
      {"http_server_config:\n  headers:\n    Server: nginx\n",
       f + ":3:5: http_server_config.headers.Server: this header can not be configured"},
      {"http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
       f + ":3:22: http_server_config.headers.X-Frame-Options: must be one of: deny, "
           "sameorigin"},
  };
  for (const auto& [text, message] : cases) {
    auto cfg = Parse(text);
    ASSERT_FALSE(cfg.ok()) << text;
    EXPECT_EQ(cfg.error().detail, message) << text;
  }
}

TEST_F(WebConfigTest, KeyThatDoesNotMatchTheCertificateIsRefused) {
  auto cfg = Parse("tls_server_config:\n  cert_file: server.pem\n  key_file: other.key\n");
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.error().detail.find("the private key does not match"), std::string::npos)
      << cfg.error().detail;
  EXPECT_NE(cfg.error().detail.find(dir_ + "/web.yml: "), std::string::npos);
}

// The web configs we ship (deploy/) parse, with their certificate and key
// paths pointed at files made now.
TEST_F(WebConfigTest, ShippedExamplesParse) {
  auto point = [&](std::string text) {
    for (const char* from : {"/etc/ocsp_staple_exporter/tls/server.pem",
                             "/etc/ocsp_staple_exporter/tls/tls.crt"}) {
      for (size_t at; (at = text.find(from)) != std::string::npos;) {
        text.replace(at, std::strlen(from), dir_ + "/server.pem");
      }
    }
    for (const char* from : {"/run/credentials/ocsp_staple_exporter.service/server.key",
                             "/etc/ocsp_staple_exporter/tls/tls.key"}) {
      for (size_t at; (at = text.find(from)) != std::string::npos;) {
        text.replace(at, std::strlen(from), dir_ + "/server.key");
      }
    }
    return text;
  };
  std::ifstream plain(OSE_SOURCE_DIR "/deploy/web-config.yml");
  std::string text((std::istreambuf_iterator<char>(plain)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(text.empty());
  auto cfg = Parse(point(text));
  ASSERT_TRUE(cfg.ok()) << cfg.error().detail;
  EXPECT_TRUE(cfg->tls);
  EXPECT_EQ(cfg->basic_auth_users.count("prometheus"), 1u);
  // The Kubernetes Secret's embedded file (indented under "web-config.yml: |").
  std::ifstream k8s(OSE_SOURCE_DIR "/deploy/kubernetes/web-config-secret.yaml");
  std::string line, embedded;
  bool in = false;
  while (std::getline(k8s, line)) {
    if (line.find("web-config.yml: |") != std::string::npos) {
      in = true;
      continue;
    }
    if (in && line.rfind("    ", 0) != 0 && !line.empty()) break;
    if (in) embedded += (line.size() >= 4 ? line.substr(4) : "") + "\n";
  }
  auto secret = Parse(point(embedded));
  ASSERT_TRUE(secret.ok()) << secret.error().detail << "\n" << embedded;
  EXPECT_EQ(secret->basic_auth_users.size(), 2u);
}

TEST(BcryptHash, Shapes) {
  EXPECT_TRUE(IsBcryptHash(Bcrypt("x")));
  EXPECT_TRUE(IsBcryptHash("$2b$10$dRElcESVxL/loQzTtX8yDO4HAi.C3hxGJWJvDhToDk38yzKZftr8y"));
  EXPECT_FALSE(IsBcryptHash("$2b$03$dRElcESVxL/loQzTtX8yDO4HAi.C3hxGJWJvDhToDk38yzKZftr8y"));
  EXPECT_FALSE(IsBcryptHash("$2x$10$dRElcESVxL/loQzTtX8yDO4HAi.C3hxGJWJvDhToDk38yzKZftr8y"));
  EXPECT_FALSE(IsBcryptHash("$2b$10$dRElcESVxL/loQzTtX8yDO4HAi.C3hxGJWJvDhToDk38yzKZftr8"));
  EXPECT_FALSE(IsBcryptHash("$2b$10$dRElcESVxL/loQzTtX8yDO4HAi.C3hxGJWJvDhToDk38yzKZftr8!"));
  EXPECT_FALSE(IsBcryptHash("$6$salt$hash"));
}

TEST(BasicAuthorization, Parses) {
  auto ok = ParseBasicAuthorization("Basic cHJvbTpzM2NyZXQ6d2l0aDpjb2xvbnM=");  // prom:s3cret:with:colons
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->first, "prom");
  EXPECT_EQ(ok->second, "s3cret:with:colons");
  auto lower = ParseBasicAuthorization("basic YTo=");  // a: (empty password)
  ASSERT_TRUE(lower);
  EXPECT_EQ(lower->first, "a");
  EXPECT_EQ(lower->second, "");
  for (const char* bad : {"", "Basic", "Basic ", "Bearer cHJvbTpz", "Basic !!!!",
                          "Basic z=======" /* found by fuzz_http: more padding than data */,
                          "Basic ====", "Basic YT0=YTo=", "Basic YTo===",
                          "Basic cHJvbQ==" /* no colon */, "Basic cHJvbTpzM2NyZXQ"}) {
    EXPECT_FALSE(ParseBasicAuthorization(bad)) << bad;
  }
}

TEST(BasicAuthChecker, ChecksOnceAndCachesOutcomes) {
  const std::map<std::string, std::string> users = {{"prom", Bcrypt("s3cret")}};
  BasicAuthChecker auth;
  const std::string good = "Basic cHJvbTpzM2NyZXQ=";  // prom:s3cret
  EXPECT_TRUE(auth.Check(users, good));
  EXPECT_TRUE(auth.Check(users, good));
  EXPECT_EQ(auth.bcrypt_checks(), 1u) << "the second check is answered from the cache";
  EXPECT_FALSE(auth.Check(users, "Basic cHJvbTp3cm9uZw=="));  // prom:wrong
  EXPECT_FALSE(auth.Check(users, "Basic cHJvbTp3cm9uZw=="));
  EXPECT_EQ(auth.bcrypt_checks(), 2u) << "failures are cached too";
  // An unknown user costs a bcrypt (of a decoy hash) and never passes.
  EXPECT_FALSE(auth.Check(users, "Basic ZXZlOnMzY3JldA=="));  // eve:s3cret
  EXPECT_EQ(auth.bcrypt_checks(), 3u);
  EXPECT_FALSE(auth.Check(users, ""));
  // A changed hash (the web config was edited) is checked again.
  const std::map<std::string, std::string> changed = {{"prom", Bcrypt("other")}};
  EXPECT_FALSE(auth.Check(changed, good));
  EXPECT_EQ(auth.bcrypt_checks(), 4u);
}

}  // namespace
}  // namespace ose
