// TlsProber's one operation (resolve, admit, handshakes under one deadline)
// against a local listener that accepts and never answers: every path ends
// at the deadline with the phase it was in.
#include "ocsp_staple_exporter/probe/tls_prober.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <array>
#include <functional>
#include <memory>
#include <string>
#include <optional>
#include <vector>

namespace ose {
namespace {

using asio::ip::tcp;

// Accepts every connection on 127.0.0.1 and holds it silently.
class SilentServer {
 public:
  explicit SilentServer(asio::io_context& io)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    Accept();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  size_t accepted() const { return held_.size(); }

 private:
  void Accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
      if (ec) return;
      held_.push_back(std::move(s));
      Accept();
    });
  }
  tcp::acceptor acceptor_;
  std::vector<tcp::socket> held_;
};

// A plaintext server that sends `greeting` on accept and answers each line
// it receives with answer(line); records what it received.
class ScriptedServer {
 public:
  ScriptedServer(asio::io_context& io, std::string greeting,
                 std::function<std::string(const std::string&)> answer)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        greeting_(std::move(greeting)),
        answer_(std::move(answer)) {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
      if (ec) return;
      socket_.emplace(std::move(s));
      Write(greeting_);
      Read();
    });
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  const std::vector<std::string>& received() const { return received_; }

 private:
  void Write(const std::string& bytes) {
    if (bytes.empty()) return;
    auto copy = std::make_shared<std::string>(bytes);
    asio::async_write(*socket_, asio::buffer(*copy), [copy](const auto&, size_t) {});
  }
  void Read() {
    socket_->async_read_some(asio::buffer(in_), [this](const boost::system::error_code& ec,
                                                       size_t n) {
      if (ec) return;
      pending_.append(in_.data(), n);
      for (size_t nl; (nl = pending_.find('\n')) != std::string::npos;) {
        received_.push_back(pending_.substr(0, nl + 1));
        pending_.erase(0, nl + 1);
        Write(answer_(received_.back()));
      }
      Read();
    });
  }
  tcp::acceptor acceptor_;
  std::string greeting_;
  std::function<std::string(const std::string&)> answer_;
  std::optional<tcp::socket> socket_;
  std::array<char, 1024> in_{};
  std::string pending_;
  std::vector<std::string> received_;
};

ProbeResult ProbeOnce(asio::io_context& io, TlsProber& prober, TlsProbeRequest req) {
  std::optional<ProbeResult> out;
  prober.Probe(std::move(req), [&](ProbeResult r) {
    out = std::move(r);
    io.stop();
  });
  io.restart();
  io.run_for(std::chrono::seconds(10));
  EXPECT_TRUE(out.has_value()) << "the probe never ended";
  return out.value_or(ProbeResult{});
}

TlsProbeRequest Request(uint16_t port) {
  TlsProbeRequest req;
  req.host = "127.0.0.1";
  req.port = port;
  req.timeout = std::chrono::milliseconds(300);
  return req;
}

// SMTP with STARTTLS, 5 s to spare.
TlsProbeRequest SmtpRequest(uint16_t port) {
  TlsProbeRequest req = Request(port);
  req.timeout = std::chrono::seconds(5);
  req.starttls = StartTls::kSmtp;
  req.starttls_ehlo = "probe.example";
  return req;
}

TEST(TlsProber, ASilentServerTimesOutInTheHandshake) {
  asio::io_context io;
  SilentServer server(io);
  TlsProber prober(io);
  ProbeResult r = ProbeOnce(io, prober, Request(server.port()));
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.failure_reason, probe_failure::kTimeout);
  EXPECT_EQ(r.detail, "timed out after 300ms (in the TLS handshake)");
  EXPECT_EQ(r.address, "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_FALSE(r.extras().handshakes.has_value());
  EXPECT_GE(r.duration_seconds, 0.25);
  EXPECT_EQ(server.accepted(), 1u);
}

// Several handshakes share the one deadline: the first hangs, the probe ends
// at the deadline and says which handshake it was.
TEST(TlsProber, SeveralHandshakesShareOneDeadline) {
  asio::io_context io;
  SilentServer server(io);
  TlsProber prober(io);
  TlsProbeRequest req = Request(server.port());
  req.handshakes = 3;
  ProbeResult r = ProbeOnce(io, prober, req);
  EXPECT_EQ(r.failure_reason, probe_failure::kTimeout);
  EXPECT_EQ(r.detail, "handshake 1 of 3: timed out after 300ms (in the TLS handshake)");
  ASSERT_TRUE(r.extras().handshakes.has_value());
  EXPECT_EQ(r.extras().handshakes->requested, 3);
  EXPECT_EQ(r.extras().handshakes->completed, 0);
  EXPECT_LT(r.duration_seconds, 5.0);
  EXPECT_EQ(server.accepted(), 1u);
}

TEST(TlsProber, EveryAddressTimesOutOnItsOwnRow) {
  asio::io_context io;
  SilentServer server(io);
  TlsProber prober(io);
  TlsProbeRequest req = Request(server.port());
  req.all_addresses = true;
  ProbeResult r = ProbeOnce(io, prober, req);
  EXPECT_EQ(r.failure_reason, probe_failure::kTimeout);
  EXPECT_TRUE(r.every_address);
  ASSERT_EQ(r.extras().per_address.size(), 1u);
  EXPECT_EQ(r.extras().per_address[0].address, "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(r.extras().per_address[0].detail, "timed out after 300ms (in the TLS handshake)");
}

// `admit` sees the resolved addresses before any connection is made.
TEST(TlsProber, AdmitRefusesBeforeConnecting) {
  asio::io_context io;
  SilentServer server(io);
  TlsProber prober(io);
  TlsProbeRequest req = Request(server.port());
  std::vector<tcp::endpoint> seen;
  req.admit = [&](const std::vector<tcp::endpoint>& endpoints) -> Result<Ok> {
    seen = endpoints;
    return Error{"forbidden", "denied by test"};
  };
  ProbeResult r = ProbeOnce(io, prober, req);
  EXPECT_EQ(r.failure_reason, probe_failure::kForbidden);
  EXPECT_EQ(r.detail, "denied by test");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].port(), server.port());
  EXPECT_EQ(server.accepted(), 0u);
}

TEST(TlsProber, StartTlsSilenceTimesOutInTheExchange) {
  asio::io_context io;
  SilentServer server(io);
  TlsProber prober(io);
  TlsProbeRequest req = Request(server.port());
  req.starttls = StartTls::kSmtp;
  req.starttls_ehlo = "probe.example";
  ProbeResult r = ProbeOnce(io, prober, req);
  EXPECT_EQ(r.failure_reason, probe_failure::kTimeout);
  EXPECT_EQ(r.detail, "timed out after 300ms (in the STARTTLS exchange)");
  EXPECT_EQ(r.starttls, StartTls::kSmtp);
}

// A server without STARTTLS: refused after EHLO, and nothing else is sent
// (no MAIL, no AUTH, no QUIT with data).
TEST(TlsProber, StartTlsNotOfferedIsRefusedAndNothingMoreIsSent) {
  asio::io_context io;
  ScriptedServer server(io, "220 mx.example ESMTP\r\n", [](const std::string& line) {
    return line.rfind("EHLO", 0) == 0 ? "250-mx.example\r\n250 SIZE 1000\r\n"
                                      : "500 what?\r\n";
  });
  TlsProber prober(io);
  ProbeResult r = ProbeOnce(io, prober, SmtpRequest(server.port()));
  EXPECT_EQ(r.failure_reason, probe_failure::kStartTlsRefused);
  EXPECT_EQ(r.detail, "STARTTLS (smtp): the EHLO reply does not offer STARTTLS");
  EXPECT_EQ(server.received(), (std::vector<std::string>{"EHLO probe.example\r\n"}));
}

TEST(TlsProber, StartTlsEndlessContinuationIsAProtocolError) {
  std::string flood;
  for (int i = 0; i < 1000; ++i) flood += "220-and more\r\n";
  asio::io_context io;
  ScriptedServer server(io, flood, [](const std::string&) { return ""; });
  TlsProber prober(io);
  ProbeResult r = ProbeOnce(io, prober, SmtpRequest(server.port()));
  EXPECT_EQ(r.failure_reason, probe_failure::kStartTlsProtocol);
  EXPECT_NE(r.detail.find("more than 128 lines"), std::string::npos) << r.detail;
  EXPECT_TRUE(server.received().empty()) << "nothing is sent before the greeting ends";
}

}  // namespace
}  // namespace ose
