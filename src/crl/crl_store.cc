#include "ocsp_staple_exporter/crl/crl_store.h"

#include <openssl/x509v3.h>

#include "ocsp_staple_exporter/common/curl_body.h"
#include "ocsp_staple_exporter/common/openssl_error.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"

namespace ose {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

int64_t Decimal(const std::optional<std::string>& n) {
  return n ? std::strtoll(n->c_str(), nullptr, 10) : -1;
}

}  // namespace

std::vector<std::string> FreshestCrlUrls(X509_CRL* crl) {
  int crit = 0;
  OsslPtr<CRL_DIST_POINTS, CRL_DIST_POINTS_free> dps(
      static_cast<CRL_DIST_POINTS*>(X509_CRL_get_ext_d2i(crl, NID_freshest_crl, &crit, nullptr)));
  DrainOpenSslErrors();
  std::vector<std::string> out;
  for (std::string& uri : DistributionPointUris(dps.get())) {
    if (IsHttpUrl(uri)) out.push_back(std::move(uri));
  }
  return out;
}

CrlStore::CrlStore(CrlFetcher fetch, VerifyOptions verify)
    : fetch_(std::move(fetch)), verify_(verify) {}

void CrlStore::SetVerifyOptions(VerifyOptions verify) {
  std::lock_guard lock(mu_);
  if (verify.skew_seconds == verify_.skew_seconds &&
      verify.default_validity_seconds == verify_.default_validity_seconds) {
    return;
  }
  verify_ = verify;
  ++generation_;
}

uint64_t CrlStore::fetches() const {
  std::lock_guard lock(mu_);
  return fetches_;
}

std::shared_ptr<CrlStore::Slot> CrlStore::SlotOf(const std::string& url) {
  std::lock_guard lock(mu_);
  auto& s = slots_[url];
  if (!s) s = std::make_shared<Slot>();
  return s;
}

std::shared_ptr<const ParsedCrl> CrlStore::Get(const std::string& url, X509* issuer,
                                               int64_t now, std::optional<Error>* error) {
  std::shared_ptr<Slot> slot = SlotOf(url);
  VerifyOptions verify;
  uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    verify = verify_;
    generation = generation_;
  }
  std::lock_guard lock(slot->mu);  // concurrent lookups of one URL wait for one fetch
  Held& h = slot->held;
  if (h.refresh_at <= now) {
    {
      std::lock_guard count(mu_);
      ++fetches_;
    }
    auto body = fetch_(url);
    h = Held{};
    h.refresh_at = now + 60;  // raised to the half-life by Check once it is used
    if (!body) {
      h.error = body.error();
    } else {
      h.bytes = std::make_shared<const std::string>(std::move(body).value());
    }
  }
  if (h.error) {
    *error = h.error;
    return nullptr;
  }
  const bool reusable = h.verified && X509_cmp(h.verified_with.get(), issuer) == 0 &&
                        h.verified_generation == generation &&
                        (h.verified->verdict.state == CrlState::kValid ||
                         h.verified->verdict.state == CrlState::kExpired);
  if (!reusable) {
    h.verified = std::make_shared<const ParsedCrl>(
        VerifyCrl(Bytes(*h.bytes), issuer, verify, now, url));
    h.verified_with = ShareX509(issuer);
    h.verified_generation = generation;
  }
  return h.verified;
}

void CrlStore::HoldUntil(const std::string& url, int64_t until) {
  std::shared_ptr<Slot> slot = SlotOf(url);
  std::lock_guard lock(slot->mu);
  slot->held.refresh_at = std::max(slot->held.refresh_at, until);
}

LeafCrlStatus CrlStore::Check(const std::vector<std::string>& urls, X509* leaf, X509* issuer,
                              int64_t now) {
  LeafCrlStatus out;
  out.detail = "the certificate names no http(s) CRL Distribution Point";
  for (const std::string& url : urls) {
    if (!IsHttpUrl(url)) continue;  // ldap:, ...
    std::optional<Error> error;
    std::shared_ptr<const ParsedCrl> base = Get(url, issuer, now, &error);
    if (!base) {
      // (libcurl's errors already name the URL)
      out.detail = error->detail.rfind(url, 0) == 0 ? error->detail : url + ": " + error->detail;
      out.failure_reason = error->reason;
      continue;
    }
    out.failure_reason.clear();
    const CrlVerdict bv = CrlVerdictAt(base->verdict, now);
    // Hold it until its half-life once it verified.
    if (bv.state == CrlState::kValid) HoldUntil(url, CrlHalfLife(bv, now).value_or(now + 60));
    if (bv.state != CrlState::kValid || bv.base_crl_number) {
      out.detail = url + ": CRL " +
                   (bv.base_crl_number ? std::string("is a delta CRL")
                                       : std::string(CrlStateName(bv.state)) +
                                             (bv.detail.empty() ? "" : " (" + bv.detail + ")"));
      continue;
    }
    out.url = url;
    out.detail.clear();
    // §5.2.4, §5.2.6: a current delta CRL, when the base names one, goes first.
    for (const std::string& delta_url : FreshestCrlUrls(base->crl.get())) {
      std::shared_ptr<const ParsedCrl> delta = Get(delta_url, issuer, now, &error);
      if (!delta) continue;
      const CrlVerdict dv = CrlVerdictAt(delta->verdict, now);
      if (dv.state != CrlState::kValid || !dv.base_crl_number ||
          Decimal(dv.base_crl_number) > Decimal(bv.crl_number)) {
        continue;
      }
      CrlEntryStatus e = LookupInCrl(*delta, leaf);
      if (e.listed) {
        out.from_delta = true;
        out.url = delta_url;
        if (!e.revoked) {  // removeFromCRL: the base's revocation is lifted
          out.state = LeafCrlState::kGood;
          return out;
        }
        out.state = LeafCrlState::kRevoked;
        out.revoked_at = e.revoked_at;
        out.reason = e.reason;
        return out;
      }
      break;
    }
    CrlEntryStatus e = LookupInCrl(*base, leaf);
    if (e.revoked) {
      out.state = LeafCrlState::kRevoked;
      out.revoked_at = e.revoked_at;
      out.reason = e.reason;
    } else {
      out.state = LeafCrlState::kGood;
    }
    return out;
  }
  return out;
}

}  // namespace ose
