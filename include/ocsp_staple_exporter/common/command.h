#pragma once
// Running operators' shell commands (`reload_command`, `fatal_command`)
// as children of the event loop, without threads: the child's exit is
// watched through a pidfd on the io_context, and a timer kills it when it
// overstays its timeout.

#include <sys/types.h>

#include "ocsp_staple_exporter/common/asio.h"
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ose {

class CommandRunner {
 public:
  /// `io` is borrowed and outlives the runner. Callbacks run on `io`.
  explicit CommandRunner(asio::io_context& io) : io_(io) {}

  /// Starts `/bin/sh -c command` with `env` added to the environment:
  ///  - stdin is /dev/null; stdout and stderr are the exporter's, and every
  ///    other descriptor is closed in the child (no listening socket, TLS
  ///    connection or file of the exporter leaks into it);
  ///  - every signal has its default disposition and none is blocked;
  ///  - it runs in a process group of its own, which is sent SIGKILL when
  ///    it has not exited after `timeout`.
  /// `done(code)` runs on the io thread once the child is reaped: the exit
  /// status, 128 + signal when killed by a signal (137 after a timeout), or
  /// -1 when it could not be started (detail in `error`).
  /// Returns the child's pid, or -1.
  pid_t Run(const std::string& command,
            const std::vector<std::pair<std::string, std::string>>& env,
            std::chrono::milliseconds timeout,
            std::function<void(int code, const std::string& error)> done);

  /// Commands started and not yet reaped.
  int running() const { return running_; }

 private:
  asio::io_context& io_;
  int running_ = 0;
};

}  // namespace ose
