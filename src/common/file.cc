#include "ocsp_staple_exporter/common/file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

// A name no one can predict: 96 random bits from the kernel.
std::string RandomSuffix() {
  uint8_t bytes[12];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

}  // namespace

Result<Ok> WriteFileAtomic(const std::string& path, std::span<const uint8_t> data) {
  // O_EXCL|O_NOFOLLOW on a random name in the target folder: a symlink or
  // file planted at a predictable path is never followed or reused.
  std::string tmp;
  Fd f;
  for (int attempt = 0; attempt < 8 && f.fd < 0; ++attempt) {
    tmp = path + ".tmp." + RandomSuffix();
    f.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (f.fd < 0 && errno != EEXIST) break;
  }
  {
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
    ::close(f.fd);
    f.fd = -1;
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
  // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then
  // refuses anything that is not a regular file before a read can block.
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)};
  if (f.fd < 0) {
    if (errno == ENOENT) return Error{"missing", path + ": no such file"};
    if (errno == EISDIR) return Error{"not_regular_file", path + ": is a folder"};
    return Io("cannot open", path);
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return Io("cannot stat", path);
  if (!S_ISREG(st.st_mode)) {
    const char* kind = S_ISDIR(st.st_mode)    ? "a folder"
                       : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISCHR(st.st_mode)  ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "not a regular file";
    return Error{"not_regular_file", path + ": is " + std::string(kind)};
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return Error{"too_large", path + ": larger than " + std::to_string(max_bytes) + " bytes"};
  }
  // Read straight into the heap: this runs on HTTP worker threads (a
  // reload) whose stacks are small; a 64 KiB stack buffer overflowed them
  // under ASan. The file may grow while read: never past max_bytes.
  std::vector<uint8_t> out(static_cast<size_t>(st.st_size) + 1);
  size_t used = 0;
  while (true) {
    if (used == out.size()) {
      if (out.size() > max_bytes) break;
      out.resize(std::min(out.size() * 2, max_bytes + 1));
    }
    ssize_t n = ::read(f.fd, out.data() + used, out.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Io("cannot read", path);
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > max_bytes) {
    return Error{"too_large", path + ": larger than " + std::to_string(max_bytes) + " bytes"};
  }
  out.resize(used);
  return out;
}

}  // namespace ose
