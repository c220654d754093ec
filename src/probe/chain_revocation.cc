#include "ocsp_staple_exporter/probe/chain_revocation.h"

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>

#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/common/openssl_error.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"

namespace ose {
namespace {

using SteadyClock = std::chrono::steady_clock;

bool SelfIssued(X509* cert) {
  return X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0;
}

// The issuer of `cert` in `trust` (the system store), verified by
// FindIssuer like the others; null when none.
X509Ptr IssuerInStore(X509* cert, X509_STORE* trust) {
  if (trust == nullptr) return nullptr;
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509* found = nullptr;
  if (!ctx || X509_STORE_CTX_init(ctx.get(), trust, cert, nullptr) != 1 ||
      X509_STORE_CTX_get1_issuer(&found, ctx.get(), cert) != 1 || found == nullptr) {
    DrainOpenSslErrors();
    return nullptr;
  }
  X509Ptr owned(found);
  X509* candidates[] = {found};
  return FindIssuer(cert, candidates) != nullptr ? std::move(owned) : nullptr;
}

X509Ptr IssuerOf(X509* cert, std::span<X509* const> candidates, X509_STORE* trust) {
  if (X509* i = FindIssuer(cert, candidates)) return ShareX509(i);
  return IssuerInStore(cert, trust);
}

std::string Fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (cert == nullptr || X509_digest(cert, EVP_sha256(), md, &n) != 1) return "";
  return std::string(reinterpret_cast<const char*>(md), n);
}

int Rank(LeafCrlState s) {
  return s == LeafCrlState::kRevoked ? 2 : s == LeafCrlState::kGood ? 1 : 0;
}

}  // namespace

std::vector<std::shared_ptr<const ProbeResult::ChainSubject>> ChainSubjects(
    X509* leaf, std::span<X509* const> candidates, X509_STORE* trust) {
  std::vector<std::shared_ptr<const ProbeResult::ChainSubject>> out;
  X509Ptr cert = IssuerOf(leaf, candidates, trust);
  for (int position = 1; cert && position <= kMaxChainPositions; ++position) {
    if (SelfIssued(cert.get())) break;  // the trust anchor
    const bool repeat = std::any_of(out.begin(), out.end(), [&](const auto& s) {
      return X509_cmp(s->cert.get(), cert.get()) == 0;
    });
    if (repeat || X509_cmp(cert.get(), leaf) == 0) break;
    auto s = std::make_shared<ProbeResult::ChainSubject>();
    s->position = position;
    s->issuer = IssuerOf(cert.get(), candidates, trust);
    s->crl_urls = CrlUrls(cert.get());
    s->ocsp_urls = OcspUrls(cert.get());
    s->cert = std::move(cert);
    cert = s->issuer ? ShareX509(s->issuer.get()) : nullptr;
    out.push_back(std::move(s));
  }
  DrainOpenSslErrors();
  return out;
}

ProbeResult::ChainCert DescribeChainCert(const ProbeResult::ChainSubject& s) {
  ProbeResult::ChainCert c;
  c.position = s.position;
  c.subject = SubjectString(s.cert.get());
  CertIdentity id = IdentityOf(s.cert.get());
  c.issuer = std::move(id.issuer);
  c.serial = std::move(id.serial);
  c.not_after = NotAfterUnix(s.cert.get());
  return c;
}

ChainRevocation::ChainRevocation(CrlStore& crls, OcspAsk ask)
    : crls_(crls), ask_(std::move(ask)) {}

uint64_t ChainRevocation::ocsp_requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

ChainRevocation::Answer ChainRevocation::AskOcsp(const ProbeResult::ChainSubject& s,
                                                 int64_t now) {
  const std::string key = Fingerprint(s.issuer.get()) + Fingerprint(s.cert.get());
  {
    std::lock_guard lock(mu_);
    // Forget certificates no probe asked about for a day.
    for (auto it = answers_.begin(); answers_.size() > 64 && it != answers_.end();) {
      it = it->second.last_used < now - 86400 ? answers_.erase(it) : std::next(it);
    }
    auto it = answers_.find(key);
    if (it != answers_.end() && it->second.refresh_at > now) {
      it->second.last_used = now;
      return it->second;
    }
  }
  auto loaded = std::make_shared<LoadedCert>();
  loaded->cert = ShareX509(s.cert.get());
  loaded->issuer = ShareX509(s.issuer.get());
  loaded->ocsp_urls = s.ocsp_urls;
  ResponderProbeRequest req;
  req.cert = loaded;
  req.urls = s.ocsp_urls;
  const ProbeResult got = ask_(std::move(req));
  Answer a;
  a.last_used = now;
  const OcspVerdict& v = got.verdict;
  if (got.success && (v.state == ResponseState::kGood || v.state == ResponseState::kRevoked)) {
    a.state = v.state == ResponseState::kRevoked ? LeafCrlState::kRevoked : LeafCrlState::kGood;
    a.revoked_at = v.revoked_at;
    a.reason = v.revocation_reason.value_or("");
    a.usable_until = v.fresh_until.value_or(now);
    // Asked again at the response's half-life: at least a minute, at most
    // a day on.
    const int64_t from = v.this_update.value_or(now);
    const int64_t until = v.valid_until.value_or(now);
    a.refresh_at = std::clamp(from + (until - from) / 2, now + 60, now + 86400);
  } else {
    a.detail = got.success ? "OCSP response " + std::string(StateName(v.state)) +
                                 (v.detail.empty() ? "" : ": " + v.detail)
                           : got.detail;
    a.refresh_at = now + 60;
  }
  std::lock_guard lock(mu_);
  ++requests_;
  Answer& held = answers_[key];
  // A failure keeps what was held while it is usable; a revocation is not
  // undone by a later answer (RFC 6960 §2.2: revoked is final).
  if (a.state == LeafCrlState::kUnavailable && held.state != LeafCrlState::kUnavailable &&
      held.usable_until >= now) {
    held.refresh_at = a.refresh_at;
    held.last_used = now;
    return held;
  }
  if (held.state == LeafCrlState::kRevoked && a.state == LeafCrlState::kGood) {
    held.refresh_at = a.refresh_at;
    held.usable_until = a.usable_until;
    held.last_used = now;
    return held;
  }
  held = a;
  return held;
}

void ChainRevocation::Check(Revocation revocation, ProbeResult& r, int64_t now) {
  const auto start = SteadyClock::now();
  ProbeResult::Extras& x = r.extras_mut();
  x.chain.clear();
  for (const auto& s : x.chain_subjects) {
    ProbeResult::ChainCert c = DescribeChainCert(*s);
    std::vector<std::string> why;
    auto take = [&](LeafCrlState state, std::optional<int64_t> at, const std::string& reason,
                    std::string_view source) {
      if (Rank(state) <= Rank(c.state)) return;
      c.state = state;
      c.revoked_at = at;
      c.reason = reason;
      c.source = std::string(source);
    };
    if (s->issuer == nullptr) {
      why.push_back("its issuer is neither in the served chain, ca_file nor the system store");
    } else {
      if (revocation != Revocation::kOcsp) {
        if (s->crl_urls.empty()) {
          why.push_back("no CRL Distribution Point");
        } else {
          LeafCrlStatus crl =
              crls_.Check(s->crl_urls, s->cert.get(), s->issuer.get(), now, CertKind::kCa);
          if (crl.state == LeafCrlState::kUnavailable) why.push_back("CRL: " + crl.detail);
          take(crl.state, crl.revoked_at, crl.reason, "crl");
        }
      }
      if (revocation != Revocation::kCrl && c.state != LeafCrlState::kRevoked) {
        if (s->ocsp_urls.empty()) {
          why.push_back("no OCSP responder URL");
        } else {
          Answer a = AskOcsp(*s, now);
          if (a.state == LeafCrlState::kUnavailable) why.push_back("OCSP: " + a.detail);
          take(a.state, a.revoked_at, a.reason, "ocsp");
        }
      }
    }
    if (c.state == LeafCrlState::kUnavailable) {
      for (const std::string& w : why) c.detail += (c.detail.empty() ? "" : "; ") + w;
    }
    x.chain.push_back(std::move(c));
  }
  x.chain_subjects.clear();
  r.duration_seconds += std::chrono::duration<double>(SteadyClock::now() - start).count();
}

}  // namespace ose
