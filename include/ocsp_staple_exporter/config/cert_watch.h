#pragma once
// Noticing a renewed certificate on disk without a SIGHUP: certbot and
// cert-manager replace `cert_file` in place or by rename. CertWatch keeps
// the (device, inode, size, mtime) of the certificate and issuer files and
// reloads them when any changed.

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "ocsp_staple_exporter/common/result.h"
#include "ocsp_staple_exporter/config/config.h"

namespace ose {

/// Loads `cert_file` (and `issuer_file`, "" for none) into a LoadedCert:
/// the leaf, its issuer, Must-Staple and AIA OCSP URLs. Errors as
/// LoadCertAndIssuer (reason "file", "malformed" or "issuer_unknown").
Result<LoadedCertPtr> LoadCertFiles(const std::string& cert_file, const std::string& issuer_file);

class CertWatch {
 public:
  /// Watches the files behind `current` (already loaded); the first Check
  /// compares against what is on disk now.
  CertWatch(std::string cert_file, std::string issuer_file, LoadedCertPtr current);

  /// Returns the newly loaded certificate when a file changed and its leaf
  /// or issuer DER differs from the current one; nullptr when nothing
  /// changed. An unreadable or half-written file is an error (the current
  /// certificate stays, and the next Check tries again).
  Result<LoadedCertPtr> Check();

  const LoadedCertPtr& current() const { return current_; }

 private:
  struct Stamp {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    int64_t mtime_ns = 0;
    bool operator==(const Stamp&) const = default;
  };
  static Stamp StampOf(const std::string& path);
  std::string cert_file_, issuer_file_;
  LoadedCertPtr current_;
  Stamp cert_stamp_, issuer_stamp_;
};

}  // namespace ose
