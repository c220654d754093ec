#include "ocsp_staple_exporter/config/discovery.h"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "ocsp_staple_exporter/common/file.h"
#include "ocsp_staple_exporter/common/log.h"

namespace ose {
namespace {

// Every path a pattern names now, sorted; a plain path names itself when
// it exists. Unreadable folders simply match nothing.
std::vector<std::string> Expand(const std::string& pattern) {
  std::vector<std::string> out;
  glob_t g{};
  if (glob(pattern.c_str(), GLOB_NOSORT | GLOB_NOCHECK, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      struct stat st{};
      if (stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode)) out.emplace_back(g.gl_pathv[i]);
    }
  }
  globfree(&g);
  std::sort(out.begin(), out.end());
  return out;
}

// What changes when a file is rewritten, renamed over or swapped by a
// symlink flip; "" when it cannot be stat'ed.
std::string Signature(const std::string& path) {
  struct stat st{};
  if (stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
         std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

bool SameGroups(const std::vector<TargetGroup>& a, const std::vector<TargetGroup>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].targets != b[i].targets || a[i].labels != b[i].labels) return false;
  }
  return true;
}

}  // namespace

bool DiscoveryWatcher::PollBlock(const DiscoveryConfig& d, Block& b) {
  bool changed = false;
  std::set<std::string> seen;
  for (const std::string& pattern : d.files) {
    for (std::string& path : Expand(pattern)) seen.insert(std::move(path));
  }
  for (auto it = b.files.begin(); it != b.files.end();) {  // gone: its targets go too
    if (seen.count(it->first) == 0) {
      log::Info("discovery file gone; its targets are removed",
                {{"discovery", d.name}, {"file", it->first},
                 {"targets", std::to_string(it->second.groups.size())}});
      changed |= !it->second.groups.empty();
      it = b.files.erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& path : seen) {
    File& f = b.files[path];
    const std::string sig = Signature(path);
    if (sig.empty() || sig == f.signature || sig == f.failed_signature) continue;
    auto fail = [&](const std::string& err) {
      ++b.read_errors;
      f.failed_signature = sig;
      log::Error("cannot read discovery file; keeping the targets it gave before",
                 {{"discovery", d.name}, {"file", path}, {"err", err},
                  {"kept_groups", std::to_string(f.groups.size())}});
    };
    auto bytes = ReadFileLimited(path, kMaxFileSdBytes);
    if (!bytes) {
      fail(bytes.error().detail);
      continue;
    }
    auto format = FileSdFormatOf(path);
    if (!format) {
      fail(format.error().detail);
      continue;
    }
    auto groups = ParseFileSd(
        std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()), format.value(),
        path);
    if (!groups) {
      fail(groups.error().detail);
      continue;
    }
    f.signature = sig;
    f.failed_signature.clear();
    if (!SameGroups(f.groups, groups.value())) {
      size_t n = 0;
      for (const auto& g : groups.value()) n += g.targets.size();
      log::Info("discovery file read", {{"discovery", d.name}, {"file", path},
                                         {"targets", std::to_string(n)}});
      f.groups = std::move(groups).value();
      changed = true;
    }
  }
  return changed;
}

bool DiscoveryWatcher::Poll(const std::vector<DiscoveryConfig>& blocks, int64_t now_ms,
                            bool force) {
  std::lock_guard lock(mu_);
  bool changed = false;
  std::set<std::string> names;
  for (const DiscoveryConfig& d : blocks) {
    names.insert(d.name);
    Block& b = blocks_[d.name];
    const int64_t every = d.refresh_interval.count();
    if (!force && b.polled && now_ms - b.last_poll_ms < every) continue;
    b.polled = true;
    b.last_poll_ms = now_ms;
    changed |= PollBlock(d, b);
  }
  for (auto it = blocks_.begin(); it != blocks_.end();) {
    if (names.count(it->first) == 0) {
      changed = true;
      it = blocks_.erase(it);
    } else {
      ++it;
    }
  }
  return changed;
}

std::vector<TlsTarget> DiscoveryWatcher::Targets(
    const std::vector<DiscoveryConfig>& blocks,
    const std::map<std::string, std::string>& configured) const {
  std::lock_guard lock(mu_);
  std::set<std::string> used;
  std::vector<TlsTarget> out;
  for (const DiscoveryConfig& d : blocks) {
    auto b = blocks_.find(d.name);
    if (b == blocks_.end()) continue;
    for (const auto& [path, file] : b->second.files) {
      for (const TargetGroup& g : file.groups) {
        for (const auto& [address, endpoint] : g.targets) {
          if (auto c = configured.find(address); c != configured.end() && c->second != "tls") {
            log::Error("discovered target refused: a configured target has this name",
                       {{"discovery", d.name}, {"file", path}, {"target", address},
                        {"configured_kind", c->second}});
            continue;
          }
          if (configured.count(address) > 0 || !used.insert(address).second) {
            log::Debug("discovered target already defined; skipped",
                       {{"discovery", d.name}, {"file", path}, {"target", address}});
            continue;
          }
          TlsTarget t = d.defaults;
          t.name = address;
          t.address = address;
          t.endpoint = endpoint;
          t.labels = g.labels;
          out.push_back(std::move(t));
        }
      }
    }
  }
  return out;
}

std::vector<DiscoveryStats> DiscoveryWatcher::Stats() const {
  std::lock_guard lock(mu_);
  std::vector<DiscoveryStats> out;
  for (const auto& [name, b] : blocks_) {
    DiscoveryStats s;
    s.name = name;
    s.files = b.files.size();
    s.read_errors = b.read_errors;
    for (const auto& [path, f] : b.files) {
      for (const auto& g : f.groups) s.targets += g.targets.size();
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ose
