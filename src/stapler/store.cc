#include "ocsp_staple_exporter/stapler/store.h"

#include <sys/stat.h>

#include <filesystem>
#include <sstream>
#include <toml++/toml.h>

#include "ocsp_staple_exporter/common/file.h"

namespace ose {

namespace fs = std::filesystem;

std::string CertKey(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return "";
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

StapleStore::StapleStore(std::string dir) : dir_(std::move(dir)) {}

std::string StapleStore::Path(const std::string& key, const char* ext) const {
  return (fs::path(dir_) / (key + ext)).string();
}

Result<Ok> StapleStore::Save(const std::string& key, const StoreEntry& e) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Error{"io", "cannot create store_dir " + dir_ + ": " + ec.message()};
  ::chmod(dir_.c_str(), 0700);
  if (auto r = WriteFileAtomic(Path(key, ".der"), e.der); !r) return r.error();
  toml::table t{{"certificate", e.certificate},
                {"status", e.status},
                {"url", e.url},
                {"fetched_at", e.fetched_at}};
  if (e.this_update) t.insert("this_update", *e.this_update);
  if (e.next_update) t.insert("next_update", *e.next_update);
  if (e.produced_at) t.insert("produced_at", *e.produced_at);
  std::ostringstream out;
  out << "# ocsp_staple_exporter cache entry for " << key << "\n" << t << "\n";
  std::string text = out.str();
  return WriteFileAtomic(Path(key, ".toml"),
                         std::span<const uint8_t>(
                             reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Result<StoreEntry> StapleStore::Load(const std::string& key) const {
  StoreEntry e;
  auto der = ReadFileLimited(Path(key, ".der"), 1 << 20);
  if (!der) {
    if (der.error().reason == "missing") return der.error();
    return Error{"corrupt", der.error().detail};
  }
  if (der->empty()) return Error{"corrupt", Path(key, ".der") + ": empty"};
  e.der = std::move(der).value();
  auto side = ReadFileLimited(Path(key, ".toml"), 64 << 10);
  if (!side) return Error{"corrupt", side.error().detail};
  try {
    toml::table t = toml::parse(
        std::string_view(reinterpret_cast<const char*>(side->data()), side->size()),
        Path(key, ".toml"));
    // value_exact: a key of another type (a float of 1e96 where an integer
    // belongs, found by fuzzing) is ignored, never converted.
    e.certificate = t["certificate"].value_exact<std::string>().value_or("");
    e.status = t["status"].value_exact<std::string>().value_or("");
    e.url = t["url"].value_exact<std::string>().value_or("");
    e.fetched_at = t["fetched_at"].value_exact<int64_t>().value_or(0);
    if (auto v = t["this_update"].value_exact<int64_t>()) e.this_update = *v;
    if (auto v = t["next_update"].value_exact<int64_t>()) e.next_update = *v;
    if (auto v = t["produced_at"].value_exact<int64_t>()) e.produced_at = *v;
  } catch (const toml::parse_error& err) {
    return Error{"corrupt", Path(key, ".toml") + ":" + std::to_string(err.source().begin.line) +
                                ": " + std::string(err.description())};
  }
  return e;
}

std::vector<std::string> StapleStore::Purge(const std::set<std::string>& keep, int64_t now,
                                            int64_t max_age_seconds) const {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir_, ec)) {
    if (f.path().extension() != ".der") continue;
    std::string key = f.path().stem().string();
    if (keep.count(key)) continue;
    struct stat st {};
    if (::stat(f.path().c_str(), &st) != 0) continue;
    if (now - static_cast<int64_t>(st.st_mtim.tv_sec) <= max_age_seconds) continue;
    fs::remove(f.path(), ec);
    fs::remove(Path(key, ".toml"), ec);
    removed.push_back(key);
  }
  return removed;
}

}  // namespace ose
