#pragma once
// What the libcurl fetches of the exporter share: a body collected up to a
// limit, and the probe failure reason of a transfer error.
#include <curl/curl.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ose {

/// A response body, refused past `limit` bytes (then `too_large`).
struct LimitedBody {
  std::string data;
  size_t limit = 0;
  bool too_large = false;
};

/// CURLOPT_WRITEFUNCTION for a LimitedBody (CURLOPT_WRITEDATA): appends, or
/// aborts the transfer (CURLE_WRITE_ERROR) once the limit would be passed.
size_t AppendLimited(char* ptr, size_t size, size_t n, void* body);

/// The options every fetch of the exporter sets on `c`: `url`, no
/// signals, a total `timeout_ms` (at least 1), http and https only, no
/// redirects, errors into `errbuf` (CURL_ERROR_SIZE), the body into `body`
/// (borrowed; must outlive the transfer) and the exporter's User-Agent.
void SetFetchOptions(CURL* c, const char* url, int64_t timeout_ms, LimitedBody* body,
                     char* errbuf);

/// True for an http:// or https:// URL: the only schemes the exporter
/// fetches (SetFetchOptions refuses the rest, e.g. ldap: distribution points).
inline bool IsHttpUrl(std::string_view url) {
  return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
}

/// The host (IPv6 in brackets, as in the URL) and port (the scheme's
/// default when none is written) of an http(s) URL; nullopt when libcurl
/// cannot parse it.
struct UrlAuthority {
  std::string host;
  uint16_t port = 0;
};
std::optional<UrlAuthority> UrlHostPort(const std::string& url);

/// probe_failure reason of a libcurl error: resolve, connect, timeout, or
/// http for the rest.
std::string_view CurlFailureReason(CURLcode code);

}  // namespace ose
