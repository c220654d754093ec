// The store_dir cache entry: a hostile sidecar (<key>.toml) or DER file
// is "corrupt" with a detail, never a crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "ocsp_staple_exporter/stapler/store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("ose-fuzz-store-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  {
    std::ofstream(dir + "/k.toml", std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    std::ofstream(dir + "/k.der", std::ios::binary | std::ios::trunc) << "\x30\x03\x0a\x01\x03";
  }
  ose::StapleStore store(dir);
  auto entry = store.Load("k");
  if (!entry && entry.error().reason != "corrupt" && entry.error().reason != "missing") {
    __builtin_trap();
  }
  return 0;
}
