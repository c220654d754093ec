#include "ocsp_staple_exporter/crl/crl_prober.h"

#include <curl/curl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>

#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/common/curl_body.h"
#include "ocsp_staple_exporter/common/curl_ptr.h"
#include "ocsp_staple_exporter/probe/fetch_gate.h"
#include "ocsp_staple_exporter/common/file.h"
#include "ocsp_staple_exporter/probe/responder_prober.h"

namespace ose {
namespace {

using SteadyClock = std::chrono::steady_clock;


// A validator header of the answer, kept only when it is printable ASCII of
// at most 256 bytes (it goes back to the server in a request header).
std::string ValidatorHeader(CURL* c, const char* name) {
  curl_header* h = nullptr;
  if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || h == nullptr) return "";
  const std::string_view v(h->value);
  if (v.empty() || v.size() > 256) return "";
  for (char ch : v) {
    if (ch < 0x20 || ch > 0x7e) return "";
  }
  return std::string(v);
}

// GET of the CRL; the download, or nullopt with r's failure filled in. With
// `policy`, a URL whose host or addresses it refuses fails "forbidden";
// with validators in `since`, the GET is conditional and a 304 is a
// download marked not_modified.
std::optional<CrlDownload> Fetch(const CrlTarget& t, ProbeResult& r,
                                 const ProbePolicy* policy = nullptr,
                                 const CrlValidators& since = {}) {
  r.http = ProbeResult::Http{};
  r.http->url = t.url;
  r.http->method = "GET";
  CurlPtr curl(curl_easy_init());
  if (!curl) {
    r.failure_reason = std::string(probe_failure::kHttp);
    r.detail = "curl_easy_init failed";
    return std::nullopt;
  }
  LimitedBody body;
  body.limit = static_cast<size_t>(t.max_size);
  char errbuf[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  SetFetchOptions(c, t.url.c_str(), t.timeout.count(), &body, errbuf);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, t.follow_redirects ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(t.max_size));
  CurlSlistPtr conditions;
  auto add = [&](const std::string& header) {
    if (curl_slist* l = curl_slist_append(conditions.get(), header.c_str())) {
      (void)conditions.release();
      conditions.reset(l);
    }
  };
  if (!since.etag.empty()) add("If-None-Match: " + since.etag);
  if (!since.last_modified.empty()) add("If-Modified-Since: " + since.last_modified);
  if (conditions) curl_easy_setopt(c, CURLOPT_HTTPHEADER, conditions.get());
  FetchGate gate;
  if (policy != nullptr) {
    if (auto ok = gate.Arm(c, t.url, policy); !ok) {
      r.failure_reason = std::string(probe_failure::kForbidden);
      r.detail = t.url + ": " + ok.error().detail;
      return std::nullopt;
    }
  }
  const auto start = SteadyClock::now();
  CURLcode code = curl_easy_perform(c);
  if (!gate.refused().empty()) {
    r.failure_reason = std::string(probe_failure::kForbidden);
    r.detail = t.url + ": " + gate.refused();
    return std::nullopt;
  }
  r.http->request_seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.http->status);
  if (body.too_large || code == CURLE_FILESIZE_EXCEEDED) {
    r.failure_reason = std::string(probe_failure::kBodyTooLarge);
    r.detail = t.url + ": CRL over max_size (" + std::to_string(t.max_size) + " bytes)";
    return std::nullopt;
  }
  if (code != CURLE_OK) {
    r.failure_reason = std::string(CurlFailureReason(code));
    r.detail = t.url + ": " + (errbuf[0] ? errbuf : curl_easy_strerror(code));
    return std::nullopt;
  }
  curl_header* cc = nullptr;
  if (curl_easy_header(c, "Cache-Control", 0, CURLH_HEADER, -1, &cc) == CURLHE_OK && cc) {
    r.http->max_age = ParseMaxAge(cc->value);
  }
  CrlDownload got;
  got.bytes = body.data.size();
  got.validators = {ValidatorHeader(c, "ETag"), ValidatorHeader(c, "Last-Modified")};
  if (r.http->status == 304 && !since.empty()) {
    got.not_modified = true;
    if (got.validators.empty()) got.validators = since;
    return got;
  }
  if (r.http->status != 200) {
    r.failure_reason = std::string(probe_failure::kHttpStatus);
    r.detail = t.url + ": HTTP " + std::to_string(r.http->status);
    char* location = nullptr;
    if (r.http->status / 100 == 3 &&
        curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location) {
      r.detail += " to " + std::string(location) + " (follow_redirects is off)";
    }
    return std::nullopt;
  }
  got.body = std::move(body.data);
  return got;
}

// The half-life refetch and a max-age deferral, at `now`. max-age only
// defers a fetch that would come before the half-life (many servers send
// max-age up to nextUpdate: that would freeze the target).
void SetRefreshTimes(ProbeResult& r, int64_t now) {
  const CrlVerdict v = CrlVerdictAt(r.crl->verdict, now);
  ProbeResult::Extras& x = r.extras_mut();
  x.refresh_at = CrlHalfLife(v, now);
  x.not_before.reset();
  if (r.http && r.http->max_age && *r.http->max_age > 0 && v.state == CrlState::kValid &&
      x.refresh_at) {
    x.not_before = CappedMaxAge(now, *r.http->max_age, *x.refresh_at);
  }
}

// A 304 to the conditional refetch: the CRL held stands. Its result again,
// with this request's HTTP facts and refresh times from now.
ProbeResult KeptCrl(CrlTargetMemory* memory, ProbeResult answer, CrlValidators validators) {
  std::lock_guard lock(memory->mu);  // non-null: only a request with validators gets a 304
  ProbeResult kept = *memory->last;
  kept.http = std::move(answer.http);
  kept.crl->not_modified = true;
  kept.crl->bytes_received = 0;
  kept.crl->fetch_seconds = kept.http->request_seconds;
  memory->validators = std::move(validators);
  SetRefreshTimes(kept, NowUnix());
  return kept;
}

}  // namespace

Result<CrlDownload> FetchCrlUrl(const std::string& url, std::chrono::milliseconds timeout,
                                int64_t max_size, const ProbePolicy* policy,
                                const CrlValidators& since) {
  CrlTarget t;
  t.url = url;
  t.timeout = timeout;
  t.max_size = max_size;
  ProbeResult r;
  auto got = Fetch(t, r, policy, since);
  if (!got) return Error{r.failure_reason, r.detail};
  return std::move(*got);
}

ProbeResult ProbeCrlNow(const CrlTarget& t, const VerifyOptions& verify, CrlTargetMemory* memory) {
  const auto start = SteadyClock::now();
  ProbeResult r;
  r.crl = ProbeResult::Crl{};
  auto finish = [&](std::optional<ProbeResult> replaced = std::nullopt) {
    if (replaced) r = std::move(*replaced);
    r.duration_seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    r.finished_at = NowUnix();
    return r;
  };
  std::string data;
  CrlValidators validators;  // of the CRL fetched, kept with it in `memory`
  if (!t.url.empty()) {
    CrlValidators since;
    if (memory != nullptr) {
      std::lock_guard lock(memory->mu);
      if (memory->last) since = memory->validators;
    }
    auto got = Fetch(t, r, nullptr, since);
    if (!got) return finish();
    if (got->not_modified) return finish(KeptCrl(memory, std::move(r), std::move(got->validators)));
    r.crl->bytes_received = got->bytes;
    validators = std::move(got->validators);
    data = std::move(got->body);
    r.crl->fetch_seconds = r.http->request_seconds;
  } else {
    auto read = ReadFileLimited(t.path, static_cast<size_t>(t.max_size));
    r.crl->fetch_seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    if (!read) {
      const Error& e = read.error();
      if (e.reason == "too_large") {
        r.failure_reason = std::string(probe_failure::kBodyTooLarge);
        r.detail = e.detail;
        return finish();
      }
      r.success = true;  // the file system answered; what it holds is the state
      if (e.reason == "missing") {
        r.crl->verdict.detail = t.path + ": no such file";
        return finish();  // kAbsent
      }
      r.crl->verdict.state = CrlState::kInvalid;
      r.crl->verdict.invalid_reason = std::string(crl_invalid::kUnreadable);
      r.crl->verdict.detail = e.detail;
      return finish();
    }
    data.assign(read->begin(), read->end());
  }
  r.success = true;
  r.crl->size_bytes = static_cast<int64_t>(data.size());
  X509* issuer = t.issuer && !t.issuer->empty() ? t.issuer->front().get() : nullptr;
  const int64_t now = NowUnix();
  if (issuer == nullptr) {
    r.crl->verdict.state = CrlState::kInvalid;
    r.crl->verdict.invalid_reason = std::string(crl_invalid::kIssuerMismatch);
    r.crl->verdict.detail = "no issuer certificate";
    return finish();
  }
  ParsedCrl parsed = VerifyCrl(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()),
      issuer, verify, now, t.url);
  r.crl->verdict = std::move(parsed.verdict);
  SetRefreshTimes(r, now);
  if (memory != nullptr && !t.url.empty() && r.crl->verdict.signature_verified) {
    std::lock_guard lock(memory->mu);
    memory->validators = std::move(validators);
    memory->last = r;
  }
  return finish();
}

}  // namespace ose
