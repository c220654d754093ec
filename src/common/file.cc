#include "ocsp_staple_exporter/common/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace ose {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Error Io(const std::string& what, const std::string& path) {
  return Error{"io", what + " " + path + ": " + std::strerror(errno)};
}

}  // namespace

Result<Ok> WriteFileAtomic(const std::string& path, std::span<const uint8_t> data) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    Fd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (f.fd < 0) return Io("cannot create", tmp);
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(f.fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        Error e = Io("cannot write", tmp);
        ::unlink(tmp.c_str());
        return e;
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(f.fd) != 0) {
      Error e = Io("cannot fsync", tmp);
      ::unlink(tmp.c_str());
      return e;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = Io("cannot rename onto", path);
    ::unlink(tmp.c_str());
    return e;
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  Fd d{::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd >= 0) ::fsync(d.fd);  // best effort: the rename itself is done
  return Ok{};
}

Result<std::vector<uint8_t>> ReadFileLimited(const std::string& path, size_t max_bytes) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) {
    if (errno == ENOENT) return Error{"missing", path + ": no such file"};
    return Io("cannot open", path);
  }
  std::vector<uint8_t> out;
  uint8_t buf[65536];
  while (true) {
    ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Io("cannot read", path);
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      return Error{"too_large", path + ": larger than " + std::to_string(max_bytes) + " bytes"};
    }
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

}  // namespace ose
