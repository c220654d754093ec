#include "ocsp_staple_exporter/probe/report.h"

#include <gtest/gtest.h>

namespace ose {
namespace {

constexpr int64_t kNow = 1'800'000'000;

ProbeResult Result(ResponseState state, bool staple, bool must_staple, int64_t margin = 86400) {
  ProbeResult r;
  r.success = true;
  r.staple_present = staple;
  r.must_staple = must_staple;
  r.verdict.Mut().state = state;
  r.chain_verified = true;
  r.name_matched = true;
  if (staple) {
    r.verdict.Mut().signature_verified = state != ResponseState::kInvalid;
    r.verdict.Mut().valid_until = kNow + margin;
  }
  return r;
}

TEST(ProbeReport, ExitCodeTable) {
  struct Case {
    const char* name;
    ProbeResult r;
    ProbeExit want;
  };
  ProbeResult failed;
  failed.failure_reason = "connect";
  ProbeResult invalid = Result(ResponseState::kInvalid, true, false);
  invalid.verdict.Mut().invalid_reason = "signature";
  ProbeResult stale = Result(ResponseState::kGood, true, true, -400);
  stale.verdict.Mut().fresh_until = kNow - 100;
  const Case cases[] = {
      {"good", Result(ResponseState::kGood, true, true), ProbeExit::kOk},
      {"good, little margin", Result(ResponseState::kGood, true, true, 3600), ProbeExit::kWarning},
      {"good, expired margin but good", Result(ResponseState::kGood, true, false, 60),
       ProbeExit::kWarning},
      {"revoked", Result(ResponseState::kRevoked, true, false), ProbeExit::kCritical},
      {"invalid", invalid, ProbeExit::kCritical},
      {"unknown", Result(ResponseState::kUnknown, true, false), ProbeExit::kWarning},
      {"absent, must-staple", Result(ResponseState::kAbsent, false, true), ProbeExit::kCritical},
      {"absent", Result(ResponseState::kAbsent, false, false), ProbeExit::kWarning},
      {"unreachable", failed, ProbeExit::kUnknown},
      // Read at the moment `probe` answers: past nextUpdate + skew.
      {"good when fetched, expired now", stale, ProbeExit::kCritical},
  };
  for (const Case& c : cases) {
    auto rep = BuildProbeReport("h:1", c.r, kNow, 12 * 3600);
    EXPECT_EQ(rep.exit, c.want) << c.name << "\n" << rep.text;
  }
}

TEST(ProbeReport, FirstLineSummarises) {
  auto r = Result(ResponseState::kRevoked, true, true);
  r.verdict.Mut().revocation_reason = "superseded";
  r.verdict.Mut().revoked_at = kNow - 86400;
  auto rep = BuildProbeReport("api:443", r, kNow, 3600);
  EXPECT_EQ(rep.text.substr(0, rep.text.find('\n')),
            "CRITICAL: api:443: certificate REVOKED (superseded)");
  EXPECT_NE(rep.text.find("Revoked at:     2027-01-14 08:00:00 UTC"), std::string::npos)
      << rep.text;
  auto ok = BuildProbeReport("api:443", Result(ResponseState::kGood, true, true, 90000), kNow,
                             3600);
  EXPECT_EQ(ok.text.substr(0, ok.text.find('\n')), "OK: api:443: staple good, 1d1h left");
}

// Issue 20 point 14: a good staple from a server whose chain does not
// validate, or whose certificate is for another name (a hijacked endpoint
// stapling its own response, a default vhost), is at least WARNING.
TEST(ProbeReport, TrustSignalsAreAtLeastAWarning) {
  auto untrusted = Result(ResponseState::kGood, true, true, 90000);
  untrusted.chain_verified = false;
  untrusted.chain_error = "unable to get local issuer certificate";
  auto rep = BuildProbeReport("api:443", untrusted, kNow, 3600);
  EXPECT_EQ(rep.exit, ProbeExit::kWarning);
  EXPECT_EQ(rep.text.substr(0, rep.text.find('\n')),
            "WARNING: api:443: staple good, 1d1h left; the served chain does not validate "
            "(unable to get local issuer certificate)");
  EXPECT_NE(rep.text.find("Chain verified: no (unable to get local issuer certificate)"),
            std::string::npos) << rep.text;
  auto other_name = Result(ResponseState::kGood, true, true, 90000);
  other_name.name_matched = false;
  rep = BuildProbeReport("api:443", other_name, kNow, 3600);
  EXPECT_EQ(rep.exit, ProbeExit::kWarning);
  EXPECT_NE(rep.text.find("the certificate does not match the name"), std::string::npos);
  EXPECT_NE(rep.text.find("Name matched:   no"), std::string::npos);
  // Worse states stay what they are.
  auto revoked = Result(ResponseState::kRevoked, true, true);
  revoked.name_matched = false;
  EXPECT_EQ(BuildProbeReport("api:443", revoked, kNow, 3600).exit, ProbeExit::kCritical);
}

}  // namespace
}  // namespace ose
