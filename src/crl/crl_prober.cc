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
#include "ocsp_staple_exporter/common/file.h"
#include "ocsp_staple_exporter/probe/responder_prober.h"

namespace ose {
namespace {

using SteadyClock = std::chrono::steady_clock;


// `[fetch]` at the moment libcurl connects: every address it tries is
// checked against the policy (after DNS, with no second lookup), and a
// refused one is never connected to.
struct ConnectGate {
  const ProbePolicy* policy = nullptr;
  std::string host;
  uint16_t port = 0;
  std::string refused;  ///< why the last address was refused
};

curl_socket_t OpenSocket(void* data, curlsocktype purpose, curl_sockaddr* address) {
  auto* gate = static_cast<ConnectGate*>(data);
  if (purpose == CURLSOCKTYPE_IPCXN && gate->policy != nullptr) {
    asio::ip::tcp::endpoint ep;
    if (address->family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&address->addr);
      asio::ip::address_v4::bytes_type b;
      std::memcpy(b.data(), &in->sin_addr, b.size());
      ep = {asio::ip::address_v4(b), ntohs(in->sin_port)};
    } else if (address->family == AF_INET6) {
      const auto* in = reinterpret_cast<const sockaddr_in6*>(&address->addr);
      asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), &in->sin6_addr, b.size());
      ep = {asio::ip::address_v6(b, in->sin6_scope_id), ntohs(in->sin6_port)};
    }
    if (auto ok = gate->policy->CheckAddresses(gate->host, gate->port, {ep}); !ok) {
      gate->refused = ok.error().detail;
      return CURL_SOCKET_BAD;
    }
  }
  return ::socket(address->family, address->socktype, address->protocol);
}

// GET of the CRL; the body, or nullopt with r's failure filled in. With
// `policy`, a URL whose host or addresses it refuses fails "forbidden".
std::optional<std::string> Fetch(const CrlTarget& t, ProbeResult& r,
                                 const ProbePolicy* policy = nullptr) {
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
  ConnectGate gate;
  if (policy != nullptr) {
    gate.policy = policy;
    auto refuse = [&](const std::string& why) {
      r.failure_reason = std::string(probe_failure::kForbidden);
      r.detail = t.url + ": " + why;
      return std::nullopt;
    };
    auto hp = UrlHostPort(t.url);
    if (!hp) return refuse("cannot read the host of the URL");
    gate.host = hp->host;
    gate.port = hp->port;
    if (auto ok = policy->CheckName(gate.host, gate.port); !ok) {
      return refuse(ok.error().detail);
    }
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, &OpenSocket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &gate);
  }
  const auto start = SteadyClock::now();
  CURLcode code = curl_easy_perform(c);
  if (!gate.refused.empty()) {
    r.failure_reason = std::string(probe_failure::kForbidden);
    r.detail = t.url + ": " + gate.refused;
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
  return std::move(body.data);
}

}  // namespace

Result<std::string> FetchCrlUrl(const std::string& url, std::chrono::milliseconds timeout,
                                int64_t max_size, const ProbePolicy* policy) {
  CrlTarget t;
  t.url = url;
  t.timeout = timeout;
  t.max_size = max_size;
  ProbeResult r;
  auto body = Fetch(t, r, policy);
  if (!body) return Error{r.failure_reason, r.detail};
  return std::move(*body);
}

ProbeResult ProbeCrlNow(const CrlTarget& t, const VerifyOptions& verify) {
  const auto start = SteadyClock::now();
  ProbeResult r;
  r.crl = ProbeResult::Crl{};
  auto finish = [&] {
    r.duration_seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    r.finished_at = NowUnix();
    return r;
  };
  std::string data;
  if (!t.url.empty()) {
    auto body = Fetch(t, r);
    if (!body) return finish();
    data = std::move(*body);
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
  const CrlVerdict& v = r.crl->verdict;
  r.refresh_at = CrlHalfLife(v, now);
  // max-age only defers a fetch that would come before the half-life (many
  // servers send max-age up to nextUpdate: that would freeze the target).
  if (r.http && r.http->max_age && *r.http->max_age > 0 && v.state == CrlState::kValid &&
      r.refresh_at) {
    r.not_before = CappedMaxAge(now, *r.http->max_age, *r.refresh_at);
  }
  return finish();
}

}  // namespace ose
