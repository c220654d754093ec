// What a server says during STARTTLS (StartTlsDialogue): the first byte picks
// the protocol, the rest is the server's bytes, cut into turns at each 0xFF
// (a turn is fed in two halves, as a network read may split it). Whatever
// it says, the dialogue never crashes, never sends more than its three
// commands, fails only with the two STARTTLS reasons, and gives the
// go-ahead only with nothing left unread.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ocsp_staple_exporter/probe/probe_result.h"
#include "ocsp_staple_exporter/probe/starttls.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ose::StartTls;
  using Kind = ose::StartTlsDialogue::Step::Kind;
  if (size < 1) return 0;
  static constexpr StartTls kProtocols[] = {StartTls::kSmtp, StartTls::kImap, StartTls::kPop3,
                                            StartTls::kFtp,  StartTls::kLdap, StartTls::kPostgres,
                                            StartTls::kXmpp};
  const StartTls protocol = kProtocols[data[0] % std::size(kProtocols)];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  ose::StartTlsLimits limits;
  limits.max_bytes = 4096;  // small, so the fuzzer reaches the bound
  limits.max_line = 512;
  ose::StartTlsDialogue d(protocol, "fuzz.example", "chat.example", limits);
  int sends = 0;
  auto check = [&](const ose::StartTlsDialogue::Step& s) {
    if (s.kind == Kind::kSend && ++sends > 3) __builtin_trap();
    if (s.kind == Kind::kFail && s.reason != ose::probe_failure::kStartTlsRefused &&
        s.reason != ose::probe_failure::kStartTlsProtocol) {
      __builtin_trap();
    }
    return s.kind == Kind::kReady || s.kind == Kind::kFail;
  };
  if (check(d.Start())) return 0;
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t end = rest.find('\xff', pos);
    if (end == std::string_view::npos) end = rest.size();
    const std::string_view turn = rest.substr(pos, end - pos);
    const size_t half = turn.size() / 2;
    if (check(d.Feed(turn.substr(0, half))) || check(d.Feed(turn.substr(half)))) return 0;
    pos = end + 1;
  }
  check(d.Closed());
  return 0;
}
