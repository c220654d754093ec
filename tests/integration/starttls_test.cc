// STARTTLS against real servers of every protocol Debian has one for, on
// 127.0.0.1: the lab (scripts/lab.sh with OSE_LAB_STARTTLS=1) runs Exim
// (SMTP, stapling), Dovecot (IMAP, POP3), PostgreSQL, vsftpd (FTP), slapd
// (LDAP) and Prosody (XMPP); the exporter binary probes each as a scheduled
// target and with the `probe` command.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "exporter_under_test.h"
#include "process.h"

namespace ose::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

class StartTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("ose-starttls-" + std::to_string(::getpid()))).string();
    base_ = 8000 + (::getpid() % 50) * 40;  // the lab takes 32 ports
    std::string out;
    ASSERT_EQ(RunCommand("OSE_LAB_STARTTLS=1 bash " + kLab + " up " + dir_ + " " +
                             std::to_string(base_),
                         &out),
              0)
        << out;
    log_ = dir_ + "/exporter.log";
    exporter_ = StartExporter(dir_ + "/exporter.toml", log_, &port_);
    ASSERT_GT(port_, 0) << ReadFile(log_);
  }

  static void TearDownTestSuite() {
    delete exporter_;
    RunCommand("bash " + kLab + " down " + dir_);
    if (::testing::UnitTest::GetInstance()->failed_test_count() == 0) fs::remove_all(dir_);
  }

  static std::string S(const std::string& metric, const std::string& target,
                       const std::string& extra = "") {
    return metric + "{target=\"" + target + "\"" + (extra.empty() ? "" : "," + extra) + "}";
  }

  // The `probe` command's exit code and first line.
  static std::pair<int, std::string> Probe(int offset, const std::string& protocol) {
    std::string out;
    const int rc = RunCommand(kExporter + " probe 127.0.0.1:" + std::to_string(base_ + offset) +
                                  " --starttls=" + protocol + " --server-name=localhost" +
                                  " --ca-file=" + dir_ + "/pki/root.pem --timeout=5s",
                              &out);
    return {rc, out.substr(0, out.find('\n'))};
  }

  static inline std::string dir_, log_;
  static inline int base_ = 0, port_ = 0;
  static inline Process* exporter_ = nullptr;
};

// Every protocol: the upgrade succeeds, the handshake completes, and the
// staple is judged: Exim's good, the others have none.
TEST_F(StartTlsTest, EveryProtocolUpgradesAndTheStapleIsJudged) {
  const std::pair<std::string, std::string> wants[] = {
      {"exim-good", "good"},          {"dovecot-imap", "absent"},
      {"dovecot-pop3", "absent"},     {"starttls-postgres", "absent"},
      {"starttls-ftp", "absent"},     {"starttls-ldap", "absent"},
      {"starttls-xmpp", "absent"},    {"go-smtp-revoked", "revoked"},
  };
  std::map<std::string, double> m;
  const bool all = WaitFor(
      [&] {
        m = ParseMetrics(HttpGet("http://127.0.0.1:" + std::to_string(port_) + "/metrics").body);
        for (const auto& [target, status] : wants) {
          if (m[S("ocsp_response_status", target, "status=\"" + status + "\"")] != 1) return false;
        }
        return true;
      },
      seconds(30));
  EXPECT_TRUE(all) << ReadFile(log_);
  for (const auto& [target, status] : wants) {
    SCOPED_TRACE(target);
    EXPECT_EQ(m[S("ocsp_probe_success", target)], 1);
    EXPECT_EQ(m[S("ocsp_response_status", target, "status=\"" + status + "\"")], 1);
    EXPECT_EQ(m[S("ocsp_tls_chain_verified", target)], 1) << "the lab's certificate, after TLS";
    // The STARTTLS reasons start at zero and stay there.
    EXPECT_EQ(m.count(S("ocsp_probe_failures_total", target, "reason=\"starttls_refused\"")), 1u);
    EXPECT_EQ(m[S("ocsp_probe_failures_total", target, "reason=\"starttls_protocol\"")], 0);
  }
}

TEST_F(StartTlsTest, TheProbeCommandSpeaksEachProtocol) {
  const std::pair<int, std::string> protocols[] = {
      {12, "smtp"}, {14, "imap"}, {15, "pop3"}, {21, "postgres"},
      {22, "ftp"},  {23, "ldap"}, {24, "xmpp"},
  };
  for (const auto& [offset, protocol] : protocols) {
    SCOPED_TRACE(protocol);
    auto [rc, line] = Probe(offset, protocol);
    if (protocol == "smtp") {
      EXPECT_EQ(rc, 0) << line;  // Exim staples a good response
      EXPECT_NE(line.find("OK: "), std::string::npos) << line;
    } else {
      EXPECT_EQ(rc, 1) << line;  // WARNING: no staple on a certificate without Must-Staple
      EXPECT_NE(line.find("no OCSP staple"), std::string::npos) << line;
    }
  }
}

// The wrong protocol on a port: a protocol error, named, never a hang.
TEST_F(StartTlsTest, TheWrongProtocolIsAProtocolErrorNotAHang) {
  auto [rc, line] = Probe(15, "smtp");  // POP3's "+OK" greeting
  EXPECT_EQ(rc, 3) << line;
  EXPECT_NE(line.find("starttls_protocol"), std::string::npos) << line;
  auto [rc2, line2] = Probe(21, "imap");  // PostgreSQL says nothing first
  EXPECT_EQ(rc2, 3) << line2;
  EXPECT_NE(line2.find("timeout"), std::string::npos) << line2;
  // Exim refuses STARTTLS when its staple file is revoked (GnuTLS).
  auto [rc3, line3] = Probe(13, "smtp");
  EXPECT_EQ(rc3, 3) << line3;
  EXPECT_NE(line3.find("starttls_refused"), std::string::npos) << line3;
  EXPECT_NE(line3.find("454"), std::string::npos) << line3;
}

}  // namespace
}  // namespace ose::testing
