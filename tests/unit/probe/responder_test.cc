#include "ocsp_staple_exporter/probe/responder_prober.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <ctime>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "ocsp_staple_exporter/ocsp/certificate.h"
#include "pki.h"

namespace ose {
namespace {

namespace fs = std::filesystem;
using testing::GenerateKey;
using testing::IssueCert;

class ResponderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ = std::time(nullptr);
    ca_key_ = GenerateKey();
    ca_ = IssueCert({.common_name = "CA", .not_before = now_ - 60, .not_after = now_ + 86400,
                     .ca = true},
                    ca_key_.get(), nullptr, ca_key_.get());
    leaf_key_ = GenerateKey();
    leaf_ = IssueCert({.serial = 77, .not_before = now_ - 60, .not_after = now_ + 86400,
                       .must_staple = true, .ocsp_url = "http://ocsp.example.net/"},
                      leaf_key_.get(), ca_.get(), ca_key_.get());
    dir_ = fs::temp_directory_path() /
           ("ose-resp-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<uint8_t> Good(OCSP_REQUEST* nonce_from = nullptr) {
    testing::ResponseSpec spec;
    spec.this_update = now_ - 60;
    spec.next_update = now_ + 3600;
    spec.copy_nonce_from = nonce_from;
    return testing::MakeResponse(spec, leaf_.get(), ca_.get(), ca_.get(), ca_key_.get());
  }

  FileTarget File(const std::string& name) {
    FileTarget t;
    t.name = name;
    t.path = (dir_ / name).string();
    auto c = std::make_shared<LoadedCert>();
    c->cert = ShareX509(leaf_.get());
    c->issuer = ShareX509(ca_.get());
    c->must_staple = true;
    t.cert = c;
    return t;
  }

  void Write(const std::string& name, const std::string& bytes) {
    std::ofstream((dir_ / name).string(), std::ios::binary) << bytes;
  }

  int64_t now_ = 0;
  EvpPkeyPtr ca_key_, leaf_key_;
  X509Ptr ca_, leaf_;
  fs::path dir_;
};

TEST_F(ResponderTest, RequestHasTheSha1CertIdAndOptionalNonce) {
  for (bool nonce : {false, true}) {
    auto req = BuildOcspRequest(leaf_.get(), ca_.get(), nonce);
    ASSERT_TRUE(req.ok()) << req.error().detail;
    const unsigned char* p = req->der.data();
    OcspRequestPtr parsed(d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(req->der.size())));
    ASSERT_TRUE(parsed);
    ASSERT_EQ(OCSP_request_onereq_count(parsed.get()), 1);
    OCSP_CERTID* id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(parsed.get(), 0));
    OcspCertIdPtr want(OCSP_cert_to_id(EVP_sha1(), leaf_.get(), ca_.get()));
    EXPECT_EQ(OCSP_id_cmp(id, want.get()), 0);
    EXPECT_EQ(OCSP_REQUEST_get_ext_by_NID(parsed.get(), NID_id_pkix_OCSP_Nonce, -1) >= 0, nonce);
  }
}

TEST_F(ResponderTest, NonceMustBeEchoed) {
  auto req = BuildOcspRequest(leaf_.get(), ca_.get(), true);
  ASSERT_TRUE(req.ok());
  EXPECT_TRUE(NonceMatches(Good(req->request.get()), req->request.get()));
  EXPECT_FALSE(NonceMatches(Good(), req->request.get()));  // no nonce in the answer
  auto other = BuildOcspRequest(leaf_.get(), ca_.get(), true);
  EXPECT_FALSE(NonceMatches(Good(other->request.get()), req->request.get()));
  std::vector<uint8_t> garbage = {1, 2, 3};
  EXPECT_FALSE(NonceMatches(garbage, req->request.get()));
}

TEST_F(ResponderTest, GetUrlIsUrlEncodedBase64OfTheDer) {
  auto req = BuildOcspRequest(leaf_.get(), ca_.get(), false);
  ASSERT_TRUE(req.ok());
  for (std::string base : {"http://ocsp.example.net", "http://ocsp.example.net/"}) {
    std::string url = OcspGetUrl(base, req->der);
    ASSERT_EQ(url.rfind("http://ocsp.example.net/", 0), 0u) << url;
    std::string encoded = url.substr(std::string("http://ocsp.example.net/").size());
    EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos) << encoded;  // all escaped
    int len = 0;
    char* raw = curl_easy_unescape(nullptr, encoded.c_str(), static_cast<int>(encoded.size()),
                                   &len);
    std::string b64(raw, static_cast<size_t>(len));
    curl_free(raw);
    std::vector<uint8_t> der(b64.size());
    int n = EVP_DecodeBlock(der.data(), reinterpret_cast<const unsigned char*>(b64.data()),
                            static_cast<int>(b64.size()));
    ASSERT_GT(n, 0);
    size_t pad = std::count(b64.begin(), b64.end(), '=');
    der.resize(static_cast<size_t>(n) - pad);
    EXPECT_EQ(der, req->der);
  }
}

TEST(UseGet, Rfc5019Rule) {
  EXPECT_TRUE(UseGet(HttpMethod::kAuto, std::string(254, 'a')));
  EXPECT_FALSE(UseGet(HttpMethod::kAuto, std::string(255, 'a')));
  EXPECT_TRUE(UseGet(HttpMethod::kGet, std::string(1000, 'a')));
  EXPECT_FALSE(UseGet(HttpMethod::kPost, "short"));
}

TEST(MaxAgeDeferral, CappedByHalfLifeAndSevenDays) {
  ProbeResult r;
  r.success = true;
  r.finished_at = 1'000'000;
  r.verdict.Mut().state = ResponseState::kGood;
  r.verdict.Mut().this_update = r.finished_at - 600;
  r.verdict.Mut().valid_until = r.finished_at + 7200;  // half-life: finished_at + 3300
  r.http = ProbeResult::Http{.url = "http://x", .method = "GET", .status = 200,
                             .max_age = 600};
  EXPECT_EQ(MaxAgeDeferral(r), r.finished_at + 600);
  // max-age up to nextUpdate (what many responders send) defers only to the
  // half-life: the target is asked again while the answer is half fresh.
  r.http->max_age = 7200;
  EXPECT_EQ(MaxAgeDeferral(r), r.finished_at + 3300);
  r.http->max_age = 86400;
  EXPECT_EQ(MaxAgeDeferral(r), r.finished_at + 3300);
  // Clamped to 7 days.
  r.verdict.Mut().valid_until = r.finished_at + 365 * 86400;
  r.http->max_age = 100 * 86400;
  EXPECT_EQ(MaxAgeDeferral(r), r.finished_at + 7 * 86400);
  // Ignored on non-200 answers, failures and invalid answers.
  auto bad = r;
  bad.http->status = 503;
  EXPECT_EQ(MaxAgeDeferral(bad), std::nullopt);
  bad = r;
  bad.success = false;
  EXPECT_EQ(MaxAgeDeferral(bad), std::nullopt);
  bad = r;
  bad.verdict.Mut().state = ResponseState::kInvalid;
  EXPECT_EQ(MaxAgeDeferral(bad), std::nullopt);
  // An answer already past its half-life defers nothing.
  bad = r;
  bad.verdict.Mut().valid_until = r.finished_at + 500;  // half-life: finished_at - 50
  EXPECT_EQ(MaxAgeDeferral(bad), std::nullopt);
}

TEST(ParseMaxAge, Directives) {
  EXPECT_EQ(ParseMaxAge("max-age=600"), 600);
  EXPECT_EQ(ParseMaxAge("public, max-age=86400, must-revalidate"), 86400);
  EXPECT_EQ(ParseMaxAge("Max-Age=5"), 5);
  EXPECT_EQ(ParseMaxAge("no-cache"), std::nullopt);
  EXPECT_EQ(ParseMaxAge("max-age=abc"), std::nullopt);
  EXPECT_EQ(ParseMaxAge("max-age="), std::nullopt);
  EXPECT_EQ(ParseMaxAge("max-age=99999999999999999999"), std::nullopt);
  EXPECT_EQ(ParseMaxAge(""), std::nullopt);
}

TEST(UrlHost, Parses) {
  EXPECT_EQ(UrlHost("http://ocsp.example.net:8080/path"), "ocsp.example.net");
  EXPECT_EQ(UrlHost("http://127.0.0.1:1"), "127.0.0.1");
  EXPECT_EQ(UrlHost("not a url"), "");
}

TEST_F(ResponderTest, StapleFiles) {
  auto der = Good();
  Write("good", std::string(der.begin(), der.end()));
  auto good = ProbeStapleFile(File("good"), {});
  EXPECT_TRUE(good.success);
  EXPECT_EQ(good.verdict->state, ResponseState::kGood) << good.verdict->detail;
  EXPECT_TRUE(good.must_staple);
  EXPECT_EQ(good.not_after, now_ + 86400);
  ASSERT_TRUE(good.extras().file_modified.has_value());
  EXPECT_NEAR(static_cast<double>(*good.extras().file_modified), static_cast<double>(now_), 60);

  auto missing = ProbeStapleFile(File("missing"), {});
  EXPECT_TRUE(missing.success);
  EXPECT_EQ(missing.verdict->state, ResponseState::kAbsent);
  EXPECT_FALSE(missing.extras().file_modified.has_value());

  fs::create_directories(dir_ / "a-directory");
  auto dir = ProbeStapleFile(File("a-directory"), {});
  EXPECT_EQ(dir.verdict->state, ResponseState::kInvalid);
  EXPECT_EQ(dir.verdict->invalid_reason, "not_regular_file") << dir.verdict->detail;

  // A FIFO (nobody writes to it) and a device: reported at once, never
  // blocking the thread. Without O_NONBLOCK the FIFO open would hang here.
  ASSERT_EQ(::mkfifo((dir_ / "a-fifo").c_str(), 0600), 0);
  auto fifo = ProbeStapleFile(File("a-fifo"), {});
  EXPECT_EQ(fifo.verdict->state, ResponseState::kInvalid);
  EXPECT_EQ(fifo.verdict->invalid_reason, "not_regular_file");
  EXPECT_NE(fifo.verdict->detail.find("a FIFO"), std::string::npos) << fifo.verdict->detail;
  FileTarget zero = File("x");
  zero.path = "/dev/zero";
  auto dev = ProbeStapleFile(zero, {});
  EXPECT_EQ(dev.verdict->invalid_reason, "not_regular_file");
  EXPECT_NE(dev.verdict->detail.find("character device"), std::string::npos) << dev.verdict->detail;

  Write("garbage", "<html>502</html>");
  auto garbage = ProbeStapleFile(File("garbage"), {});
  EXPECT_EQ(garbage.verdict->invalid_reason, "malformed");
  EXPECT_NE(garbage.verdict->detail.find("garbage: not a DER OCSPResponse"), std::string::npos)
      << garbage.verdict->detail;

  Write("empty", "");
  EXPECT_EQ(ProbeStapleFile(File("empty"), {}).verdict->invalid_reason, "malformed");

  Write("huge", std::string(kMaxResponseBytes + 1, '\x30'));
  auto huge = ProbeStapleFile(File("huge"), {});
  EXPECT_EQ(huge.verdict->invalid_reason, "malformed");
  EXPECT_NE(huge.verdict->detail.find("larger than"), std::string::npos);

  // Expired: signature verified, so its times are still shown.
  testing::ResponseSpec old;
  old.this_update = now_ - 7200;
  old.next_update = now_ - 3600;
  auto expired = testing::MakeResponse(old, leaf_.get(), ca_.get(), ca_.get(), ca_key_.get());
  Write("expired", std::string(expired.begin(), expired.end()));
  auto e = ProbeStapleFile(File("expired"), {});
  EXPECT_EQ(e.verdict->invalid_reason, "expired");
  EXPECT_TRUE(e.verdict->signature_verified);
}

}  // namespace
}  // namespace ose
