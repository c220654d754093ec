// The TOML config loader: any text yields a Config or an error naming
// file:line:col, never a crash or a hang. Paths resolve against a folder
// holding real certificates, so configs that reference them parse deep.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "ocsp_staple_exporter/config/config.h"

namespace {

const std::string& Dir() {
  static std::string dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("ose-fuzz-config-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    const auto& pki = ose::fuzz::FixedPki();
    ose::testing::WritePem((d / "leaf.pem").string(), {pki.leaf.get()});
    ose::testing::WritePem((d / "issuer.pem").string(), {pki.issuer.get()});
    ose::testing::WritePem((d / "chain.pem").string(), {pki.leaf.get(), pki.issuer.get()});
    return d.string();
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cfg = ose::ParseConfig(text, Dir() + "/config.toml");
  if (!cfg && cfg.error().detail.empty()) __builtin_trap();  // errors always say where
  return 0;
}
