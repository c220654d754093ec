#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/probe/responder_prober.h"
#include "ocsp_staple_exporter/probe/chain_revocation.h"
#include "ocsp_staple_exporter/probe/fetch_gate.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include "ocsp_staple_exporter/common/asio.h"
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

#include "ocsp_staple_exporter/common/curl_body.h"
#include "ocsp_staple_exporter/common/curl_ptr.h"
#include "ocsp_staple_exporter/common/file.h"
#include "ocsp_staple_exporter/common/openssl_error.h"
#include "ocsp_staple_exporter/crl/crl_prober.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"

namespace ose {
namespace {

using SteadyClock = std::chrono::steady_clock;

// What a configured certificate says of itself, for `[[responder]]` and
// `[[file]]` results alike.
void SetCertificateFacts(const LoadedCert& c, ProbeResult& r) {
  r.must_staple = c.must_staple;
  r.ocsp_url_present = !c.ocsp_urls.empty();
  r.crl_url_present = !c.crl_urls.empty();
  r.not_after = NotAfterUnix(c.cert.get());
  r.subject = SubjectString(c.cert.get());
  r.identity = IdentityOf(c.cert.get());
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}


// One HTTP exchange. Fills r.http and, on failure, r.failure_reason/detail.
// Returns the body when it is a usable OCSP answer.
std::optional<std::string> Exchange(const std::string& url, const EncodedRequest& req,
                                    HttpMethod method, std::chrono::milliseconds budget,
                                    const ProbePolicy* policy, ProbeResult& r) {
  CurlPtr curl(curl_easy_init());
  r.http = ProbeResult::Http{};
  r.http->url = url;
  if (!curl) {
    r.failure_reason = std::string(probe_failure::kHttp);
    r.detail = "curl_easy_init failed";
    return std::nullopt;
  }
  std::string get_url = OcspGetUrl(url, req.der);
  bool get = UseGet(method, get_url);
  r.http->method = get ? "GET" : "POST";
  LimitedBody body;
  body.limit = kMaxResponseBytes;
  char errbuf[CURL_ERROR_SIZE] = {0};
  CurlSlistPtr headers;
  CURL* c = curl.get();
  SetFetchOptions(c, get ? get_url.c_str() : url.c_str(), budget.count(), &body, errbuf);
  if (!get) {
    headers.reset(curl_slist_append(nullptr, "Content-Type: application/ocsp-request"));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.der.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.der.size()));
  }
  FetchGate gate;
  if (policy != nullptr) {
    if (auto ok = gate.Arm(c, url, policy); !ok) {
      r.failure_reason = std::string(probe_failure::kForbidden);
      r.detail = url + ": " + ok.error().detail;
      return std::nullopt;
    }
  }
  auto start = SteadyClock::now();
  CURLcode code = curl_easy_perform(c);
  r.http->request_seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  if (!gate.refused().empty()) {
    r.failure_reason = std::string(probe_failure::kForbidden);
    r.detail = url + ": " + gate.refused();
    return std::nullopt;
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  r.http->status = status;
  if (body.too_large) {
    r.failure_reason = std::string(probe_failure::kBodyTooLarge);
    r.detail = url + ": response body over " + std::to_string(kMaxResponseBytes) + " bytes";
    return std::nullopt;
  }
  if (code != CURLE_OK) {
    r.failure_reason = std::string(CurlFailureReason(code));
    r.detail = url + ": " + (errbuf[0] ? errbuf : curl_easy_strerror(code));
    return std::nullopt;
  }
  curl_header* cc = nullptr;
  if (curl_easy_header(c, "Cache-Control", 0, CURLH_HEADER, -1, &cc) == CURLHE_OK && cc) {
    r.http->max_age = ParseMaxAge(cc->value);
  }
  if (status != 200) {
    r.failure_reason = std::string(probe_failure::kHttpStatus);
    r.detail = url + ": HTTP " + std::to_string(status);
    return std::nullopt;
  }
  char* ct = nullptr;
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
  std::string content_type = ct ? ct : "";
  std::string media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  if (strcasecmp(media.c_str(), "application/ocsp-response") != 0) {
    r.failure_reason = std::string(probe_failure::kContentType);
    r.detail = url + ": Content-Type \"" + content_type + "\", want application/ocsp-response";
    return std::nullopt;
  }
  return std::move(body.data);
}

}  // namespace

Result<EncodedRequest> BuildOcspRequest(X509* cert, X509* issuer, bool nonce) {
  EncodedRequest out;
  out.request.reset(OCSP_REQUEST_new());
  OcspCertIdPtr id(OCSP_cert_to_id(EVP_sha1(), cert, issuer));
  if (!out.request || !id) {
    return Error{"request", "cannot build CertID: " + DrainOpenSslErrors()};
  }
  if (OCSP_request_add0_id(out.request.get(), id.get()) == nullptr) {
    return Error{"request", "cannot add CertID: " + DrainOpenSslErrors()};
  }
  id.release();  // now owned by the request
  if (nonce && OCSP_request_add1_nonce(out.request.get(), nullptr, 32) != 1) {
    return Error{"request", "cannot add nonce: " + DrainOpenSslErrors()};
  }
  unsigned char* raw = nullptr;
  int len = i2d_OCSP_REQUEST(out.request.get(), &raw);
  OpensslBytesPtr der(raw);
  if (len <= 0) return Error{"request", "cannot encode request: " + DrainOpenSslErrors()};
  out.der.assign(der.get(), der.get() + len);
  return out;
}

std::string OcspGetUrl(const std::string& url, std::span<const uint8_t> der) {
  std::string b64(4 * ((der.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), der.data(),
                          static_cast<int>(der.size()));
  b64.resize(static_cast<size_t>(n));
  CurlStringPtr escaped(curl_easy_escape(nullptr, b64.data(), static_cast<int>(b64.size())));
  std::string out = url;
  if (out.empty() || out.back() != '/') out += '/';
  out += escaped ? escaped.get() : "";
  return out;
}

bool UseGet(HttpMethod method, const std::string& get_url) {
  switch (method) {
    case HttpMethod::kGet: return true;
    case HttpMethod::kPost: return false;
    default: return get_url.size() < 255;
  }
}

std::optional<int64_t> ParseMaxAge(std::string_view v) {
  // Directives are comma-separated tokens; find max-age=DIGITS.
  size_t pos = 0;
  while (pos < v.size()) {
    size_t end = v.find(',', pos);
    if (end == std::string_view::npos) end = v.size();
    std::string_view d = v.substr(pos, end - pos);
    while (!d.empty() && d.front() == ' ') d.remove_prefix(1);
    while (!d.empty() && d.back() == ' ') d.remove_suffix(1);
    constexpr std::string_view kKey = "max-age=";
    if (d.size() > kKey.size() && strncasecmp(d.data(), kKey.data(), kKey.size()) == 0) {
      std::string_view num = d.substr(kKey.size());
      if (num.size() > 10) return std::nullopt;
      int64_t n = 0;
      for (char ch : num) {
        if (ch < '0' || ch > '9') return std::nullopt;
        n = n * 10 + (ch - '0');
      }
      return n;
    }
    pos = end + 1;
  }
  return std::nullopt;
}

ResponderProber::ResponderProber(asio::io_context& io, size_t threads)
    : io_(io), pool_(threads) {
  GlobalInit();
}

ResponderProber::~ResponderProber() {
  pool_.stop();
  pool_.join();
}

void ResponderProber::OnPool(std::function<ProbeResult()> work, Callback done) {
  asio::post(pool_, [this, work = std::move(work), done = std::move(done)]() mutable {
    ProbeResult r = work();
    asio::post(io_, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  });
}

void ResponderProber::ProbeFile(FileTarget target, VerifyOptions verify, CrlStore* crl_store,
                                Callback done) {
  OnPool([target = std::move(target), verify, crl_store] {
    return ProbeStapleFile(target, verify, crl_store);
  }, std::move(done));
}

void ResponderProber::LookUpRevocation(CrlStore* store, ChainRevocation* chain,
                                       Revocation revocation, ProbeResult r, Callback done) {
  if (ProbeResult::Extras* x = r.extras_if()) {
    if (store == nullptr) x->crl_subjects.clear();
    if (chain == nullptr) x->chain_subjects.clear();
  }
  if (r.extras().crl_subjects.empty() && r.extras().chain_subjects.empty()) {
    done(std::move(r));
    return;
  }
  OnPool(
      [store, chain, revocation, r = std::move(r)]() mutable {
        if (!r.extras().crl_subjects.empty()) CheckLeafCrls(*store, r);
        if (!r.extras().chain_subjects.empty()) chain->Check(revocation, r, NowUnix());
        return std::move(r);
      },
      std::move(done));
}

void CheckLeafCrls(CrlStore& store, ProbeResult& r) {
  Boxed<LeafCrlStatus> folded;
  auto rank = [](LeafCrlState s) {
    return s == LeafCrlState::kRevoked ? 2 : s == LeafCrlState::kUnavailable ? 1 : 0;
  };
  for (const auto& s : r.extras().crl_subjects) {
    AddLeafCrl(store, s->leaf.get(), s->issuer.get(), s->urls, r);
    if (!folded || rank(r.leaf_crl->state) > rank(folded->state)) folded = std::move(r.leaf_crl);
  }
  r.leaf_crl = std::move(folded);
  r.extras_mut().crl_subjects.clear();
}

void AddLeafCrl(CrlStore& store, X509* leaf, X509* issuer, const std::vector<std::string>& urls,
                ProbeResult& r) {
  const auto start = SteadyClock::now();
  LeafCrlStatus status;
  if (issuer == nullptr) {
    status.detail =
        "issuer of the leaf is neither in the served chain nor in ca_file; cannot verify its CRL";
  } else {
    status = store.Check(urls, leaf, issuer, NowUnix());
  }
  r.duration_seconds += std::chrono::duration<double>(SteadyClock::now() - start).count();
  if (r.ocsp_skipped && status.state == LeafCrlState::kUnavailable &&
      !status.failure_reason.empty()) {
    r.success = false;
    r.failure_reason = status.failure_reason;
    r.detail = status.detail;
  }
  r.leaf_crl = std::move(status);
}

void ResponderProber::ProbeCrl(CrlTarget target, VerifyOptions verify,
                               std::shared_ptr<CrlTargetMemory> memory, Callback done) {
  OnPool([target = std::move(target), verify, memory = std::move(memory)] {
           return ProbeCrlNow(target, verify, memory.get());
         },
         std::move(done));
}

std::string UrlHost(const std::string& url) {
  auto a = UrlHostPort(url);
  return a ? a->host : "";
}

void ResponderProber::Probe(ResponderProbeRequest request, Callback done) {
  OnPool([request = std::move(request)] { return ProbeNow(request); }, std::move(done));
}

ProbeResult ResponderProber::ProbeNow(const ResponderProbeRequest& request) {
  auto start = SteadyClock::now();
  ProbeResult r;
  X509* cert = request.cert->cert.get();
  X509* issuer = request.cert->issuer.get();
  auto finish = [&]() {
    if (request.revocation != Revocation::kOcsp && request.crl_store != nullptr) {
      AddLeafCrl(*request.crl_store, cert, issuer, request.cert->crl_urls, r);
    }
    r.duration_seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    r.finished_at = NowUnix();
    if (auto until = MaxAgeDeferral(r)) r.extras_mut().not_before = until;
    return r;
  };
  SetCertificateFacts(*request.cert, r);
  if (request.revocation == Revocation::kCrl) {
    // The CRL is the whole probe: no OCSP request, no OCSP verdict.
    r.success = true;
    r.ocsp_skipped = true;
    return finish();
  }
  auto req = BuildOcspRequest(cert, issuer, request.nonce);
  if (!req) {
    r.failure_reason = std::string(probe_failure::kHttp);
    r.detail = req.error().detail;
    return finish();
  }
  auto deadline = start + request.timeout;
  for (const std::string& url : request.urls) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                      SteadyClock::now());
    if (left.count() <= 0) {
      r.failure_reason = std::string(probe_failure::kTimeout);
      r.detail = "no time left for " + url;
      break;
    }
    r.failure_reason.clear();
    r.detail.clear();
    auto body = Exchange(url, req.value(), request.method, left, request.policy, r);
    if (!body) continue;  // try the next URL
    auto bytes = std::make_shared<const std::vector<uint8_t>>(body->begin(), body->end());
    r.extras_mut().der = bytes;
    std::span<const uint8_t> der(bytes->data(), bytes->size());
    r.success = true;
    r.staple_present = true;
    r.verdict = VerifyOcspResponse(der, cert, issuer, request.verify, NowUnix());
    if (request.nonce && r.verdict->state != ResponseState::kInvalid &&
        !NonceMatches(der, req->request.get())) {
      OcspVerdict& v = r.verdict.Mut();
      v.state = ResponseState::kInvalid;
      v.invalid_reason = std::string(invalid_reason::kNonceMismatch);
      v.detail = "the response does not echo the request's nonce";
    }
    return finish();
  }
  if (r.failure_reason.empty()) {
    r.failure_reason = std::string(probe_failure::kHttp);
    r.detail = "no responder URL";
  }
  return finish();
}

ProbeResult ProbeStapleFile(const FileTarget& target, const VerifyOptions& verify,
                            CrlStore* crl_store) {
  auto start = SteadyClock::now();
  ProbeResult r;
  r.success = true;  // the file system answered; what it holds is the state
  X509* cert = target.cert->cert.get();
  SetCertificateFacts(*target.cert, r);
  auto finish = [&]() {
    if (target.revocation != Revocation::kOcsp && crl_store != nullptr) {
      AddLeafCrl(*crl_store, cert, target.cert->issuer.get(), target.cert->crl_urls, r);
    }
    r.duration_seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    r.finished_at = NowUnix();
    return r;
  };
  struct stat st {};
  if (::stat(target.path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      r.verdict.Mut().detail = target.path + ": no such file";
      return finish();  // kAbsent
    }
    OcspVerdict& v = r.verdict.Mut();
    v.state = ResponseState::kInvalid;
    v.invalid_reason = std::string(invalid_reason::kUnreadable);
    v.detail = target.path + ": " + std::strerror(errno);
    return finish();
  }
  r.extras_mut().file_modified = static_cast<int64_t>(st.st_mtim.tv_sec);
  r.staple_present = true;
  auto data = ReadFileLimited(target.path, kMaxResponseBytes);
  if (!data) {
    OcspVerdict& v = r.verdict.Mut();
    v.state = ResponseState::kInvalid;
    if (data.error().reason == "too_large") {
      v.invalid_reason = std::string(invalid_reason::kMalformed);
      v.detail = data.error().detail + ", not a staple";
    } else if (data.error().reason == "not_regular_file") {
      v.invalid_reason = std::string(invalid_reason::kNotRegularFile);
      v.detail = data.error().detail;
    } else {
      v.invalid_reason = std::string(invalid_reason::kUnreadable);
      v.detail = data.error().detail;
    }
    return finish();
  }
  r.verdict = VerifyOcspResponse(data.value(), cert, target.cert->issuer.get(), verify,
                                 NowUnix());
  if (r.verdict->state == ResponseState::kInvalid) {
    OcspVerdict& v = r.verdict.Mut();
    v.detail = target.path + ": " + v.detail;
  }
  return finish();
}

}  // namespace ose
