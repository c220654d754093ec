// The client side of STARTTLS for seven protocols, as a state machine over
// the bytes the server sends (see starttls.h for the RFCs).
#include "ocsp_staple_exporter/probe/starttls.h"

#include <expat.h>
#include <unistd.h>
#include <openssl/asn1.h>
#include <openssl/err.h>

#include <algorithm>
#include <array>
#include <memory>
#include <type_traits>
#include <cctype>
#include <utility>
#include <vector>

#include "ocsp_staple_exporter/common/openssl_error.h"
#include "ocsp_staple_exporter/common/text.h"
#include "ocsp_staple_exporter/probe/probe_result.h"

namespace ose {
namespace {

using Step = StartTlsDialogue::Step;
using Kind = Step::Kind;

constexpr std::pair<StartTls, std::string_view> kNames[] = {
    {StartTls::kSmtp, "smtp"}, {StartTls::kImap, "imap"},         {StartTls::kPop3, "pop3"},
    {StartTls::kFtp, "ftp"},   {StartTls::kLdap, "ldap"},         {StartTls::kPostgres, "postgres"},
    {StartTls::kXmpp, "xmpp"},
};

Step Send(std::string bytes) { return Step{Kind::kSend, std::move(bytes), {}, {}}; }
Step Read() { return Step{Kind::kRead, {}, {}, {}}; }
Step Refused(std::string detail) {
  return Step{Kind::kFail, {}, probe_failure::kStartTlsRefused, std::move(detail)};
}
Step Broken(std::string detail) {
  return Step{Kind::kFail, {}, probe_failure::kStartTlsProtocol, std::move(detail)};
}

// What the server said, fit for a log line: valid UTF-8, at most 160 bytes.
std::string Quote(std::string_view said) {
  std::string s = ValidUtf8(said.substr(0, 160));
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return "\"" + s + (said.size() > 160 ? "…\"" : "\"");
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(s[i])) !=
        std::toupper(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

constexpr std::string_view kStreamNs = "http://etherx.jabber.org/streams";
constexpr std::string_view kTlsNs = "urn:ietf:params:xml:ns:xmpp-tls";

}  // namespace

std::string_view StartTlsName(StartTls protocol) {
  for (const auto& [p, name] : kNames) {
    if (p == protocol) return name;
  }
  return "";
}

std::optional<StartTls> ParseStartTls(std::string_view name) {
  if (name.empty()) return StartTls::kNone;
  for (const auto& [p, n] : kNames) {
    if (n == name) return p;
  }
  return std::nullopt;
}

std::string_view StartTlsNames() { return "smtp, imap, pop3, ftp, ldap, postgres or xmpp"; }

bool IsEhloName(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  if (s.front() == '[') {
    return s.size() > 2 && s.back() == ']' &&
           s.substr(1, s.size() - 2).find_first_not_of("0123456789abcdefABCDEF:.IPv") ==
               std::string_view::npos;
  }
  return s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") ==
         std::string_view::npos;
}

std::string DefaultEhloName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || !IsEhloName(name)) return "localhost";
  return name;
}

// A reply of SMTP (RFC 5321 §4.2: every line "ddd-" or "ddd ") or FTP (RFC
// 959 §4.2: "ddd-" first, anything, "ddd " last).
struct Reply {
  int code = 0;
  std::vector<std::string> lines;
};

struct StartTlsDialogue::State {
  StartTls protocol;
  std::string ehlo;
  std::string domain;
  StartTlsLimits limits;
  int stage = 0;
  std::string buf;      ///< received and not consumed yet
  size_t received = 0;  ///< bytes, whole exchange
  size_t lines = 0;     ///< lines, whole exchange
  Reply reply;          ///< SMTP/FTP: the reply being read
  std::optional<Step> failed;  ///< set by a line reader that hit a bound

  // XMPP (expat, namespace-aware: names read "uri|local"); `xml` is the
  // parser `parser` owns.
  std::unique_ptr<std::remove_pointer_t<XML_Parser>, decltype(&XML_ParserFree)> parser{
      nullptr, &XML_ParserFree};
  XML_Parser xml = nullptr;
  int depth = 0;
  bool in_features = false, offered = false, features_done = false;
  bool proceed = false;
  long proceed_end = 0;  ///< byte offset just after </proceed>
  std::optional<Step> xml_verdict;
  long fed = 0;  ///< bytes given to expat

  // The next whole line (without CR LF), or none until more bytes come
  // (then `failed` may say a bound was hit).
  std::optional<std::string> NextLine() {
    const size_t nl = buf.find('\n');
    if (nl == std::string::npos) {
      if (buf.size() > limits.max_line) {
        failed = Broken("a line longer than " + std::to_string(limits.max_line) + " bytes");
      }
      return std::nullopt;
    }
    if (nl > limits.max_line) {
      failed = Broken("a line longer than " + std::to_string(limits.max_line) + " bytes");
      return std::nullopt;
    }
    if (++lines > limits.max_lines) {
      failed = Broken("more than " + std::to_string(limits.max_lines) + " lines");
      return std::nullopt;
    }
    std::string line = buf.substr(0, nl);
    buf.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }

  // Reads `reply` to its last line: true when complete (then reset by the
  // caller), false for more bytes; `failed` when it breaks the protocol.
  bool ReadReply(bool ftp) {
    while (auto line = NextLine()) {
      auto code_of = [](const std::string& l) {
        if (l.size() < 3 || !std::isdigit(static_cast<unsigned char>(l[0])) ||
            !std::isdigit(static_cast<unsigned char>(l[1])) ||
            !std::isdigit(static_cast<unsigned char>(l[2])) ||
            (l.size() > 3 && l[3] != ' ' && l[3] != '-')) {
          return -1;
        }
        return std::stoi(l.substr(0, 3));
      };
      const int code = code_of(*line);
      const bool last = code >= 0 && (line->size() == 3 || (*line)[3] == ' ');
      if (reply.lines.empty()) {
        if (code < 0) {
          failed = Broken("not a reply line: " + Quote(*line));
          return false;
        }
        reply.code = code;
      } else if (!ftp && code != reply.code) {
        failed = Broken("a reply line with another code: " + Quote(*line));
        return false;
      }
      reply.lines.push_back(std::move(*line));
      if (last && code == reply.code) return true;
    }
    return false;
  }

  // The go-ahead: the TLS handshake starts right after it, on a clean wire.
  Step Ready() const {
    if (!buf.empty()) {
      return Broken(std::to_string(buf.size()) +
                    " bytes after the server's go-ahead (plaintext injected before TLS?)");
    }
    return Step{Kind::kReady, {}, {}, {}};
  }

  Step Smtp() {
    if (!ReadReply(false)) return failed ? *failed : Read();
    const Reply r = std::exchange(reply, Reply{});
    const std::string said = r.lines.empty() ? "" : Quote(r.lines.front());
    switch (stage++) {
      case 0:
        if (r.code != 220) return Refused("greeting " + said);
        return Send("EHLO " + ehlo + "\r\n");
      case 1: {
        if (r.code != 250) return Refused("EHLO answered " + said);
        const bool offered = std::any_of(r.lines.begin() + 1, r.lines.end(), [](const auto& l) {
          const std::string_view keyword =
              l.size() > 4 ? std::string_view(l).substr(4) : std::string_view();
          return StartsWithNoCase(keyword, "STARTTLS") &&
                 (keyword.size() == 8 || keyword[8] == ' ');
        });
        if (!offered) return Refused("the EHLO reply does not offer STARTTLS");
        return Send("STARTTLS\r\n");
      }
      default:
        if (r.code != 220) return Refused("STARTTLS answered " + said);
        return Ready();
    }
  }

  Step Ftp() {
    while (true) {
      if (!ReadReply(true)) return failed ? *failed : Read();
      const Reply r = std::exchange(reply, Reply{});
      if (r.code >= 100 && r.code < 200) continue;  // "120 ready in n minutes": wait on
      const std::string said = Quote(r.lines.front());
      if (stage++ == 0) {
        if (r.code != 220) return Refused("greeting " + said);
        return Send("AUTH TLS\r\n");
      }
      if (r.code != 234) return Refused("AUTH TLS answered " + said);
      return Ready();
    }
  }

  Step Pop3() {
    auto line = NextLine();
    if (!line) return failed ? *failed : Read();
    const bool ok = StartsWithNoCase(*line, "+OK");
    if (!ok && !StartsWithNoCase(*line, "-ERR")) return Broken("not a POP3 reply: " + Quote(*line));
    if (stage++ == 0) {
      if (!ok) return Refused("greeting " + Quote(*line));
      return Send("STLS\r\n");
    }
    if (!ok) return Refused("STLS answered " + Quote(*line));
    return Ready();
  }

  Step Imap() {
    while (auto line = NextLine()) {
      if (stage == 0) {
        stage = 1;
        if (StartsWithNoCase(*line, "* OK")) return Send("a1 STARTTLS\r\n");
        if (StartsWithNoCase(*line, "* PREAUTH")) {
          return Refused("already authenticated (PREAUTH): STARTTLS is not allowed");
        }
        if (StartsWithNoCase(*line, "* BYE")) return Refused("greeting " + Quote(*line));
        return Broken("not an IMAP greeting: " + Quote(*line));
      }
      if (StartsWithNoCase(*line, "* ")) continue;  // untagged data (CAPABILITY)
      if (StartsWithNoCase(*line, "a1 OK")) return Ready();
      if (StartsWithNoCase(*line, "a1 NO") || StartsWithNoCase(*line, "a1 BAD")) {
        return Refused("STARTTLS answered " + Quote(*line));
      }
      return Broken("not an answer to STARTTLS: " + Quote(*line));
    }
    return failed ? *failed : Read();
  }

  Step Postgres() {
    if (buf.empty()) return Read();
    const char answer = buf[0];
    buf.erase(0, 1);
    if (answer == 'S') return Ready();
    if (answer == 'N') return Refused("the server does not accept SSL (answered N)");
    if (answer == 'E') return Refused("the server answered the SSLRequest with an error");
    return Broken("not an answer to SSLRequest (first byte " + std::to_string(answer & 0xff) +
                  ")");
  }

  // RFC 4511: LDAPMessage ::= SEQUENCE { messageID, protocolOp
  // ExtendedResponse ([APPLICATION 24] { resultCode ENUMERATED, matchedDN,
  // diagnosticMessage, ... }) }, BER with definite lengths.
  Step Ldap() {
    const auto* start = reinterpret_cast<const unsigned char*>(buf.data());
    const unsigned char* p = start;
    long len = 0;
    int tag = 0, cls = 0;
    const int flags = ASN1_get_object(&p, &len, &tag, &cls, static_cast<long>(buf.size()));
    if (flags & 0x80) {
      const unsigned long err = ERR_peek_last_error();
      DrainOpenSslErrors();
      // Header read but the content still on its way, or the header cut.
      const bool more = (ERR_GET_REASON(err) == ASN1_R_TOO_LONG &&
                         static_cast<size_t>(p - start) + static_cast<size_t>(len) <=
                             limits.max_bytes) ||
                        (ERR_GET_REASON(err) == ASN1_R_HEADER_TOO_LONG && buf.size() < 10);
      return more ? Read() : Broken("not a BER LDAPMessage");
    }
    if (flags != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL) {
      return Broken("not an LDAPMessage");
    }
    const unsigned char* end = p + len;
    const size_t whole = static_cast<size_t>(end - start);
    // One element inside [p, end): its content, or none when malformed.
    auto element = [&](int want_tag, int want_cls, bool constructed)
        -> std::optional<std::pair<const unsigned char*, long>> {
      long n = 0;
      int t = 0, c = 0;
      const int f = ASN1_get_object(&p, &n, &t, &c, static_cast<long>(end - p));
      if ((f & 0x80) || t != want_tag || c != want_cls ||
          ((f & V_ASN1_CONSTRUCTED) != 0) != constructed || (f & 1)) {
        DrainOpenSslErrors();
        return std::nullopt;
      }
      const unsigned char* content = p;
      if (!constructed) p += n;
      return std::make_pair(content, n);
    };
    auto small_int = [](const std::pair<const unsigned char*, long>& e) -> long {
      if (e.second < 1 || e.second > 4) return -1;
      long v = 0;
      for (long i = 0; i < e.second; ++i) v = (v << 8) | e.first[i];
      return v;
    };
    const auto id = element(V_ASN1_INTEGER, V_ASN1_UNIVERSAL, false);
    const auto op = id ? element(24, V_ASN1_APPLICATION, true) : std::nullopt;
    const auto code = op ? element(V_ASN1_ENUMERATED, V_ASN1_UNIVERSAL, false) : std::nullopt;
    const auto dn = code ? element(V_ASN1_OCTET_STRING, V_ASN1_UNIVERSAL, false) : std::nullopt;
    const auto diag = dn ? element(V_ASN1_OCTET_STRING, V_ASN1_UNIVERSAL, false) : std::nullopt;
    if (!diag || small_int(*code) < 0) return Broken("not an LDAP ExtendedResponse");
    const long message_id = small_int(*id);
    const long result = small_int(*code);
    const std::string said(reinterpret_cast<const char*>(diag->first),
                           static_cast<size_t>(diag->second));
    buf.erase(0, whole);
    if (message_id == 0) return Refused("notice of disconnection: " + Quote(said));
    if (message_id != 1) return Broken("an answer to another message");
    if (result != 0) {
      return Refused("StartTLS answered resultCode " + std::to_string(result) +
                     (said.empty() ? "" : ": " + Quote(said)));
    }
    return Ready();
  }

  // --- XMPP: expat's callbacks ---
  static void OnStart(void* data, const XML_Char* name, const XML_Char**) {
    auto* s = static_cast<State*>(data);
    const std::string_view n(name);
    ++s->depth;
    if (s->depth == 1 && n != std::string(kStreamNs) + "|stream") {
      s->Stop(Broken("not an XMPP stream: <" + Quote(n) + ">"));
    } else if (s->depth == 2 && n == std::string(kStreamNs) + "|features") {
      s->in_features = true;
    } else if (s->depth == 2 && n == std::string(kStreamNs) + "|error") {
      s->Stop(Refused("stream error"));
    } else if (s->depth == 3 && s->in_features && n == std::string(kTlsNs) + "|starttls") {
      s->offered = true;
    }
  }
  static void OnEnd(void* data, const XML_Char* name) {
    auto* s = static_cast<State*>(data);
    const std::string_view n(name);
    if (s->depth == 2 && s->in_features && n == std::string(kStreamNs) + "|features") {
      s->in_features = false;
      s->features_done = true;
    } else if (s->depth == 2 && s->stage == 1 && n == std::string(kTlsNs) + "|proceed") {
      s->proceed = true;
      s->proceed_end = XML_GetCurrentByteIndex(s->xml) + XML_GetCurrentByteCount(s->xml);
      XML_StopParser(s->xml, XML_FALSE);
    } else if (s->depth == 2 && s->stage == 1 && n == std::string(kTlsNs) + "|failure") {
      s->Stop(Refused("<starttls/> answered <failure/>"));
    }
    --s->depth;
  }
  static void OnDoctype(void* data, const XML_Char*, const XML_Char*, const XML_Char*, int) {
    static_cast<State*>(data)->Stop(Broken("a DTD in an XMPP stream"));
  }
  void Stop(Step verdict) {
    if (!xml_verdict) xml_verdict = std::move(verdict);
    XML_StopParser(xml, XML_FALSE);
  }

  Step Xmpp() {
    const std::string chunk = std::exchange(buf, std::string());
    if (!chunk.empty()) {
      fed += static_cast<long>(chunk.size());
      if (XML_Parse(xml, chunk.data(), static_cast<int>(chunk.size()), XML_FALSE) ==
              XML_STATUS_ERROR &&
          !xml_verdict && !proceed) {
        return Broken(std::string("XML: ") + XML_ErrorString(XML_GetErrorCode(xml)));
      }
    }
    if (xml_verdict) return *xml_verdict;
    if (proceed) {
      if (proceed_end != fed) {
        return Broken(std::to_string(fed - proceed_end) +
                      " bytes after <proceed/> (plaintext injected before TLS?)");
      }
      return Step{Kind::kReady, {}, {}, {}};
    }
    if (stage == 0 && features_done) {
      if (!offered) return Refused("the stream features do not offer <starttls/>");
      stage = 1;
      return Send("<starttls xmlns='" + std::string(kTlsNs) + "'/>");
    }
    return Read();
  }
};

StartTlsDialogue::StartTlsDialogue(StartTls protocol, std::string ehlo_name,
                                   std::string xmpp_domain, StartTlsLimits limits)
    : s_(std::make_unique<State>()) {
  s_->protocol = protocol;
  s_->ehlo = std::move(ehlo_name);
  s_->domain = std::move(xmpp_domain);
  s_->limits = limits;
}

StartTlsDialogue::~StartTlsDialogue() = default;

StartTlsDialogue::Step StartTlsDialogue::Start() {
  State& s = *s_;
  switch (s.protocol) {
    case StartTls::kPostgres:
      // Int32 length 8, Int32 80877103: SSLRequest.
      return Send(std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8));
    case StartTls::kLdap:
      // LDAPMessage { messageID 1, ExtendedRequest { requestName [0]
      // "1.3.6.1.4.1.1466.20037" } }
      return Send(std::string("\x30\x1d\x02\x01\x01\x77\x18\x80\x16", 9) +
                  "1.3.6.1.4.1.1466.20037");
    case StartTls::kXmpp:
      s.parser.reset(XML_ParserCreateNS(nullptr, '|'));
      s.xml = s.parser.get();
      if (s.xml == nullptr) return Broken("cannot start an XML parser");
      XML_SetUserData(s.xml, &s);
      XML_SetElementHandler(s.xml, State::OnStart, State::OnEnd);
      XML_SetStartDoctypeDeclHandler(s.xml, State::OnDoctype);
      return Send("<?xml version='1.0'?><stream:stream to='" + MarkupEscape(s.domain) +
                  "' version='1.0' xmlns='jabber:client' "
                  "xmlns:stream='http://etherx.jabber.org/streams'>");
    default:
      return Read();  // the server speaks first
  }
}

StartTlsDialogue::Step StartTlsDialogue::Feed(std::string_view bytes) {
  State& s = *s_;
  s.received += bytes.size();
  if (s.received > s.limits.max_bytes) {
    return Broken("more than " + std::to_string(s.limits.max_bytes) + " bytes before TLS");
  }
  s.buf.append(bytes);
  switch (s.protocol) {
    case StartTls::kSmtp: return s.Smtp();
    case StartTls::kImap: return s.Imap();
    case StartTls::kPop3: return s.Pop3();
    case StartTls::kFtp: return s.Ftp();
    case StartTls::kLdap: return s.Ldap();
    case StartTls::kPostgres: return s.Postgres();
    case StartTls::kXmpp: return s.Xmpp();
    case StartTls::kNone: break;
  }
  return Step{Kind::kReady, {}, {}, {}};
}

StartTlsDialogue::Step StartTlsDialogue::Closed() {
  return Broken("the server closed the connection before TLS");
}

}  // namespace ose
