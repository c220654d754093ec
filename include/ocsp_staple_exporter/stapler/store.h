#pragma once
// The stapling engine's disk cache (`[stapler] store_dir`), in the spirit of
// the NATS server's OCSP cache: one entry per certificate, keyed by the
// SHA-256 of the leaf's DER (a rotated certificate never gets an old
// staple), holding the DER response (`<key>.der`) and a TOML sidecar
// (`<key>.toml`: certificate name, status, times, URL, fetched_at). Entries
// are written atomically. The store does not verify: the engine re-verifies
// every entry it loads.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/common/ossl_ptr.h"
#include "ocsp_staple_exporter/common/result.h"

namespace ose {

/// Lowercase hex SHA-256 of the certificate's DER encoding.
std::string CertKey(X509* cert);

struct StoreEntry {
  std::vector<uint8_t> der;  ///< the OCSPResponse
  std::string certificate;   ///< configured name, for people reading the folder
  std::string status;        ///< "good", "revoked", ... when written
  std::string url;           ///< responder it came from
  int64_t fetched_at = 0;    ///< Unix seconds
  std::optional<int64_t> this_update, next_update, produced_at;
};

class StapleStore {
 public:
  /// `dir` is created (0700) on first Save when missing.
  explicit StapleStore(std::string dir);

  /// Writes the entry for `key` (DER first, then the sidecar). Error reason "io".
  Result<Ok> Save(const std::string& key, const StoreEntry& entry);

  /// Reads the entry for `key`. Errors: reason "missing" when there is none,
  /// "corrupt" when a file is unreadable, the sidecar is not valid TOML, or
  /// the DER is empty or over 1 MiB (detail names the file).
  Result<StoreEntry> Load(const std::string& key) const;

  /// Deletes entries whose key is not in `keep` and whose files were last
  /// written more than `max_age_seconds` before `now`. Returns the keys
  /// removed.
  std::vector<std::string> Purge(const std::set<std::string>& keep, int64_t now,
                                 int64_t max_age_seconds) const;

  const std::string& dir() const { return dir_; }

 private:
  std::string Path(const std::string& key, const char* ext) const;
  std::string dir_;
};

}  // namespace ose
