#pragma once
// One check of a `[[crl]]` target: fetch the CRL over HTTP(S) with libcurl
// (GET, status 200, any Content-Type, at most `max_size` bytes, redirects
// only with `follow_redirects`) or read it from `path`, then verify it
// against the issuer (VerifyCrl, RFC 5280 §6.3.3).
#include <mutex>
#include <optional>

#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/probe/probe_result.h"

namespace ose {

/// What a `[[crl]]` target with `url` remembers between its checks (owned
/// by its scheduled target; guarded by `mu`): the validators and the result
/// of the last CRL fetched whose signature verified, so that an unchanged
/// CRL costs a 304 instead of its megabytes (RFC 9110 §13.1).
struct CrlTargetMemory {
  std::mutex mu;
  CrlValidators validators;
  std::optional<ProbeResult> last;
};

/// Blocking; runs on a pool thread (ResponderProber::ProbeCrl). Never
/// throws; failures are data:
/// - transport failures are `success` false with reason resolve, connect,
///   timeout, http, http_status (not 200; a redirect when not followed) or
///   body_too_large (over max_size, for a file too);
/// - a missing `path` is `success` true with CrlState::kAbsent (nothing
///   published yet); one that cannot be read is kInvalid "unreadable";
/// - otherwise `crl` holds the verdict, the size and the transfer time.
/// `refresh_at` is the CRL's half-life (thisUpdate + (nextUpdate -
/// thisUpdate) / 2), at least 60 s ahead; `not_before` honours a
/// Cache-Control max-age, capped at 7 days and at nextUpdate.
/// With `memory` (may be null), a URL is fetched conditionally once a CRL
/// verified; a 304 gives that CRL's result again, `crl->not_modified` set
/// and its refresh times computed at now.
ProbeResult ProbeCrlNow(const CrlTarget& target, const VerifyOptions& verify,
                        CrlTargetMemory* memory = nullptr);

/// The GET of one CRL URL as a `[[crl]]` target with `url` (no redirects,
/// at most `max_size` bytes, `timeout` in all), blocking: the download, or
/// an Error whose reason is the probe_failure reason. The CrlStore's
/// fetcher. With validators in `since` (RFC 9110 §13.1: If-None-Match from
/// the ETag, If-Modified-Since from Last-Modified of the CRL held), a 304
/// answer is `not_modified`; a 304 to a request without them is an
/// http_status failure.
/// With `policy` (`[fetch]`, borrowed), the URL's host and port are checked
/// before DNS and every address libcurl would connect to right before it
/// does; a refusal is reason "forbidden", naming the rule, and nothing is
/// connected to. (Through an HTTP proxy, the addresses checked are the
/// proxy's.)
Result<CrlDownload> FetchCrlUrl(const std::string& url, std::chrono::milliseconds timeout,
                                int64_t max_size = kDefaultCrlMaxSize,
                                const ProbePolicy* policy = nullptr,
                                const CrlValidators& since = {});

}  // namespace ose
