#pragma once
// The bare OpenSSL handshake loop every probe figure is compared with (see
// handshake_floor.cc): one SSL_CTX, a new SSL per connection,
// status_request, no verification, no HTTP, no event loop, blocking
// sockets to an IPv4 address. Shared by handshake_floor and ose_bench so
// both measure the same floor.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

namespace ose::bench {

/// CPU seconds (user + system) of this process so far.
inline double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct FloorOptions {
  bool tls12 = false;
  bool staple = true;
  std::string groups;   ///< SSL_CTX_set1_groups_list, when set
  std::string sigalgs;  ///< SSL_CTX_set1_sigalgs_list, when set
};

struct FloorResult {
  long handshakes = 0, stapled = 0, failed = 0;
  double wall_seconds = 0, cpu_seconds = 0;
  std::string error;  ///< set when the loop could not run
  double CpuMsPerHandshake() const { return handshakes > 0 ? cpu_seconds / handshakes * 1e3 : 0; }
};

/// Handshakes with HOST (IPv4 literal):PORT for `seconds`.
inline FloorResult RunFloor(const std::string& host, int port, double seconds,
                            const FloorOptions& o = {}) {
  FloorResult r;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    r.error = "HOST must be an IPv4 address";
    return r;
  }
  struct CtxFree {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
  };
  struct SslFree {
    void operator()(SSL* s) const { SSL_free(s); }
  };
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (o.tls12) SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION);
  if (!o.groups.empty() && SSL_CTX_set1_groups_list(ctx.get(), o.groups.c_str()) != 1) {
    r.error = "bad groups list";
    return r;
  }
  if (!o.sigalgs.empty() && SSL_CTX_set1_sigalgs_list(ctx.get(), o.sigalgs.c_str()) != 1) {
    r.error = "bad sigalgs list";
    return r;
  }
  const double cpu0 = CpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  const auto until = t0 + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd);
      r.error = "cannot connect";
      return r;
    }
    std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd);
    if (o.staple) SSL_set_tlsext_status_type(ssl.get(), TLSEXT_STATUSTYPE_ocsp);
    if (SSL_connect(ssl.get()) == 1) {
      ++r.handshakes;
      const unsigned char* resp = nullptr;
      if (SSL_get_tlsext_status_ocsp_resp(ssl.get(), &resp) > 0) ++r.stapled;
    } else {
      ++r.failed;
    }
    ERR_clear_error();
    ssl.reset();
    close(fd);
  }
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cpu_seconds = CpuSeconds() - cpu0;
  return r;
}

}  // namespace ose::bench
