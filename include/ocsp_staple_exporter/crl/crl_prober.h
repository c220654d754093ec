#pragma once
// One check of a `[[crl]]` target: fetch the CRL over HTTP(S) with libcurl
// (GET, status 200, any Content-Type, at most `max_size` bytes, redirects
// only with `follow_redirects`) or read it from `path`, then verify it
// against the issuer (VerifyCrl, RFC 5280 §6.3.3).
#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/probe/probe_result.h"

namespace ose {

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
ProbeResult ProbeCrlNow(const CrlTarget& target, const VerifyOptions& verify);

/// The GET of one CRL URL as a `[[crl]]` target with `url` (no redirects,
/// at most `max_size` bytes, `timeout` in all), blocking: the body, or an
/// Error whose reason is the probe_failure reason. The CrlStore's fetcher.
/// With `policy` (`[fetch]`, borrowed), the URL's host and port are checked
/// before DNS and every address libcurl would connect to right before it
/// does; a refusal is reason "forbidden", naming the rule, and nothing is
/// connected to. (Through an HTTP proxy, the addresses checked are the
/// proxy's.)
Result<std::string> FetchCrlUrl(const std::string& url, std::chrono::milliseconds timeout,
                                int64_t max_size = kDefaultCrlMaxSize,
                                const ProbePolicy* policy = nullptr);

}  // namespace ose
