#pragma once
// Fleet coverage: how the handshakes of one probe (`handshakes = N`) and
// the addresses behind one name (`addresses = "all"`) fold into the one
// result a target reports. Pure functions over ProbeResult; the TLS prober
// runs the handshakes, these decide what they mean.
#include <string>
#include <string_view>
#include <vector>

#include "ocsp_staple_exporter/common/asio.h"
#include <boost/asio/ip/tcp.hpp>

#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/probe/probe_result.h"

namespace ose {

/// How bad a completed handshake's staple is, for "the worst handshake
/// wins": revoked 4 > invalid 3 > absent 2 > unknown 1 > good 0 (the
/// verdict as verified at probe time).
int StapleSeverity(ResponseState state);

/// "IP:port", IPv6 in brackets ("[::1]:443"): the `address` label.
std::string FormatEndpoint(const asio::ip::tcp::endpoint& endpoint);

/// Folds the handshakes made with one address into one result.
/// `handshakes` holds them in order and stops at the first that failed;
/// `requested` is the configured count (1..kMaxHandshakes). When one
/// failed, the result is that failure (its detail names which handshake).
/// Otherwise it is the worst handshake by StapleSeverity, among equals the
/// one whose answer expires first (the smallest nextUpdate margin), then
/// the first; with the earliest leaf notAfter seen and staple_present true
/// only when every handshake carried a staple. Every distinct leaf held
/// for a CRL lookup (crl_subjects) moves to the result.
/// ProbeResult::handshakes is set when `requested` > 1.
/// `handshakes` must not be empty.
ProbeResult CombineHandshakes(std::vector<ProbeResult> handshakes, int requested);

/// Folds the results of every address of a name (`addresses = "all"`)
/// into a summary that carries them in per_address: a failure when any
/// address failed (the first, its detail prefixed with the address), else
/// the worst as CombineHandshakes picks it, with the earliest notAfter.
/// Every distinct leaf held for a CRL lookup (crl_subjects), from the
/// addresses that answered, moves to the summary; the per-address results
/// keep none.
ProbeResult CombineAddresses(std::vector<ProbeResult> per_address);

/// Label values of `ocsp_response_status{status}`, `ocsp_stapler_status`
/// and `ocsp_target_addresses{state}`: the OCSP states (in ResponseState
/// order) and "failed" (the probe did not complete).
inline constexpr std::string_view kAddressStateNames[] = {"good",   "revoked", "unknown",
                                                          "absent", "invalid", "failed"};

/// The index of "failed" in kAddressStateNames.
inline constexpr size_t kFailedState = 5;

/// How many of `summary.per_address` are in each kAddressStateNames state,
/// with the verdicts read at Unix time `now` (VerdictAt).
std::vector<int> CountAddressStates(const ProbeResult& summary, int64_t now);

}  // namespace ose
