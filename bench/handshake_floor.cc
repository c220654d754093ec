// The floor every probe figure is compared with: a bare OpenSSL client loop.
// One SSL_CTX, a new SSL per connection, status_request, no verification,
// no HTTP, no event loop; blocking sockets on 127.0.0.1. Prints CPU per
// handshake (user + system of this process) and handshakes per second.
// Asserts nothing.
//
//   build/handshake_floor HOST PORT [SECONDS] [--tls1.2] [--no-staple]
//                         [--groups=LIST] [--sigalgs=LIST]
//
// --groups / --sigalgs try a tuned key-exchange group or signature list, to
// see what the handshake's own cost depends on (see README, Performance).
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
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace {

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: %s HOST PORT [SECONDS] [--tls1.2] [--no-staple] [--groups=L] "
                 "[--sigalgs=L]\n",
                 argv[0]);
    return 2;
  }
  const std::string host = argv[1];
  const int port = std::atoi(argv[2]);
  double seconds = 5;
  bool tls12 = false, staple = true;
  std::string groups, sigalgs;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--tls1.2") tls12 = true;
    else if (a == "--no-staple") staple = false;
    else if (a.rfind("--groups=", 0) == 0) groups = a.substr(9);
    else if (a.rfind("--sigalgs=", 0) == 0) sigalgs = a.substr(10);
    else seconds = std::atof(a.c_str());
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "HOST must be an IPv4 address\n");
    return 2;
  }
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (tls12) SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION);
  if (!groups.empty() && SSL_CTX_set1_groups_list(ctx.get(), groups.c_str()) != 1) {
    std::fprintf(stderr, "bad --groups\n");
    return 2;
  }
  if (!sigalgs.empty() && SSL_CTX_set1_sigalgs_list(ctx.get(), sigalgs.c_str()) != 1) {
    std::fprintf(stderr, "bad --sigalgs\n");
    return 2;
  }

  long handshakes = 0, stapled = 0, failed = 0;
  const double cpu0 = CpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  const auto until = t0 + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      std::perror("connect");
      close(fd);
      return 1;
    }
    std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd);
    if (staple) SSL_set_tlsext_status_type(ssl.get(), TLSEXT_STATUSTYPE_ocsp);
    if (SSL_connect(ssl.get()) == 1) {
      ++handshakes;
      const unsigned char* resp = nullptr;
      if (SSL_get_tlsext_status_ocsp_resp(ssl.get(), &resp) > 0) ++stapled;
    } else {
      ++failed;
    }
    ERR_clear_error();
    ssl.reset();
    close(fd);
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = CpuSeconds() - cpu0;
  std::printf(
      "handshake_floor: %ld handshakes (%ld stapled, %ld failed) in %.2f s: %.0f/s, "
      "%.3f ms CPU each (%s%s%s)\n",
      handshakes, stapled, failed, wall, handshakes / wall,
      handshakes > 0 ? cpu / handshakes * 1e3 : 0.0, tls12 ? "TLS 1.2" : "TLS 1.3",
      groups.empty() ? "" : ", groups=", groups.c_str());
  return handshakes > 0 ? 0 : 1;
}
