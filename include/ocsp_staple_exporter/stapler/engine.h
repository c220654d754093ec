#pragma once
// The stapling engine for one certificate (StaplerCore): a state machine
// driven with an explicit "now", so tests move the clock freely. It holds
// the last verified response, decides with Decide() whether to serve it,
// and asks its Effects to publish, withdraw, persist or go fatal. The asio
// driver that runs it on timers is Stapler (stapler.h).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/common/result.h"
#include "ocsp_staple_exporter/config/config.h"
#include "ocsp_staple_exporter/probe/probe_result.h"
#include "ocsp_staple_exporter/stapler/policy.h"
#include "ocsp_staple_exporter/stapler/store.h"

namespace ose {

/// Label values of `ocsp_stapler_refresh_total{result}`.
/// "stale": an authentic answer the engine refused to hold (older than the
/// held one, or good after a revocation; see MayReplace).
inline constexpr std::string_view kRefreshResults[] = {"good",    "revoked", "unknown",
                                                       "invalid", "failed",  "stale"};

/// Label values of `ocsp_stapler_publish_errors_total{stage}`.
inline constexpr std::string_view kPublishStages[] = {"write", "persist", "haproxy", "reload"};

/// A plain copy of one certificate's engine state (metrics, API, logs).
struct StaplerCertState {
  std::string name;
  StaplerMode mode = StaplerMode::kAuto;
  bool must_staple = false;
  bool ocsp_url_present = false;  ///< the certificate names an OCSP responder (AIA)
  bool crl_url_present = false;   ///< the certificate has a CRL Distribution Point
  /// Nothing to fetch from: no OCSP URL in the certificate and no `url`
  /// (auto and never only; must and always refuse such a config).
  bool no_ocsp_url = false;
  std::string key;               ///< store key (SHA-256 of the leaf)
  OcspVerdict held;              ///< the held response; kAbsent when none
  std::string held_source;       ///< "cache" or the URL it came from
  bool attempted = false;        ///< a fetch finished or the cache answered
  bool serving = false;          ///< a staple is published
  bool fatal = false;
  bool warn = false;             ///< never + Must-Staple
  int64_t next_refresh = 0;      ///< Unix seconds; 0 when the mode fetches nothing
  int failures_in_row = 0;
  uint64_t successes = 0;
  uint64_t failures = 0;
  std::map<std::string, uint64_t> refresh_total;  ///< by kRefreshResults
  std::string last_error;
  /// Why the last answer older than the held one was refused (a stale
  /// cache: counted as "stale", not as a failure).
  std::string last_refusal;
  int64_t last_update = 0;       ///< Unix seconds of the last fetch
  /// `revocation = "crl" | "both"`: the certificate's status in its CRLs
  /// at the last fetch (`ocsp_stapler_crl_status`); unset for "ocsp".
  std::optional<LeafCrlStatus> crl;
  /// Latest thisUpdate (Unix seconds) of any answer held so far; older
  /// answers are refused (0 when none).
  int64_t newest_this_update = 0;
  // Filled in by the driver (Stapler), not by the core:
  /// A publisher still holds a staple past its validity that could not be
  /// replaced (`ocsp_stapler_published_expired`).
  bool published_expired = false;
  /// The last attempt of some publisher (output_file write, store_dir
  /// persist, HAProxy push, reload_command) failed and no later one has
  /// succeeded (`ocsp_stapler_publish_failing`).
  bool publish_failing = false;
  std::map<std::string, uint64_t> publish_errors;  ///< by kPublishStages
};

/// What the core asks the outside world to do. Every callback is optional.
struct StaplerEffects {
  /// Serve `der` (a good or revoked response) from now on.
  std::function<void(const StaplerCertState&, const std::vector<uint8_t>& der)> publish;
  /// Stop serving: the staple is about to expire or no longer valid.
  std::function<void(const StaplerCertState&)> withdraw;
  /// Persist a verified response in store_dir.
  std::function<void(const StaplerCertState&, const StoreEntry&)> persist;
  /// The certificate entered (true) or left (false) its fail-closed state.
  std::function<void(const StaplerCertState&, bool fatal)> fatal;
};

class StaplerCore {
 public:
  /// `cfg.cert` must be loaded. `effects` is copied. `jitter` returns a
  /// uniform sample in [0, 1) (injected for tests).
  StaplerCore(const StaplerCertificate& cfg, RefreshPolicy refresh, VerifyOptions verify,
              StaplerEffects effects, std::function<double()> jitter);

  /// Start-up: re-verifies a cache entry (a Load result). A good or revoked
  /// entry is held and served as if just fetched, subject to MayReplace
  /// (so of several entries offered, the newest verified one wins);
  /// anything else is ignored (logged by the caller) and replaced by the
  /// next fetch. Returns an explanation when the entry was not used ("" when
  /// used or when there was none).
  std::string LoadCache(const Result<StoreEntry>& entry, int64_t now);

  /// Offers a response found on disk outside store_dir (the published
  /// `output_file`), under the same rules as LoadCache. When it is adopted
  /// it is persisted, since store_dir was behind. Returns "" when adopted,
  /// else why not.
  std::string Offer(std::span<const uint8_t> der, const std::string& source, int64_t now);

  /// True when the mode fetches and the refresh time has come.
  bool FetchDue(int64_t now) const;

  /// The request to send (valid while the core lives).
  const StaplerCertificate& config() const { return cfg_; }

  /// A fetch finished (`r` from the responder prober, with r.der). Errors,
  /// invalid, unknown and refused answers never replace a held staple and
  /// count as failures (retried with backoff), except an authentic answer
  /// older than the held one while a staple is held (a CDN edge's cache):
  /// counted "stale" only, and asked again on the normal schedule.
  /// `r.leaf_crl`, when set, becomes the certificate's CRL status: revoked
  /// there, it is never served good and must/always turn fatal.
  void OnFetched(const ProbeResult& r, int64_t now);

  /// Re-evaluates serving and fatal state at `now` (withdrawal before
  /// nextUpdate happens here).
  void Evaluate(int64_t now);

  /// A reload changed `[stapler]` refresh settings or `[global]` skew or
  /// default_validity: the held staple's freshness is read with the new
  /// ones, and a refresh later than now + max_refresh comes sooner. Then
  /// Evaluate(now).
  void Reconfigure(RefreshPolicy refresh, VerifyOptions verify, int64_t now);

  /// Next Unix time something can change: the refresh or the withdrawal.
  int64_t NextWake(int64_t now) const;

  const StaplerCertState& state() const { return state_; }

  /// The bytes being served (empty while not serving).
  const std::vector<uint8_t>& published() const { return published_der_; }

 private:
  void Hold(const OcspVerdict& v, std::vector<uint8_t> der, const std::string& source,
            int64_t now, std::optional<int64_t> max_age);
  void Persist(const std::string& url, int64_t fetched_at);
  /// "" when `v` (verified, good or revoked) may replace the held answer.
  std::string Refusal(const OcspVerdict& v) const;
  /// Until when the held staple may be served: its validity, or its
  /// delegated responder certificate's notAfter when that comes first.
  std::optional<int64_t> ServableUntil() const;

  StaplerCertificate cfg_;
  RefreshPolicy refresh_;
  VerifyOptions verify_;
  StaplerEffects effects_;
  std::function<double()> jitter_;
  StaplerCertState state_;
  std::vector<uint8_t> der_;            ///< of the held response
  std::vector<uint8_t> published_der_;  ///< what is being served
};

/// Parses a `mode` string of the config ("auto", ...); kAuto for others.
StaplerMode ParseStaplerMode(std::string_view s);

}  // namespace ose
