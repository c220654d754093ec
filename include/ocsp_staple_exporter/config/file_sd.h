#pragma once
// Prometheus' file-based service discovery format (file_sd_configs): a JSON
// or YAML list of target groups,
//
//   [ { "targets": ["host:port", ...], "labels": { "name": "value" } } ]
//
// read by `[[discovery]]` blocks. Parsing is pure and bounded: hostile or
// half-written files give an error naming the file and the element, never
// an exception.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ocsp_staple_exporter/common/result.h"
#include "ocsp_staple_exporter/config/host_port.h"

namespace ose {

/// Extra labels of a discovered target, sorted by name (names validated).
using LabelPairs = std::vector<std::pair<std::string, std::string>>;

/// A target of a file_sd list: "host:port" as written, and as parsed.
struct DiscoveredAddress {
  std::string address;
  HostPort endpoint;  ///< ParseHostPort(address)
  bool operator==(const DiscoveredAddress&) const = default;
};

/// One element of a file_sd list.
struct TargetGroup {
  std::vector<DiscoveredAddress> targets;
  LabelPairs labels;
};

enum class FileSdFormat { kJson, kYaml };

/// The format Prometheus picks by extension: ".json" is JSON, ".yml" and
/// ".yaml" are YAML; anything else is refused (error reason "bad_format").
Result<FileSdFormat> FileSdFormatOf(std::string_view path);

/// A label name Prometheus accepts ([a-zA-Z_][a-zA-Z0-9_]*), not reserved
/// (`__`-prefixed names are Prometheus' own).
bool ValidExtraLabelName(std::string_view name);

/// Label names a discovered target may not bring: the exporter's own on
/// per-target series (`target`, `address`, and the `status`, `reason`,
/// `state`, `method`, `le` of its state sets, info gauges and histograms:
/// a second one would make a series invalid) and Prometheus' `job` and
/// `instance`.
inline constexpr std::string_view kReservedLabelNames[] = {
    "target", "address", "status", "reason", "state", "method", "le", "job", "instance"};
bool ReservedLabelName(std::string_view name);

/// Parses `text` (the contents of `file`, named in errors) as a list of
/// target groups. Every target must be HOST:PORT ([IPv6]:PORT); label
/// names must pass ValidExtraLabelName and not be ReservedLabelName; label
/// values and targets must be valid UTF-8. Errors (reason "bad_file_sd") read
/// "FILE: [1].labels.env: must be a string"; a YAML syntax error carries
/// its line and column.
Result<std::vector<TargetGroup>> ParseFileSd(std::string_view text, FileSdFormat format,
                                             const std::string& file);

}  // namespace ose
