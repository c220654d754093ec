// The STARTTLS state machines against scripted servers: each protocol's
// go-ahead, its refusals, answers that break the protocol, the bounds, and
// bytes injected after the go-ahead. Every script is also fed one byte at a
// time: a server may split its answer anywhere.
#include "ocsp_staple_exporter/probe/starttls.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ocsp_staple_exporter/probe/probe_result.h"

namespace ose {
namespace {

using Kind = StartTlsDialogue::Step::Kind;

// A server's turns: what it sends after each of the client's sends (the
// first turn: before the client says anything, for protocols where the
// server speaks first). Returns the final step and what the client sent.
struct Outcome {
  StartTlsDialogue::Step step;
  std::vector<std::string> sent;
};

Outcome Converse(StartTls protocol, const std::vector<std::string>& turns, bool byte_by_byte,
            StartTlsLimits limits = {}) {
  StartTlsDialogue d(protocol, "probe.example", "chat.example", limits);
  Outcome out;
  auto note = [&](const StartTlsDialogue::Step& s) {
    if (s.kind == Kind::kSend) out.sent.push_back(s.send);
    return s.kind == Kind::kReady || s.kind == Kind::kFail;
  };
  StartTlsDialogue::Step step = d.Start();
  note(step);
  for (const std::string& bytes : turns) {
    bool done = false;
    if (byte_by_byte) {
      for (size_t i = 0; i < bytes.size() && !done; ++i) {
        step = d.Feed(std::string_view(bytes).substr(i, 1));
        done = note(step);
      }
    } else {
      step = d.Feed(bytes);
      done = note(step);
    }
    if (done) {
      out.step = step;
      return out;
    }
  }
  out.step = d.Closed();  // the server has nothing more to say
  return out;
}

// Both ways of feeding agree; returns the whole-chunk outcome.
Outcome Both(StartTls protocol, const std::vector<std::string>& turns) {
  Outcome whole = Converse(protocol, turns, false);
  Outcome split = Converse(protocol, turns, true);
  EXPECT_EQ(static_cast<int>(whole.step.kind), static_cast<int>(split.step.kind))
      << whole.step.detail << " / " << split.step.detail;
  EXPECT_EQ(whole.step.reason, split.step.reason);
  return whole;
}

TEST(StartTls, NamesRoundTrip) {
  for (auto p : {StartTls::kSmtp, StartTls::kImap, StartTls::kPop3, StartTls::kFtp,
                 StartTls::kLdap, StartTls::kPostgres, StartTls::kXmpp}) {
    EXPECT_EQ(ParseStartTls(StartTlsName(p)), p);
  }
  EXPECT_EQ(ParseStartTls(""), StartTls::kNone);
  EXPECT_FALSE(ParseStartTls("SMTP").has_value());
  EXPECT_FALSE(ParseStartTls("smtps").has_value());
}

TEST(StartTls, SmtpGreetsEhlosAndUpgrades) {
  auto o = Both(StartTls::kSmtp, {"220-mx.example ESMTP\r\n220 ready\r\n",
                                  "250-mx.example hello\r\n250-SIZE 52428800\r\n"
                                  "250-8BITMIME\r\n250-STARTTLS\r\n250 HELP\r\n",
                                  "220 TLS go ahead\r\n"});
  EXPECT_EQ(o.step.kind, Kind::kReady) << o.step.detail;
  ASSERT_EQ(o.sent.size(), 2u);
  EXPECT_EQ(o.sent[0], "EHLO probe.example\r\n");
  EXPECT_EQ(o.sent[1], "STARTTLS\r\n");
}

TEST(StartTls, SmtpWithoutStartTlsIsRefusedAndNothingMoreIsSent) {
  auto o = Both(StartTls::kSmtp,
                {"220 mx ESMTP\r\n", "250-mx\r\n250-STARTTLSX\r\n250 SIZE 1000\r\n"});
  EXPECT_EQ(o.step.kind, Kind::kFail);
  EXPECT_EQ(o.step.reason, probe_failure::kStartTlsRefused);
  EXPECT_NE(o.step.detail.find("does not offer STARTTLS"), std::string::npos);
  EXPECT_EQ(o.sent.size(), 1u) << "only EHLO";
  auto busy = Both(StartTls::kSmtp, {"554 no service here\r\n"});
  EXPECT_EQ(busy.step.reason, probe_failure::kStartTlsRefused);
  EXPECT_NE(busy.step.detail.find("554 no service here"), std::string::npos);
  auto tempfail = Both(StartTls::kSmtp,
                       {"220 mx\r\n", "250-mx\r\n250 STARTTLS\r\n", "454 TLS not available\r\n"});
  EXPECT_EQ(tempfail.step.reason, probe_failure::kStartTlsRefused);
  EXPECT_NE(tempfail.step.detail.find("454"), std::string::npos);
}

TEST(StartTls, SmtpAnswersThatBreakTheProtocol) {
  auto html = Both(StartTls::kSmtp, {"HTTP/1.1 400 Bad Request\r\n"});
  EXPECT_EQ(html.step.reason, probe_failure::kStartTlsProtocol);
  auto mixed = Both(StartTls::kSmtp, {"220-mx\r\n250 other code\r\n"});
  EXPECT_EQ(mixed.step.reason, probe_failure::kStartTlsProtocol);
  auto silent_close = Both(StartTls::kSmtp, {});
  EXPECT_EQ(silent_close.step.reason, probe_failure::kStartTlsProtocol);
  EXPECT_NE(silent_close.step.detail.find("closed"), std::string::npos);
}

TEST(StartTls, EndlessContinuationLinesHitTheLineBound) {
  std::string flood;
  for (int i = 0; i < 500; ++i) flood += "220-still greeting\r\n";
  auto o = Converse(StartTls::kSmtp, {flood}, false);
  EXPECT_EQ(o.step.reason, probe_failure::kStartTlsProtocol);
  EXPECT_NE(o.step.detail.find("more than 128 lines"), std::string::npos) << o.step.detail;
}

TEST(StartTls, ALineWithoutEndHitsTheLengthBound) {
  auto o = Converse(StartTls::kSmtp, {"220 " + std::string(5000, 'x')}, false);
  EXPECT_EQ(o.step.reason, probe_failure::kStartTlsProtocol);
  EXPECT_NE(o.step.detail.find("longer than 4096"), std::string::npos) << o.step.detail;
  // The same bytes one at a time stop at the bound, not at the end.
  auto split = Converse(StartTls::kSmtp, {"220 " + std::string(5000, 'x')}, true);
  EXPECT_EQ(split.step.reason, probe_failure::kStartTlsProtocol);
}

TEST(StartTls, TheWholeExchangeIsBoundedInBytes) {
  StartTlsLimits small;
  small.max_bytes = 100;
  auto o = Converse(StartTls::kImap, {"* OK " + std::string(200, 'y') + "\r\n"}, false, small);
  EXPECT_EQ(o.step.reason, probe_failure::kStartTlsProtocol);
  EXPECT_NE(o.step.detail.find("more than 100 bytes"), std::string::npos);
}

// CVE-2011-0411: plaintext after the go-ahead would be read as TLS.
TEST(StartTls, BytesAfterTheGoAheadAreRefused) {
  auto smtp = Converse(StartTls::kSmtp,
                  {"220 mx\r\n", "250-mx\r\n250 STARTTLS\r\n", "220 go\r\n250 injected\r\n"},
                  false);
  EXPECT_EQ(smtp.step.reason, probe_failure::kStartTlsProtocol);
  EXPECT_NE(smtp.step.detail.find("after the server's go-ahead"), std::string::npos);
  auto pg = Converse(StartTls::kPostgres, {"SX"}, false);
  EXPECT_EQ(pg.step.reason, probe_failure::kStartTlsProtocol);
}

TEST(StartTls, Imap) {
  auto ok = Both(StartTls::kImap, {"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n",
                                   "* CAPABILITY IMAP4rev1\r\na1 OK Begin TLS now\r\n"});
  EXPECT_EQ(ok.step.kind, Kind::kReady) << ok.step.detail;
  ASSERT_EQ(ok.sent.size(), 1u);
  EXPECT_EQ(ok.sent[0], "a1 STARTTLS\r\n");
  auto no = Both(StartTls::kImap, {"* OK ready\r\n", "a1 BAD unknown command\r\n"});
  EXPECT_EQ(no.step.reason, probe_failure::kStartTlsRefused);
  auto preauth = Both(StartTls::kImap, {"* PREAUTH welcome\r\n"});
  EXPECT_EQ(preauth.step.reason, probe_failure::kStartTlsRefused);
  EXPECT_TRUE(preauth.sent.empty());
  auto junk = Both(StartTls::kImap, {"SSH-2.0-OpenSSH\r\n"});
  EXPECT_EQ(junk.step.reason, probe_failure::kStartTlsProtocol);
}

TEST(StartTls, Pop3) {
  auto ok = Both(StartTls::kPop3, {"+OK Dovecot ready.\r\n", "+OK Begin TLS negotiation now.\r\n"});
  EXPECT_EQ(ok.step.kind, Kind::kReady);
  EXPECT_EQ(ok.sent, (std::vector<std::string>{"STLS\r\n"}));
  auto no = Both(StartTls::kPop3, {"+OK\r\n", "-ERR unknown command\r\n"});
  EXPECT_EQ(no.step.reason, probe_failure::kStartTlsRefused);
  auto junk = Both(StartTls::kPop3, {"* OK imap\r\n"});
  EXPECT_EQ(junk.step.reason, probe_failure::kStartTlsProtocol);
}

TEST(StartTls, Ftp) {
  auto ok = Both(StartTls::kFtp, {"120 in a minute\r\n220-Welcome\r\nfree text\r\n220 ready\r\n",
                                  "234 AUTH TLS OK.\r\n"});
  EXPECT_EQ(ok.step.kind, Kind::kReady) << ok.step.detail;
  EXPECT_EQ(ok.sent, (std::vector<std::string>{"AUTH TLS\r\n"}));
  auto no = Both(StartTls::kFtp, {"220 ready\r\n", "530 Please login with USER and PASS.\r\n"});
  EXPECT_EQ(no.step.reason, probe_failure::kStartTlsRefused);
  EXPECT_NE(no.step.detail.find("530"), std::string::npos);
}

TEST(StartTls, Postgres) {
  auto ok = Both(StartTls::kPostgres, {"S"});
  EXPECT_EQ(ok.step.kind, Kind::kReady);
  ASSERT_EQ(ok.sent.size(), 1u);
  EXPECT_EQ(ok.sent[0], std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8));
  EXPECT_EQ(Both(StartTls::kPostgres, {"N"}).step.reason, probe_failure::kStartTlsRefused);
  EXPECT_EQ(Both(StartTls::kPostgres, {"H"}).step.reason, probe_failure::kStartTlsProtocol);
}

// An ExtendedResponse: messageID, [APPLICATION 24] { resultCode, "", diag }.
std::string LdapResponse(int message_id, int result, const std::string& diag) {
  std::string op = std::string("\x0a\x01", 2) + static_cast<char>(result) +
                   std::string("\x04\x00", 2) + "\x04" + static_cast<char>(diag.size()) + diag;
  std::string msg = std::string("\x02\x01", 2) + static_cast<char>(message_id) + "\x78" +
                    static_cast<char>(op.size()) + op;
  return "\x30" + std::string(1, static_cast<char>(msg.size())) + msg;
}

TEST(StartTls, Ldap) {
  auto ok = Both(StartTls::kLdap, {LdapResponse(1, 0, "")});
  EXPECT_EQ(ok.step.kind, Kind::kReady) << ok.step.detail;
  ASSERT_EQ(ok.sent.size(), 1u);
  EXPECT_EQ(ok.sent[0].size(), 31u);
  auto refused = Both(StartTls::kLdap, {LdapResponse(1, 2, "unsupported extended operation")});
  EXPECT_EQ(refused.step.reason, probe_failure::kStartTlsRefused);
  EXPECT_NE(refused.step.detail.find("resultCode 2"), std::string::npos);
  auto notice = Both(StartTls::kLdap, {LdapResponse(0, 52, "going away")});
  EXPECT_EQ(notice.step.reason, probe_failure::kStartTlsRefused);
  EXPECT_EQ(Both(StartTls::kLdap, {"220 smtp here\r\n"}).step.reason,
            probe_failure::kStartTlsProtocol);
  // A length that promises more than the bound: refused at once, never awaited.
  EXPECT_EQ(Converse(StartTls::kLdap, {std::string("\x30\x84\x7f\xff\xff\xff", 6)}, false).step.reason,
            probe_failure::kStartTlsProtocol);
  // Indefinite length is not LDAP's BER.
  EXPECT_EQ(Converse(StartTls::kLdap, {std::string("\x30\x80\x02\x01\x01\x00\x00", 7)}, false)
                .step.reason,
            probe_failure::kStartTlsProtocol);
  // Bytes after the response.
  EXPECT_EQ(Converse(StartTls::kLdap, {LdapResponse(1, 0, "") + "x"}, false).step.reason,
            probe_failure::kStartTlsProtocol);
}

constexpr const char* kStreamOpen =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' id='1' from='chat.example' version='1.0'>";

TEST(StartTls, Xmpp) {
  auto ok = Both(StartTls::kXmpp,
                 {std::string(kStreamOpen) +
                      "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
                      "<required/></starttls><mechanisms/></stream:features>",
                  "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"});
  EXPECT_EQ(ok.step.kind, Kind::kReady) << ok.step.detail;
  ASSERT_EQ(ok.sent.size(), 2u);
  EXPECT_NE(ok.sent[0].find("to='chat.example'"), std::string::npos);
  EXPECT_EQ(ok.sent[1], "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  auto none = Both(StartTls::kXmpp, {std::string(kStreamOpen) +
                                     "<stream:features><mechanisms/></stream:features>"});
  EXPECT_EQ(none.step.reason, probe_failure::kStartTlsRefused);
  auto failure = Both(StartTls::kXmpp,
                      {std::string(kStreamOpen) +
                           "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
                           "</stream:features>",
                       "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>"});
  EXPECT_EQ(failure.step.reason, probe_failure::kStartTlsRefused);
}

TEST(StartTls, XmppHostileStreams) {
  // Entity expansion needs a DTD: refused before any entity is declared.
  auto laughs = Converse(StartTls::kXmpp,
                    {"<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>]><lolz>&lol;</lolz>"},
                    false);
  EXPECT_EQ(laughs.step.reason, probe_failure::kStartTlsProtocol);
  EXPECT_NE(laughs.step.detail.find("DTD"), std::string::npos) << laughs.step.detail;
  auto not_xml = Converse(StartTls::kXmpp, {"220 smtp\r\n"}, false);
  EXPECT_EQ(not_xml.step.reason, probe_failure::kStartTlsProtocol);
  auto other_root = Converse(StartTls::kXmpp, {"<html><body>"}, false);
  EXPECT_EQ(other_root.step.reason, probe_failure::kStartTlsProtocol);
  auto injected = Converse(StartTls::kXmpp,
                      {std::string(kStreamOpen) +
                           "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
                           "</stream:features>",
                       "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><message/>"},
                      false);
  EXPECT_EQ(injected.step.reason, probe_failure::kStartTlsProtocol);
  EXPECT_NE(injected.step.detail.find("after <proceed/>"), std::string::npos);
  // The domain is an attribute value: quotes cannot end it.
  StartTlsDialogue d(StartTls::kXmpp, "", "x' evil='1", {});
  EXPECT_NE(d.Start().send.find("to='x&#39; evil=&#39;1'"), std::string::npos);
}

}  // namespace
}  // namespace ose
