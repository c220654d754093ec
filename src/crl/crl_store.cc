#include "ocsp_staple_exporter/crl/crl_store.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <future>

#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/common/curl_body.h"
#include "ocsp_staple_exporter/common/log.h"
#include "ocsp_staple_exporter/common/openssl_error.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"

namespace ose {
namespace {

using DistPointsPtr = OsslPtr<CRL_DIST_POINTS, CRL_DIST_POINTS_free>;

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Retry delay after `failures` consecutive failed refetches: 60 s doubling,
// at most an hour.
int64_t Backoff(int failures) {
  return std::min<int64_t>(3600, int64_t{60} << std::clamp(failures - 1, 0, 6));
}

bool Authentic(const CrlVerdict& v) {
  return v.state == CrlState::kValid || v.state == CrlState::kExpired;
}

// Why `next` may not replace `held` (both verified against the same issuer
// at `now`), or empty when it may: what is held is replaced only by a
// CRL that is authentic, still current when the held one is, and not older.
std::string RefusalReason(const ParsedCrl& held, const ParsedCrl& next, int64_t now) {
  const CrlVerdict h = CrlVerdictAt(held.verdict, now), n = CrlVerdictAt(next.verdict, now);
  if (!Authentic(h)) return "";
  if (!Authentic(n)) return "fetched CRL is " + std::string(CrlStateName(n.state)) + " (" +
                            n.invalid_reason + ": " + n.detail + ")";
  if (h.state == CrlState::kValid && n.state != CrlState::kValid) {
    return "fetched CRL is expired, the held one is not";
  }
  if (h.crl_number && n.crl_number && CompareCrlNumbers(*n.crl_number, *h.crl_number) < 0) {
    return "fetched cRLNumber " + *n.crl_number + " is lower than the held " + *h.crl_number;
  }
  if (*n.this_update < *h.this_update) {
    return "fetched thisUpdate " + FormatUnixTime(*n.this_update) + " is older than the held " +
           FormatUnixTime(*h.this_update);
  }
  return "";
}

std::map<std::string, CrlDistributionPointScope> LeafDistributionPoints(X509* leaf) {
  int crit = 0;
  DistPointsPtr dps(static_cast<CRL_DIST_POINTS*>(
      X509_get_ext_d2i(leaf, NID_crl_distribution_points, &crit, nullptr)));
  DrainOpenSslErrors();
  std::map<std::string, CrlDistributionPointScope> out;
  for (int i = 0; dps && i < sk_DIST_POINT_num(dps.get()); ++i) {
    const DIST_POINT* dp = sk_DIST_POINT_value(dps.get(), i);
    if (dp->distpoint == nullptr || dp->distpoint->type != 0) continue;
    for (std::string& uri : GeneralNameUris(dp->distpoint->name.fullname)) {
      out.emplace(std::move(uri), CrlDistributionPointScope{.reasons = ReasonMask(dp->reasons),
                                                         .indirect = dp->CRLissuer != nullptr});
    }
  }
  return out;
}

// The key of the leaf's revocation memory: its issuer's name and public key
// (another CA of the same name, a served impostor, has another key) and
// its serial.
std::string RevocationKey(X509* leaf, X509* issuer) {
  unsigned char spki[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  std::string key = SubjectString(issuer) + "\n";
  if (X509_pubkey_digest(issuer, EVP_sha256(), spki, &len) == 1) {
    key.append(reinterpret_cast<const char*>(spki), len);
  }
  DrainOpenSslErrors();
  key += "\n";
  const ASN1_INTEGER* serial = X509_get0_serialNumber(leaf);
  key.append(reinterpret_cast<const char*>(ASN1_STRING_get0_data(serial)),
             static_cast<size_t>(ASN1_STRING_length(serial)));
  return key;
}

// What a full CRL's entry and its delta's say together (§5.2.4): a delta
// entry decides, except that removeFromCRL lifts a hold only (§5.3.1): a
// final reason in the full CRL stays.
struct Entry {
  CrlEntryStatus status;
  bool from_delta = false;
};
Entry CombineEntries(const CrlEntryStatus& in_base, const CrlEntryStatus& in_delta) {
  if (!in_delta.listed) return {in_base, false};
  if (!in_delta.revoked && in_base.revoked && in_base.reason != "certificate_hold") {
    return {in_base, false};
  }
  return {in_delta, true};
}

void SetRevoked(LeafCrlStatus& out, const CrlEntryStatus& e) {
  out.state = LeafCrlState::kRevoked;
  out.revoked_at = e.revoked_at;
  out.reason = e.reason;
}

}  // namespace

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

std::vector<CrlFetchCounts> CrlStore::FetchCounts() const {
  std::lock_guard lock(mu_);
  std::vector<CrlFetchCounts> out;
  out.reserve(slots_.size());
  for (const auto& [url, slot] : slots_) {
    out.push_back({url, slot->fetched.load(), slot->failed.load(), slot->refused.load(),
                   slot->not_modified.load(), slot->received.load()});
  }
  return out;
}

std::shared_ptr<CrlStore::Slot> CrlStore::SlotOf(const std::string& url, int64_t now) {
  std::lock_guard lock(mu_);
  auto& s = slots_[url];
  if (!s) s = std::make_shared<Slot>();
  s->last_used = now;
  return s;
}

void CrlStore::SetLimits(int64_t max_bytes, int64_t idle_seconds) {
  std::lock_guard lock(mu_);
  max_bytes_ = max_bytes;
  idle_seconds_ = std::max<int64_t>(60, idle_seconds);
  swept_at_ = 0;
}

void CrlStore::Sweep(int64_t now) {
  std::lock_guard lock(mu_);
  if (now - swept_at_ < 10 && swept_at_ != 0) return;  // at most every 10 s
  swept_at_ = now;
  std::erase_if(slots_, [&](const auto& kv) {
    return now - kv.second->last_used.load() > idle_seconds_;
  });
  int64_t total = 0;
  for (const auto& [url, slot] : slots_) total += static_cast<int64_t>(slot->bytes.load());
  while (total > max_bytes_ && slots_.size() > 1) {
    auto oldest = slots_.begin(), newest = slots_.begin();
    for (auto it = slots_.begin(); it != slots_.end(); ++it) {
      if (it->second->last_used < oldest->second->last_used) oldest = it;
      if (it->second->last_used > newest->second->last_used) newest = it;
    }
    if (oldest == newest) break;
    total -= static_cast<int64_t>(oldest->second->bytes.load());
    log::Warn("CRL forgotten: crl_cache_max_bytes reached",
              {{"url", oldest->first}, {"bytes", std::to_string(oldest->second->bytes.load())},
               {"crl_cache_max_bytes", std::to_string(max_bytes_)}});
    slots_.erase(oldest);
  }
}

void CrlStore::Refresh(const std::string& url, Slot& slot, X509* issuer,
                       const VerifyOptions& verify, uint64_t generation, int64_t now) {
  Held& h = slot.held;
  {
    std::lock_guard count(mu_);
    ++fetches_;
  }
  auto fail = [&](std::atomic<uint64_t>& counter, Error e) {
    ++counter;
    ++h.failures;
    h.refresh_at = now + Backoff(h.failures);
    h.error = std::move(e);
  };
  // Conditional when a CRL is held: an unchanged CRL costs a 304, not its
  // megabytes again.
  auto body = fetch_(url, h.bytes ? h.validators : CrlValidators{});
  if (!body) {
    if (h.bytes) {
      log::Warn("CRL refetch failed; keeping the held CRL",
                {{"url", url}, {"reason", body.error().reason}, {"detail", body.error().detail},
                 {"retry_at", FormatUnixTime(now + Backoff(h.failures + 1))}});
    }
    // ("forbidden": `[fetch]` refused the URL; nothing was connected to)
    fail(body.error().reason == "forbidden" ? slot.refused : slot.failed, body.error());
    return;
  }
  slot.received += body->bytes;
  if (body->not_modified) {
    if (!h.bytes || !h.verified) {
      fail(slot.failed, Error{"http_status",  // probe_failure::kHttpStatus
                              url + ": HTTP 304 Not Modified, but no CRL is held"});
      return;
    }
    ++slot.not_modified;
    h.validators = body->validators;
    h.error.reset();
    h.failures = 0;
    h.refresh_at = CrlHalfLife(CrlVerdictAt(h.verified->verdict, now), now).value_or(now + 60);
    return;
  }
  CrlValidators validators = std::move(body->validators);
  auto bytes = std::make_shared<const std::string>(std::move(body->body));
  auto parsed = std::make_shared<const ParsedCrl>(VerifyCrl(Bytes(*bytes), issuer, verify, now, url));
  if (h.verified && X509_cmp(h.verified_with.get(), issuer) == 0) {
    if (std::string why = RefusalReason(*h.verified, *parsed, now); !why.empty()) {
      log::Warn("fetched CRL refused; keeping the held CRL",
                {{"url", url},
                 {"held_crl_number", h.verified->verdict.crl_number.value_or("none")},
                 {"fetched_crl_number", parsed->verdict.crl_number.value_or("none")},
                 {"detail", why}});
      fail(slot.refused, Error{"refused", url + ": " + why});
      return;
    }
  }
  ++slot.fetched;
  slot.bytes = bytes->size();
  h.bytes = std::move(bytes);
  h.validators = std::move(validators);
  h.error.reset();
  h.failures = 0;
  h.verified = std::move(parsed);
  h.verified_with = ShareX509(issuer);
  h.verified_generation = generation;
  // Fetched again at its half-life however often it is looked up; an
  // unusable CRL (nothing better was held) after a minute.
  h.refresh_at = CrlHalfLife(CrlVerdictAt(h.verified->verdict, now), now).value_or(now + 60);
}

CrlStore::Got CrlStore::Get(const std::string& url, X509* issuer, int64_t now) {
  std::shared_ptr<Slot> slot = SlotOf(url, now);
  VerifyOptions verify;
  uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    verify = verify_;
    generation = generation_;
  }
  std::lock_guard lock(slot->mu);  // concurrent lookups of one URL wait for one fetch
  Held& h = slot->held;
  const bool reusable = h.verified && X509_cmp(h.verified_with.get(), issuer) == 0 &&
                        h.verified_generation == generation &&
                        Authentic(h.verified->verdict);
  if (h.bytes && !reusable) {
    h.verified = std::make_shared<const ParsedCrl>(
        VerifyCrl(Bytes(*h.bytes), issuer, verify, now, url));
    h.verified_with = ShareX509(issuer);
    h.verified_generation = generation;
  }
  if (h.refresh_at <= now) Refresh(url, *slot, issuer, verify, generation, now);
  return Got{h.bytes ? h.verified : nullptr, h.error};
}

// Several distribution points are fetched at once, so a lookup takes one
// fetch timeout in all, not one per point; CheckDistributionPoints then
// reads what they left.
void CrlStore::Prefetch(const std::vector<std::string>& urls,
                        const std::map<std::string, CrlDistributionPointScope>& dps, X509* issuer,
                        int64_t now) {
  std::vector<std::string> fetch;
  for (const std::string& url : urls) {
    auto dp = dps.find(url);
    if (IsHttpUrl(url) && (dp == dps.end() || !dp->second.indirect) &&
        std::find(fetch.begin(), fetch.end(), url) == fetch.end()) {
      fetch.push_back(url);
    }
  }
  if (fetch.size() < 2) return;
  std::vector<std::future<void>> running;
  for (const std::string& url : fetch) {
    running.push_back(std::async(std::launch::async, [&, url] { (void)Get(url, issuer, now); }));
  }
  for (auto& r : running) r.wait();
}

// §5.2.4, §5.2.6: the current delta CRL the full CRL `base` names, when one
// applies to it (its base is not newer, its own number is), else null.
std::shared_ptr<const ParsedCrl> CrlStore::CurrentDelta(const ParsedCrl& base, X509* issuer,
                                                        int64_t now, std::string* url) {
  const CrlVerdict bv = CrlVerdictAt(base.verdict, now);
  for (const std::string& candidate : base.freshest_urls) {
    Got d = Get(candidate, issuer, now);
    if (!d.crl) continue;
    const CrlVerdict dv = CrlVerdictAt(d.crl->verdict, now);
    if (dv.state == CrlState::kValid && dv.base_crl_number && dv.crl_number && bv.crl_number &&
        CompareCrlNumbers(*dv.base_crl_number, *bv.crl_number) <= 0 &&
        CompareCrlNumbers(*dv.crl_number, *bv.crl_number) > 0) {
      *url = candidate;
      return d.crl;
    }
    return nullptr;
  }
  return nullptr;
}

LeafCrlStatus CrlStore::CheckDistributionPoints(const std::vector<std::string>& urls, X509* leaf,
                                                X509* issuer, int64_t now, CertKind kind) {
  LeafCrlStatus out;
  out.detail = "the certificate names no http(s) CRL Distribution Point";
  const std::map<std::string, CrlDistributionPointScope> dps = LeafDistributionPoints(leaf);
  Prefetch(urls, dps, issuer, now);
  uint16_t covered = 0;  // reasons answered by an authentic, current CRL
  for (const std::string& url : urls) {
    if (!IsHttpUrl(url)) continue;  // ldap:, ...
    auto dp = dps.find(url);
    const CrlDistributionPointScope scope = dp == dps.end() ? CrlDistributionPointScope{} : dp->second;
    if (scope.indirect) {
      out.detail = url + ": the distribution point names a cRLIssuer (indirect CRLs are not "
                         "supported)";
      continue;
    }
    Got got = Get(url, issuer, now);
    if (!got.crl) {
      // (libcurl's errors already name the URL)
      const Error& e = *got.error;
      out.detail = e.detail.rfind(url, 0) == 0 ? e.detail : url + ": " + e.detail;
      out.failure_reason = e.reason;
      continue;
    }
    out.failure_reason.clear();
    const ParsedCrl& base = *got.crl;
    const CrlVerdict bv = CrlVerdictAt(base.verdict, now);
    if (bv.state != CrlState::kValid || bv.base_crl_number) {
      out.detail = url + ": CRL " +
                   (bv.base_crl_number ? std::string("is a delta CRL")
                                       : std::string(CrlStateName(bv.state)) +
                                             (bv.detail.empty() ? "" : " (" + bv.detail + ")"));
      continue;
    }
    const bool ca = kind == CertKind::kCa;
    if (bv.scope.indirect || (ca ? bv.scope.only_user_certs : bv.scope.only_ca_certs) ||
        bv.scope.only_attribute_certs) {
      out.detail = url + ": CRL covers " +
                   (bv.scope.indirect ? std::string("other issuers' certificates (indirectCRL, "
                                                    "not supported)")
                   : bv.scope.only_attribute_certs ? std::string("attribute certificates only")
                   : ca ? std::string("end-entity certificates only")
                        : std::string("CA certificates only"));
      continue;
    }
    std::string delta_url;
    std::shared_ptr<const ParsedCrl> delta = CurrentDelta(base, issuer, now, &delta_url);
    const Entry e = CombineEntries(LookupInCrl(base, leaf),
                                   delta ? LookupInCrl(*delta, leaf) : CrlEntryStatus{});
    if (e.status.revoked || covered == 0) {
      out.url = e.from_delta ? delta_url : url;
      out.from_delta = e.from_delta;
    }
    if (e.status.revoked) {
      SetRevoked(out, e.status);
      out.detail.clear();
      return out;
    }
    covered |= scope.reasons & bv.scope.reasons;
    if (covered == kAllCrlReasons) {
      out.state = LeafCrlState::kGood;
      out.detail = got.error ? "refetch failed, holding the CRL of " +
                                   FormatUnixTime(*bv.this_update) + ": " + got.error->detail
                             : "";
      return out;
    }
    out.detail = "the CRLs checked cover only some revocation reasons (onlySomeReasons)";
  }
  if (covered != 0) {
    out.url.clear();
    out.from_delta = false;
  }
  return out;
}

LeafCrlStatus CrlStore::Check(const std::vector<std::string>& urls, X509* leaf, X509* issuer,
                              int64_t now, CertKind kind) {
  Sweep(now);
  LeafCrlStatus out = CheckDistributionPoints(urls, leaf, issuer, now, kind);
  const std::string key = RevocationKey(leaf, issuer);
  std::lock_guard lock(mu_);
  if (out.state == LeafCrlState::kRevoked) {
    if (out.reason != "certificate_hold") revoked_[key] = out;
    return out;
  }
  auto seen = revoked_.find(key);
  if (seen == revoked_.end()) return out;
  // §3.3: only held entries may be removed; an expired or later CRL that
  // no longer lists the leaf does not make it good again.
  LeafCrlStatus sticky = seen->second;
  sticky.detail = "revoked in an earlier authentic CRL (" + sticky.url +
                  "); a revocation for this reason is final";
  return sticky;
}

}  // namespace ose
