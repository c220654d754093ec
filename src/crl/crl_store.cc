#include "ocsp_staple_exporter/crl/crl_store.h"

#include <openssl/x509v3.h>

#include "ocsp_staple_exporter/common/openssl_error.h"

namespace ose {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A held CRL is refreshed at its half-life (at least 60 s ahead); one that
// cannot be used (or fetched) is asked for again after 60 s.
int64_t RefreshAt(const CrlVerdict& v, int64_t now) {
  if (v.state == CrlState::kValid && v.this_update && v.next_update &&
      *v.next_update > *v.this_update) {
    return std::max(now + 60, *v.this_update + (*v.next_update - *v.this_update) / 2);
  }
  return now + 60;
}

int64_t Decimal(const std::optional<std::string>& n) {
  return n ? std::strtoll(n->c_str(), nullptr, 10) : -1;
}

}  // namespace

std::vector<std::string> FreshestCrlUrls(X509_CRL* crl) {
  std::vector<std::string> out;
  int crit = 0;
  std::unique_ptr<CRL_DIST_POINTS, decltype(&CRL_DIST_POINTS_free)> dps(
      static_cast<CRL_DIST_POINTS*>(X509_CRL_get_ext_d2i(crl, NID_freshest_crl, &crit, nullptr)),
      CRL_DIST_POINTS_free);
  DrainOpenSslErrors();
  for (int i = 0; dps && i < sk_DIST_POINT_num(dps.get()); ++i) {
    DIST_POINT* dp = sk_DIST_POINT_value(dps.get(), i);
    if (dp->distpoint == nullptr || dp->distpoint->type != 0) continue;
    for (std::string& uri : GeneralNameUris(dp->distpoint->name.fullname)) {
      if (uri.rfind("http://", 0) == 0 || uri.rfind("https://", 0) == 0) out.push_back(uri);
    }
  }
  return out;
}

CrlStore::CrlStore(CrlFetcher fetch, VerifyOptions verify)
    : fetch_(std::move(fetch)), verify_(verify) {}

uint64_t CrlStore::fetches() const {
  std::lock_guard lock(mu_);
  return fetches_;
}

CrlStore::Held CrlStore::Get(const std::string& url, int64_t now) {
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard lock(mu_);
    auto& s = slots_[url];
    if (!s) s = std::make_shared<Slot>();
    slot = s;
  }
  std::lock_guard lock(slot->mu);  // concurrent lookups of one URL wait for one fetch
  if (slot->held.refresh_at > now) return slot->held;
  {
    std::lock_guard count(mu_);
    ++fetches_;
  }
  auto body = fetch_(url);
  Held h;
  if (!body) {
    h.error = body.error();
    h.refresh_at = now + 60;
  } else {
    h.bytes = std::move(body).value();
    h.refresh_at = now + 60;  // set from the verdict by Check
  }
  slot->held = h;
  return h;
}

LeafCrlStatus CrlStore::Check(const std::vector<std::string>& urls, X509* leaf, X509* issuer,
                              int64_t now) {
  LeafCrlStatus out;
  if (urls.empty()) {
    out.detail = "the certificate names no CRL Distribution Point";
    return out;
  }
  for (const std::string& url : urls) {
    Held h = Get(url, now);
    if (h.error) {
      out.detail = url + ": " + h.error->detail;
      continue;
    }
    ParsedCrl base = VerifyCrl(Bytes(h.bytes), issuer, verify_, now, url);
    {
      // Hold it until its half-life once it verified.
      std::lock_guard lock(mu_);
      auto it = slots_.find(url);
      if (it != slots_.end() && base.verdict.state == CrlState::kValid) {
        it->second->held.refresh_at = std::max(it->second->held.refresh_at,
                                               RefreshAt(base.verdict, now));
      }
    }
    if (base.verdict.state != CrlState::kValid || base.verdict.base_crl_number) {
      out.detail = url + ": CRL " +
                   (base.verdict.base_crl_number ? std::string("is a delta CRL")
                                                 : std::string(CrlStateName(base.verdict.state)) +
                                                       (base.verdict.detail.empty()
                                                            ? ""
                                                            : " (" + base.verdict.detail + ")"));
      continue;
    }
    out.url = url;
    // §5.2.4, §5.2.6: a current delta CRL, when the base names one, goes first.
    for (const std::string& delta_url : FreshestCrlUrls(base.crl.get())) {
      Held d = Get(delta_url, now);
      if (d.error) continue;
      ParsedCrl delta = VerifyCrl(Bytes(d.bytes), issuer, verify_, now, delta_url);
      if (delta.verdict.state != CrlState::kValid || !delta.verdict.base_crl_number ||
          Decimal(delta.verdict.base_crl_number) > Decimal(base.verdict.crl_number)) {
        continue;
      }
      CrlEntryStatus e = LookupInCrl(delta, leaf);
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
    CrlEntryStatus e = LookupInCrl(base, leaf);
    if (e.revoked) {
      out.state = LeafCrlState::kRevoked;
      out.revoked_at = e.revoked_at;
      out.reason = e.reason;
    } else {
      out.state = LeafCrlState::kGood;
    }
    out.detail.clear();
    return out;
  }
  return out;
}

}  // namespace ose
