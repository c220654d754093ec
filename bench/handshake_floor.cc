// The floor every probe figure is compared with: the bare OpenSSL client
// loop of floor.h. Prints CPU per handshake (user + system of this process)
// and handshakes per second. Asserts nothing.
//
//   build/handshake_floor HOST PORT [SECONDS] [--tls1.2] [--no-staple]
//                         [--groups=LIST] [--sigalgs=LIST]
//
// --groups / --sigalgs try a tuned key-exchange group or signature list, to
// see what the handshake's own cost depends on (see README, Performance).
#include <cstdlib>

#include "floor.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: %s HOST PORT [SECONDS] [--tls1.2] [--no-staple] [--groups=L] "
                 "[--sigalgs=L]\n",
                 argv[0]);
    return 2;
  }
  double seconds = 5;
  ose::bench::FloorOptions o;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--tls1.2") {
      o.tls12 = true;
    } else if (a == "--no-staple") {
      o.staple = false;
    } else if (a.rfind("--groups=", 0) == 0) {
      o.groups = a.substr(9);
    } else if (a.rfind("--sigalgs=", 0) == 0) {
      o.sigalgs = a.substr(10);
    } else {
      seconds = std::atof(a.c_str());
    }
  }
  auto r = ose::bench::RunFloor(argv[1], std::atoi(argv[2]), seconds, o);
  if (!r.error.empty()) {
    std::fprintf(stderr, "handshake_floor: %s\n", r.error.c_str());
    return 1;
  }
  std::printf(
      "handshake_floor: %ld handshakes (%ld stapled, %ld failed) in %.2f s: %.0f/s, "
      "%.3f ms CPU each (%s%s%s)\n",
      r.handshakes, r.stapled, r.failed, r.wall_seconds, r.handshakes / r.wall_seconds,
      r.CpuMsPerHandshake(), o.tls12 ? "TLS 1.2" : "TLS 1.3", o.groups.empty() ? "" : ", groups=",
      o.groups.c_str());
  return r.handshakes > 0 ? 0 : 1;
}
