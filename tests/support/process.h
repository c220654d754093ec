#pragma once
// Helpers for integration tests: child processes, HTTP via libcurl, files.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace ose::testing {

/// A child process whose stdout and stderr go to `log_path`. The destructor
/// stops it (SIGTERM, bounded wait, then SIGKILL).
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig) const;
  /// Sends SIGTERM and waits up to `wait`; returns the exit status or -1.
  int Stop(std::chrono::milliseconds wait = std::chrono::seconds(10));
  bool Running();

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

/// Runs a command to completion through /bin/sh; returns its exit code and
/// appends its combined output to `output` when given.
int RunCommand(const std::string& command, std::string* output = nullptr);

struct HttpResponse {
  long status = 0;  ///< 0 when the request failed
  std::string body;  ///< decoded (curl undoes Content-Encoding)
  std::string content_type;
  long wire_bytes = 0;  ///< body bytes as sent, before decoding
};

HttpResponse HttpGet(const std::string& url, const std::vector<std::string>& headers = {});
HttpResponse HttpPost(const std::string& url);

std::string ReadFile(const std::string& path);

/// Polls `done` every 200 ms until it holds or `limit` passes.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit);

/// Every series of a Prometheus text exposition: "name{labels}" -> value.
std::map<std::string, double> ParseMetrics(const std::string& text);

/// Waits (bounded) for the exporter's `msg=listening ... port=N` log line
/// in `log_path`; returns N, or -1 when it did not come within `limit`.
int WaitForListeningPort(const std::string& log_path, std::chrono::milliseconds limit);

/// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

}  // namespace ose::testing
