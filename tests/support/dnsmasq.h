#pragma once
// A real DNS server for tests: dnsmasq in the foreground on 127.0.0.1,
// answering only the records it is given (no /etc/hosts, no upstream).
#include <chrono>
#include <string>
#include <vector>

#include "process.h"

namespace ose::testing {

/// Starts dnsmasq on 127.0.0.1:`port` with `records` ("name,address" as
/// --host-record takes them; repeat a name for several addresses), a
/// `ttl_seconds` TTL and `extra` arguments, logging to `log`. Returns once
/// it says it started (within 10 s), or nullptr when it did not. The caller
/// owns the process (delete stops it).
inline Process* StartDnsmasq(int port, const std::vector<std::string>& records,
                             const std::string& log, int ttl_seconds = 5,
                             const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {"/usr/sbin/dnsmasq", "--no-daemon", "--conf-file=/dev/null",
                                   "--no-resolv", "--no-hosts", "--bind-interfaces",
                                   "--listen-address=127.0.0.1", "--port=" + std::to_string(port),
                                   "--local-ttl=" + std::to_string(ttl_seconds),
                                   "--log-facility=-"};
  for (const auto& r : records) argv.push_back("--host-record=" + r);
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto* p = new Process(argv, log);
  if (!WaitFor([&] { return ReadFile(log).find("started") != std::string::npos; },
               std::chrono::seconds(10))) {
    delete p;
    return nullptr;
  }
  return p;
}

}  // namespace ose::testing
