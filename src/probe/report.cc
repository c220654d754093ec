#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/probe/report.h"

#include <ctime>
#include <sstream>

#include "ocsp_staple_exporter/common/duration.h"

namespace ose {
namespace {

std::string Time(std::optional<int64_t> t) {
  return t ? FormatUnixTime(*t, "%Y-%m-%d %H:%M:%S UTC") : "-";
}

const char* LevelName(ProbeExit e) {
  switch (e) {
    case ProbeExit::kOk: return "OK";
    case ProbeExit::kWarning: return "WARNING";
    case ProbeExit::kCritical: return "CRITICAL";
    default: return "UNKNOWN";
  }
}

}  // namespace

ProbeReport BuildProbeReport(const std::string& address, const ProbeResult& r, int64_t now,
                             int64_t warning_margin_seconds) {
  ProbeReport rep;
  std::string summary;
  const OcspVerdict v = VerdictAt(r.verdict, now);  // as it reads now
  std::optional<int64_t> margin;
  if (v.signature_verified && v.valid_until) margin = *v.valid_until - now;

  if (!r.success) {
    rep.exit = ProbeExit::kUnknown;
    summary = "probe failed (" + r.failure_reason + "): " + r.detail;
  } else if (v.state == ResponseState::kRevoked) {
    rep.exit = ProbeExit::kCritical;
    summary = "certificate REVOKED (" + v.revocation_reason.value_or("unspecified") + ")";
  } else if (v.state == ResponseState::kInvalid) {
    rep.exit = ProbeExit::kCritical;
    summary = "stapled OCSP response is invalid (" + v.invalid_reason + "): " + v.detail;
  } else if (!r.staple_present && r.must_staple) {
    rep.exit = ProbeExit::kCritical;
    summary = "Must-Staple certificate served without an OCSP staple";
  } else if (!r.staple_present) {
    rep.exit = ProbeExit::kWarning;
    summary = "no OCSP staple";
  } else if (v.state == ResponseState::kUnknown) {
    rep.exit = ProbeExit::kWarning;
    summary = "responder does not know the certificate (status unknown)";
  } else if (margin && *margin < warning_margin_seconds) {
    rep.exit = ProbeExit::kWarning;
    summary = "staple expires in " + FormatDuration(std::chrono::seconds(*margin));
  } else {
    rep.exit = ProbeExit::kOk;
    summary = "staple good";
    if (margin) summary += ", " + FormatDuration(std::chrono::seconds(*margin)) + " left";
  }
  // Trust signals: a hijacked endpoint (or a default vhost) may staple a
  // perfectly good response for its own certificate. At least WARNING.
  if (r.success && (!r.chain_verified || !r.name_matched)) {
    std::string why = !r.chain_verified
                          ? "the served chain does not validate" +
                                (r.chain_error->empty() ? "" : " (" + *r.chain_error + ")")
                          : "";
    if (!r.name_matched) {
      why += (why.empty() ? "" : "; ") + std::string("the certificate does not match the name");
    }
    if (rep.exit == ProbeExit::kOk) rep.exit = ProbeExit::kWarning;
    summary += "; " + why;
  }

  std::ostringstream out;
  out << LevelName(rep.exit) << ": " << address << ": " << summary << "\n";
  if (r.success) {
    out << "  TLS version:    " << r.tls_version << "\n"
        << "  Subject:        " << *r.subject << "\n"
        << "  Not after:      " << Time(r.not_after) << "\n"
        << "  Chain verified: "
        << (r.chain_verified ? "yes"
                             : "no" + (r.chain_error->empty() ? "" : " (" + *r.chain_error + ")"))
        << "\n"
        << "  Name matched:   " << (r.name_matched ? "yes" : "no") << "\n"
        << "  Must-Staple:    " << (r.must_staple ? "yes" : "no") << "\n"
        << "  Staple present: " << (r.staple_present ? "yes" : "no") << "\n";
    if (r.staple_present) {
      out << "  OCSP status:    " << StateName(v.state);
      if (v.state == ResponseState::kInvalid) out << " (" << v.invalid_reason << ")";
      out << "\n";
      if (v.signature_verified) {
        out << "  Produced at:    " << Time(v.produced_at) << "\n"
            << "  This update:    " << Time(v.this_update) << "\n"
            << "  Next update:    " << Time(v.next_update) << "\n";
        if (v.state == ResponseState::kRevoked) {
          out << "  Revoked at:     " << Time(v.revoked_at) << "\n"
              << "  Reason:         " << v.revocation_reason.value_or("unspecified") << "\n";
        }
        out << "  Signed by:      " << (v.delegated_signer ? "delegated responder" : "issuer")
            << "\n";
      }
    }
  }
  out << "  Probe duration: " << r.duration_seconds << " s\n";
  rep.text = out.str();
  return rep;
}

}  // namespace ose
