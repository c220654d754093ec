// Duration ("30s", "1h30m"), address ("host:port", "[v6]:port") and
// file_sd (JSON and YAML target groups) parsing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ocsp_staple_exporter/common/duration.h"
#include "ocsp_staple_exporter/common/text.h"
#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/config/file_sd.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto d = ose::ParseDuration(in); d && d->count() < 0) __builtin_trap();
  if (auto hp = ose::ParseHostPort(in); hp && (hp->port == 0 || hp->host.empty())) {
    __builtin_trap();
  }
  // What a parsed file_sd document promises: every target an address,
  // every label a valid, unreserved name with a UTF-8 value.
  for (auto format : {ose::FileSdFormat::kJson, ose::FileSdFormat::kYaml}) {
    auto groups = ose::ParseFileSd(in, format, "fuzz");
    if (!groups) continue;
    for (const auto& g : groups.value()) {
      for (const auto& t : g.targets) {
        auto hp = ose::ParseHostPort(t.address);
        if (!hp || !(hp.value() == t.endpoint)) __builtin_trap();
      }
      for (const auto& [name, value] : g.labels) {
        if (!ose::ValidExtraLabelName(name) || ose::ReservedLabelName(name) ||
            ose::ValidUtf8(value) != value) {
          __builtin_trap();
        }
      }
    }
  }
  return 0;
}
