#pragma once
// SilentServer: a TCP socket on 127.0.0.1 that listens and never accepts: the kernel
// completes connections from the backlog and nothing ever answers, so a TLS
// client waits until its own timeout.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>

namespace ose::testing {

// A socket of `type` bound to 127.0.0.1 on an ephemeral port; throws when
// it cannot be.
inline int BindLoopback(int type, uint16_t* port) {
  int fd = ::socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot bind a socket to 127.0.0.1");
  }
  *port = ntohs(a.sin_port);
  return fd;
}

class SilentServer {
 public:
  explicit SilentServer(int backlog = 4096) : fd_(BindLoopback(SOCK_STREAM, &port_)) {
    if (::listen(fd_, backlog) != 0) {
      ::close(fd_);
      throw std::runtime_error("SilentServer: cannot listen on 127.0.0.1");
    }
  }
  ~SilentServer() { ::close(fd_); }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;

  uint16_t port() const { return port_; }

 private:
  uint16_t port_ = 0;
  int fd_ = -1;
};

// A UDP socket on 127.0.0.1 that receives and never answers: a DNS server
// that has gone dark.
class SilentUdp {
 public:
  SilentUdp() : fd_(BindLoopback(SOCK_DGRAM, &port_)) {}
  ~SilentUdp() { ::close(fd_); }
  SilentUdp(const SilentUdp&) = delete;
  SilentUdp& operator=(const SilentUdp&) = delete;

  uint16_t port() const { return port_; }

 private:
  uint16_t port_ = 0;
  int fd_ = -1;
};

}  // namespace ose::testing
