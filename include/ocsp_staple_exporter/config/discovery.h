#pragma once
// `[[discovery]]`: `[[tls]]` targets read from Prometheus file_sd files and
// kept up to date. The files are polled (stat every refresh_interval:
// device, inode, size and modification time), not watched with inotify:
// polling sees a Kubernetes ConfigMap's symlink swap, a file replaced by
// rename and a file on a network mount alike, at the cost of up to one
// refresh_interval of delay.
//
// Nothing valid is lost to a bad file: a file that cannot be read or
// parsed (half-written, truncated, hostile) keeps the targets it last
// gave, and the error is logged once per version of the file. A file that
// is deleted, or no longer matched, takes its targets with it.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/config/file_sd.h"

namespace ose {

/// Largest file_sd file read (bytes); a larger one is an error.
inline constexpr size_t kMaxFileSdBytes = 16 << 20;

/// Counts for `ocsp_staple_exporter_discovery_*{discovery}`.
struct DiscoveryStats {
  std::string name;           ///< the block's name
  uint64_t targets = 0;       ///< targets it contributes now
  uint64_t files = 0;         ///< files it reads now
  uint64_t read_errors = 0;   ///< failed reads or parses since start
};

class DiscoveryWatcher {
 public:
  /// Checks the files of every block of `blocks` whose refresh_interval has
  /// passed since its last check (every block when `force`, as on a
  /// reload), at steady time `now_ms`; reads the ones that changed. Returns
  /// true when the discovered targets changed. Blocks no longer configured
  /// are forgotten. Call from one thread at a time.
  bool Poll(const std::vector<DiscoveryConfig>& blocks, int64_t now_ms, bool force);

  /// The discovered targets, in block, file (sorted by path) and file
  /// order: each a copy of its block's defaults with name and address set
  /// to the file's "host:port" and its group's labels. A name that is
  /// taken is skipped: by an earlier discovered target or a configured
  /// [[tls]] target (the config file wins; logged at debug level), or by a
  /// configured target of another kind (refused, logged as an error: it
  /// would replace that target's series). `configured` maps the config
  /// file's target names to their kind ("tls", "responder", "file", "crl").
  std::vector<TlsTarget> Targets(const std::vector<DiscoveryConfig>& blocks,
                                 const std::map<std::string, std::string>& configured) const;

  /// Per block, for the exporter's own metrics (any thread).
  std::vector<DiscoveryStats> Stats() const;

 private:
  struct File {
    std::string signature;             ///< dev:ino:size:mtime of the version read
    std::string failed_signature;      ///< of the version whose error was logged
    std::vector<TargetGroup> groups;   ///< from the last version that parsed
  };
  struct Block {
    int64_t last_poll_ms = 0;
    bool polled = false;
    std::map<std::string, File> files;  ///< by path
    uint64_t read_errors = 0;
  };
  bool PollBlock(const DiscoveryConfig& d, Block& b);

  mutable std::mutex mu_;  ///< guards blocks_ for Stats()
  std::map<std::string, Block> blocks_;  ///< by block name
};

}  // namespace ose
