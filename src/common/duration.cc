#include "ocsp_staple_exporter/common/duration.h"

#include <array>
#include <cstdint>
#include <limits>

namespace ose {
namespace {

struct Unit {
  std::string_view name;
  int64_t ms;
};

// Ordered from largest to smallest; "ms" must be tried before "m".
constexpr std::array<Unit, 7> kUnits{{{"y", 365LL * 24 * 3600 * 1000},
                                       {"w", 7LL * 24 * 3600 * 1000},
                                       {"d", 24LL * 3600 * 1000},
                                       {"h", 3600LL * 1000},
                                       {"m", 60LL * 1000},
                                       {"s", 1000},
                                       {"ms", 1}}};

}  // namespace

std::optional<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  size_t last_unit = 0;  // index into kUnits + 1 of the last unit seen
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    int64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (n > (std::numeric_limits<int64_t>::max() - 9) / 10) return std::nullopt;
      n = n * 10 + (text[i] - '0');
      ++i;
    }
    size_t j = i;
    while (j < text.size() && (text[j] < '0' || text[j] > '9')) ++j;
    std::string_view unit = text.substr(i, j - i);
    size_t idx = 0;
    while (idx < kUnits.size() && kUnits[idx].name != unit) ++idx;
    if (idx == kUnits.size()) return std::nullopt;
    if (idx + 1 <= last_unit) return std::nullopt;  // repeated or out of order
    last_unit = idx + 1;
    if (n > std::numeric_limits<int64_t>::max() / kUnits[idx].ms) return std::nullopt;
    int64_t add = n * kUnits[idx].ms;
    if (total > std::numeric_limits<int64_t>::max() - add) return std::nullopt;
    total += add;
    i = j;
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  for (const Unit& u : kUnits) {
    if (u.name == "y" || u.name == "w") continue;  // keep days readable
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms);
      out += u.name;
      ms %= u.ms;
    }
  }
  return out;
}

}  // namespace ose
