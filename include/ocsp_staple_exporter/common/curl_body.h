#pragma once
// What the libcurl fetches of the exporter share: a body collected up to a
// limit, and the probe failure reason of a transfer error.
#include <curl/curl.h>

#include <cstddef>
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

/// probe_failure reason of a libcurl error: resolve, connect, timeout, or
/// http for the rest.
std::string_view CurlFailureReason(CURLcode code);

}  // namespace ose
