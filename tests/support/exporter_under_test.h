#pragma once
// The exporter binary and the lab script, as integration tests start them.
// Needs OSE_SOURCE_DIR and OSE_EXPORTER_BIN (tests/CMakeLists.txt).
#include <chrono>
#include <string>

#include "process.h"

namespace ose::testing {

inline const std::string kLab = OSE_SOURCE_DIR "/scripts/lab.sh";
inline const std::string kExporter = OSE_EXPORTER_BIN;

/// Starts the exporter with `config` on 127.0.0.1 and an ephemeral port,
/// debug logs appended to `log`. Sets *port to the port it listens on, or
/// -1 when it did not say so within 20 s. The caller owns the process.
inline Process* StartExporter(const std::string& config, const std::string& log, int* port) {
  auto* p = new Process({kExporter, "--config.file=" + config, "--web.listen-address=127.0.0.1:0",
                         "--log.level=debug"},
                        log);
  *port = WaitForListeningPort(log, std::chrono::seconds(20));
  return p;
}

}  // namespace ose::testing
