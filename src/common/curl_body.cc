#include "ocsp_staple_exporter/common/curl_body.h"

#include <algorithm>
#include <cstdlib>

#include "ocsp_staple_exporter/common/curl_ptr.h"
#include "ocsp_staple_exporter/probe/probe_result.h"

namespace ose {

size_t AppendLimited(char* ptr, size_t size, size_t n, void* user) {
  auto* body = static_cast<LimitedBody*>(user);
  const size_t len = size * n;
  if (body->data.size() + len > body->limit) {
    body->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  body->data.append(ptr, len);
  return len;
}

void SetFetchOptions(CURL* c, const char* url, int64_t timeout_ms, LimitedBody* body,
                     char* errbuf) {
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(1, timeout_ms)));
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, AppendLimited);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "ocsp_staple_exporter/" OSE_VERSION);
}

std::string_view CurlFailureReason(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return probe_failure::kResolve;
    case CURLE_COULDNT_CONNECT: return probe_failure::kConnect;
    case CURLE_OPERATION_TIMEDOUT: return probe_failure::kTimeout;
    default: return probe_failure::kHttp;
  }
}

std::optional<UrlAuthority> UrlHostPort(const std::string& url) {
  CurlUrlPtr u(curl_url());
  char* host = nullptr;
  char* port = nullptr;
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK ||
      curl_url_get(u.get(), CURLUPART_HOST, &host, 0) != CURLUE_OK) {
    return std::nullopt;
  }
  CurlStringPtr owned_host(host);
  if (curl_url_get(u.get(), CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
    return std::nullopt;
  }
  CurlStringPtr owned_port(port);
  const long n = std::strtol(port, nullptr, 10);
  if (n < 1 || n > 65535) return std::nullopt;
  return UrlAuthority{host, static_cast<uint16_t>(n)};
}

}  // namespace ose
