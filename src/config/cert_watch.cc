#include "ocsp_staple_exporter/config/cert_watch.h"

#include <openssl/x509.h>
#include <sys/stat.h>

#include "ocsp_staple_exporter/ocsp/certificate.h"

namespace ose {

Result<LoadedCertPtr> LoadCertFiles(const std::string& cert_file,
                                    const std::string& issuer_file) {
  auto loaded = LoadCertAndIssuer(cert_file, issuer_file);
  if (!loaded) return loaded.error();
  auto out = std::make_shared<LoadedCert>();
  out->must_staple = HasMustStaple(loaded->cert.get());
  out->ocsp_urls = OcspUrls(loaded->cert.get());
  out->crl_urls = CrlUrls(loaded->cert.get());
  out->cert = std::move(loaded->cert);
  out->issuer = std::move(loaded->issuer);
  return LoadedCertPtr(std::move(out));
}

CertWatch::CertWatch(std::string cert_file, std::string issuer_file, LoadedCertPtr current)
    : cert_file_(std::move(cert_file)),
      issuer_file_(std::move(issuer_file)),
      current_(std::move(current)) {
  // Stamps start empty: the first Check compares the files' content with
  // `current`, so a renewal between config load and now is not missed.
}

CertWatch::Stamp CertWatch::StampOf(const std::string& path) {
  Stamp s;
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return s;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = st.st_size;
  s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return s;
}

Result<LoadedCertPtr> CertWatch::Check() {
  Stamp c = StampOf(cert_file_), i = StampOf(issuer_file_);
  if (c == cert_stamp_ && i == issuer_stamp_) return LoadedCertPtr();
  auto loaded = LoadCertFiles(cert_file_, issuer_file_);
  if (!loaded) return loaded.error();  // stamps unchanged: try again next time
  cert_stamp_ = c;
  issuer_stamp_ = i;
  const LoadedCertPtr& n = loaded.value();
  if (current_ && X509_cmp(current_->cert.get(), n->cert.get()) == 0 &&
      X509_cmp(current_->issuer.get(), n->issuer.get()) == 0) {
    return LoadedCertPtr();  // touched, same certificate
  }
  current_ = n;
  return n;
}

}  // namespace ose
