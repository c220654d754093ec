// Duration ("30s", "1h30m") and address ("host:port", "[v6]:port") parsing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ocsp_staple_exporter/common/duration.h"
#include "ocsp_staple_exporter/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto d = ose::ParseDuration(in); d && d->count() < 0) __builtin_trap();
  if (auto hp = ose::ParseHostPort(in); hp && (hp->port == 0 || hp->host.empty())) {
    __builtin_trap();
  }
  return 0;
}
