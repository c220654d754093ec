// STARTTLS: the plaintext exchange that upgrades a mail, directory,
// database or chat connection to TLS before the handshake whose staple we
// judge. A state machine fed with what the server sent; it does no I/O of
// its own (tls_prober.cc drives it on the probe's event loop, under the
// probe's deadline). Nothing is ever sent after the upgrade: no MAIL, no
// AUTH, no login.
//
//   SMTP      RFC 3207: greeting 220, EHLO, STARTTLS offered, STARTTLS → 220
//   IMAP      RFC 3501 §6.2.1: greeting "* OK", "a1 STARTTLS" → "a1 OK"
//   POP3      RFC 2595 §4: greeting "+OK", STLS → "+OK"
//   FTP       RFC 4217 §4: greeting 220, AUTH TLS → 234
//   LDAP      RFC 4511 §4.14: ExtendedRequest 1.3.6.1.4.1.1466.20037 → resultCode 0
//   Postgres  protocol 3 SSLRequest (80877103) → 'S'
//   XMPP      RFC 6120 §5: stream header to the domain, <starttls/> offered in
//             <stream:features>, <starttls/> → <proceed/> (read with expat)
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ose {

enum class StartTls { kNone, kSmtp, kImap, kPop3, kFtp, kLdap, kPostgres, kXmpp };

/// "smtp", "imap", "pop3", "ftp", "ldap", "postgres", "xmpp"; "" for kNone.
std::string_view StartTlsName(StartTls protocol);
/// The protocol named `name` (as StartTlsName spells it); none for an
/// unknown name ("" is kNone).
std::optional<StartTls> ParseStartTls(std::string_view name);
/// The names accepted, for error messages: "smtp, imap, ...".
std::string_view StartTlsNames();

/// An EHLO argument (RFC 5321 §4.1.1.1): a domain, or an address literal
/// in brackets; nothing that could end the command line or start another.
bool IsEhloName(std::string_view name);
/// This host's name (gethostname) for EHLO; "localhost" when it has none
/// fit for EHLO.
std::string DefaultEhloName();

/// Bounds of one exchange: a hostile or broken server cannot hold memory
/// or the probe's attention beyond them (the probe's timeout bounds time).
struct StartTlsLimits {
  size_t max_line = 4096;      ///< bytes in one line (line protocols)
  size_t max_lines = 128;      ///< lines in the whole exchange
  size_t max_bytes = 64 * 1024;  ///< bytes received in the whole exchange
};

/// The client side of one upgrade. Usage: Start(), then for every kSend
/// write `send` and read; for every kRead read; Feed() each chunk read; stop
/// at kReady (the TLS handshake may begin on the same connection) or kFail.
/// Not thread-safe; one per connection.
class StartTlsDialogue {
 public:
  struct Step {
    enum class Kind { kSend, kRead, kReady, kFail };
    Kind kind = Kind::kRead;
    std::string send;         ///< kSend: bytes to write before reading on
    std::string_view reason;  ///< kFail: probe_failure::kStartTlsRefused or kStartTlsProtocol
    std::string detail;       ///< kFail: what the server said or did, for people
  };

  /// `ehlo_name`: the SMTP EHLO argument; `xmpp_domain`: the stream's `to`.
  StartTlsDialogue(StartTls protocol, std::string ehlo_name, std::string xmpp_domain,
                   StartTlsLimits limits = {});
  ~StartTlsDialogue();
  StartTlsDialogue(const StartTlsDialogue&) = delete;
  StartTlsDialogue& operator=(const StartTlsDialogue&) = delete;

  /// The first step: kRead where the server speaks first, else kSend.
  Step Start();
  /// Bytes the server sent (any split; may be empty). Bytes beyond the
  /// server's go-ahead fail the exchange (kStartTlsProtocol): TLS must start
  /// on a clean connection (CVE-2011-0411 was plaintext injected there).
  Step Feed(std::string_view bytes);
  /// The server closed the connection: the step that says so.
  Step Closed();

  struct State;

 private:
  std::unique_ptr<State> s_;
};

}  // namespace ose
