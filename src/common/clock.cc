#include "ocsp_staple_exporter/common/clock.h"

#include <chrono>
#include <ctime>

namespace ose {

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatUnixTime(int64_t t, const char* format) {
  char buf[64];
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  size_t n = std::strftime(buf, sizeof buf, format, &tm);
  return std::string(buf, n);
}

std::string FormatUnixTimeOrNone(std::optional<int64_t> t) {
  return t ? FormatUnixTime(*t) : "none";
}

}  // namespace ose
