#include "ocsp_staple_exporter/common/shared.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>

namespace ose {

Shared<std::string> InternedString(std::string_view text) {
  static std::mutex mu;
  static std::unordered_map<std::string_view, std::shared_ptr<std::string>> pool;
  static size_t prune_at = 64;
  std::lock_guard lock(mu);
  if (auto it = pool.find(text); it != pool.end()) return Shared<std::string>(it->second);
  if (pool.size() >= prune_at) {
    std::erase_if(pool, [](const auto& e) { return e.second.use_count() == 1; });
    prune_at = std::max<size_t>(64, 2 * pool.size());
  }
  auto held = std::make_shared<std::string>(text);
  pool.emplace(*held, held);  // keyed by a view of the pooled text itself
  return Shared<std::string>(std::move(held));
}

}  // namespace ose
