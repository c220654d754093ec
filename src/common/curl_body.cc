#include "ocsp_staple_exporter/common/curl_body.h"

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

std::string_view CurlFailureReason(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return probe_failure::kResolve;
    case CURLE_COULDNT_CONNECT: return probe_failure::kConnect;
    case CURLE_OPERATION_TIMEDOUT: return probe_failure::kTimeout;
    default: return probe_failure::kHttp;
  }
}

}  // namespace ose
