#pragma once
// Small file helpers with the durability the stapling engine needs.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/common/result.h"

namespace ose {

/// Writes `data` to `path` atomically: a temporary file in the same folder
/// (random name, created with O_EXCL|O_NOFOLLOW so a planted symlink is
/// never followed), fsync, rename over `path`, fsync of the folder. Readers
/// see the old or the new content, never a mix; on failure the old content
/// stays and no temporary file is left. Error reason "io", detail names the
/// path and errno text (ENOSPC, EROFS, EACCES, ENOENT for a missing folder).
Result<Ok> WriteFileAtomic(const std::string& path, std::span<const uint8_t> data);

/// Reads a whole file of at most `max_bytes`. Never blocks on a FIFO or a
/// device. Error reason "missing" when it does not exist,
/// "not_regular_file" for a folder, FIFO, device or socket, "io" when
/// unreadable, "too_large" over the limit.
Result<std::vector<uint8_t>> ReadFileLimited(const std::string& path, size_t max_bytes);

}  // namespace ose
