#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/stapler/stapler.h"

#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ocsp_staple_exporter/common/asio.h"
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <random>

#include "ocsp_staple_exporter/common/file.h"
#include "ocsp_staple_exporter/config/cert_watch.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"
#include "ocsp_staple_exporter/common/log.h"
#include "ocsp_staple_exporter/probe/targets.h"
#include "ocsp_staple_exporter/stapler/alertmanager.h"

namespace ose {
namespace {

bool IsTryLaterPlaceholder(std::span<const uint8_t> bytes) {
  std::span<const uint8_t> placeholder(kTryLaterResponse);
  return std::equal(bytes.begin(), bytes.end(), placeholder.begin(), placeholder.end());
}

}  // namespace

Result<std::string> HaproxyCommand(const std::string& path, const std::string& command,
                                   std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Error{"haproxy", path + ": path too long"};
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{"haproxy", std::string("socket: ") + std::strerror(errno)};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Error{"haproxy", "connect " + path + ": " + std::strerror(errno)};
  }
  std::string line = command + "\n";
  size_t sent = 0;
  while (sent < line.size()) {
    ssize_t n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return Error{"haproxy", "write " + path + ": " + std::strerror(errno)};
    sent += static_cast<size_t>(n);
  }
  std::string answer;
  char buf[4096];
  while (answer.size() < (64 << 10)) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) return Error{"haproxy", "read " + path + ": " + std::strerror(errno)};
    answer.append(buf, static_cast<size_t>(n));
  }
  return answer;
}

std::string HaproxySetOcspCommand(const std::vector<uint8_t>& der) {
  std::string b64(4 * ((der.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), der.data(),
                          static_cast<int>(der.size()));
  b64.resize(static_cast<size_t>(n));
  return "set ssl ocsp-response " + b64;
}

struct Stapler::Slot {
  explicit Slot(asio::io_context& io) : timer(io) {}
  StaplerCertificate cfg;
  std::unique_ptr<StaplerCore> core;
  std::unique_ptr<CertWatch> watch;
  asio::steady_timer timer;
  uint64_t generation = 0;  ///< bumped when the core is replaced (rotation)
  bool fetching = false;
  bool removed = false;
  int64_t next_cert_check = 0;
  // output_file publisher
  bool file_ok = true;  ///< the file holds what the core wants served
  int file_failures = 0;
  int64_t file_retry_at = 0;
  bool published_expired = false;
  // store_dir
  std::optional<StoreEntry> persist_pending;
  int persist_failures = 0;
  int64_t persist_retry_at = 0;
  // HAProxy runtime API
  std::string haproxy_socket;        ///< where haproxy_der was acknowledged
  std::vector<uint8_t> haproxy_der;  ///< last staple HAProxy accepted
  bool haproxy_in_flight = false;
  bool haproxy_stop_logged = false;  ///< the "no longer stapled" warning was given
  bool reload_failed = false;        ///< the last reload_command failed
  bool haproxy_ok = true;
  int haproxy_failures = 0;
  int64_t haproxy_retry_at = 0;
  // reload_command
  int64_t last_reload = 0;
  bool reload_pending = false;
  bool reload_running = false;
  // Alertmanager
  int64_t fatal_since = 0;      ///< Unix seconds; 0 while not fatal
  int64_t last_alert_push = 0;  ///< Unix seconds
  bool alert_in_flight = false;
  std::optional<std::pair<std::string, bool>> alert_next;  ///< json, resolved
  std::map<std::string, uint64_t> publish_errors;
};

Stapler::Stapler(asio::io_context& io, ResponderProber& http,
                 std::function<void(int)> exit_process)
    : io_(io), http_(http), exit_process_(std::move(exit_process)), commands_(io) {}

Stapler::~Stapler() {
  for (auto& [name, s] : slots_) s->timer.cancel();
  haproxy_pool_.join();
  alerts_pool_.join();
}

void Stapler::Apply(const Config& config) {
  asio::post(io_, [this, config] { ApplyNow(config); });
}

RefreshPolicy Stapler::Refresh() const {
  RefreshPolicy refresh;
  refresh.min_refresh =
      std::chrono::duration_cast<std::chrono::seconds>(config_.min_refresh).count();
  refresh.max_refresh =
      std::chrono::duration_cast<std::chrono::seconds>(config_.max_refresh).count();
  refresh.backoff_base = std::max<int64_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(config_.failure_backoff).count());
  return refresh;
}

void Stapler::CountError(Slot& slot, std::string_view stage) {
  ++slot.publish_errors[std::string(stage)];
}

// A fresh core for `c` in `slot` (new certificate, or a renewed one): its
// effects, then the store_dir entry for its key.
void Stapler::MakeCore(const std::shared_ptr<Slot>& slot, const StaplerCertificate& c) {
  slot->cfg = c;
  ++slot->generation;
  slot->fetching = false;
  slot->haproxy_der.clear();
  std::weak_ptr<Slot> weak = slot;
  StaplerEffects fx;
  fx.publish = [](const StaplerCertState& st, const std::vector<uint8_t>&) {
    log::Info("staple published", {{"certificate", st.name},
                                   {"status", std::string(StateName(st.held.state))},
                                   {"next_update", FormatUnixTimeOrNone(st.held.next_update)}});
  };
  fx.withdraw = [](const StaplerCertState& st) {
    log::Warn("staple withdrawn", {{"certificate", st.name},
                                   {"status", std::string(StateName(st.held.state))},
                                   {"next_update", FormatUnixTimeOrNone(st.held.next_update)}});
  };
  fx.persist = [this, weak](const StaplerCertState&, const StoreEntry& e) {
    auto s = weak.lock();
    if (!s) return;
    // A newer entry replaces one still waiting for a retry; write it now.
    s->persist_pending = e;
    s->persist_retry_at = 0;
    SyncPersist(*s, NowUnix());
  };
  fx.fatal = [this, weak](const StaplerCertState& st, bool fatal) {
    auto s = weak.lock();
    if (!fatal) {
      log::Info("stapler no longer fatal", {{"certificate", st.name},
                                             {"status", std::string(StateName(st.held.state))}});
      if (s) {
        PushAlert(s, /*resolved=*/true);
        s->fatal_since = 0;
      }
      return;
    }
    if (s) {
      s->fatal_since = NowUnix();
      PushAlert(s, /*resolved=*/false);
    }
    log::Error("stapler fatal", {{"certificate", st.name},
                                 {"mode", std::string(ModeName(st.mode))},
                                 {"status", std::string(StateName(st.held.state))},
                                 {"err", st.last_error}});
    if (!config_.fatal_command.empty()) {
      std::string name = st.name;
      commands_.Run(config_.fatal_command,
                    {{"OSE_CERTIFICATE", st.name},
                     {"OSE_STATUS", std::string(StateName(st.held.state))},
                     {"OSE_MODE", std::string(ModeName(st.mode))}},
                    std::chrono::duration_cast<std::chrono::milliseconds>(config_.command_timeout),
                    [name](int code, const std::string& err) {
                      if (code != 0) {
                        log::Warn("fatal_command failed", {{"certificate", name},
                                                           {"exit_code", std::to_string(code)},
                                                           {"err", err}});
                      }
                    });
    }
    if (config_.exit_on_fatal && exit_process_) {
      log::Error("exiting: exit_on_fatal is set", {{"certificate", st.name}});
      exit_process_(1);
    }
  };
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  slot->core = std::make_unique<StaplerCore>(
      c, Refresh(), verify_, fx, [rng] { return std::uniform_real_distribution<>(0, 1)(*rng); });
  StapleStore store(config_.store_dir);
  std::string key = slot->core->state().key;
  auto entry = store.Load(key);
  std::string why = slot->core->LoadCache(entry, NowUnix());
  if (!why.empty()) {
    log::Warn("cache entry ignored, will be replaced",
              {{"certificate", c.name}, {"key", key}, {"err", why}});
  } else if (entry) {
    log::Info("staple loaded from store_dir",
              {{"certificate", c.name},
               {"status", std::string(StateName(slot->core->state().held.state))},
               {"next_update", FormatUnixTimeOrNone(slot->core->state().held.next_update)}});
  }
  if (slot->core->state().no_ocsp_url && ModeStaples(slot->core->state().mode,
                                                       slot->core->state().must_staple)) {
    log::Info("certificate names no OCSP responder and no url is set: skipped",
              {{"certificate", c.name}, {"mode", c.mode},
               {"must_staple", slot->core->state().must_staple ? "true" : "false"}});
  }
  if (slot->core->state().warn) {
    log::Warn("certificate has Must-Staple but mode is never: clients will reject it",
              {{"certificate", c.name}});
  }
}

// Start and reload: what the published file holds may be newer than
// store_dir (a persist that failed); the newest verified answer wins.
void Stapler::Reconcile(Slot& slot, int64_t now) {
  const StaplerCertState& st = slot.core->state();
  if (slot.cfg.output_file.empty() || !ModeStaples(st.mode, st.must_staple)) return;
  auto disk = ReadFileLimited(slot.cfg.output_file, 1 << 20);
  if (!disk) return;
  if (IsTryLaterPlaceholder(disk.value())) return;
  std::string why = slot.core->Offer(disk.value(), "output_file", now);
  if (why.empty()) {
    if (slot.core->state().held_source == "output_file") {
      log::Info("newer staple adopted from output_file",
                {{"certificate", st.name}, {"path", slot.cfg.output_file},
                 {"status", std::string(StateName(slot.core->state().held.state))}});
    }
  } else {
    log::Warn("output_file holds no staple the engine can keep; it will be replaced",
              {{"certificate", st.name}, {"path", slot.cfg.output_file}, {"err", why}});
  }
}

void Stapler::ApplyNow(const Config& config) {
  config_ = config.stapler;
  alertmanager_ = config.alertmanager;
  verify_ = MakeVerifyOptions(config.global);
  ready_by_ = std::chrono::steady_clock::now() + config_.ready_timeout;
  StapleStore store(config_.store_dir);
  std::map<std::string, std::shared_ptr<Slot>> next;
  std::set<std::string> keys;
  int64_t now = NowUnix();
  for (const StaplerCertificate& c : config_.certificates) {
    std::string key = CertKey(c.cert->cert.get());
    keys.insert(key);
    auto it = slots_.find(c.name);
    std::shared_ptr<Slot> slot;
    if (it != slots_.end() && it->second->core->state().key == key &&
        it->second->cfg.mode == c.mode && it->second->cfg.urls == c.urls) {
      // Outputs and commands may change freely: Sync publishes the held
      // staple to a new output_file or HAProxy socket at once.
      slot = it->second;
      if (slot->cfg.output_file != c.output_file) slot->file_retry_at = 0;
      slot->cfg = c;
      slot->core->Reconfigure(Refresh(), verify_, now);  // new skew, refresh times
      slots_.erase(it);
    } else {
      if (it != slots_.end()) {  // same name, another mode, URL or certificate
        it->second->removed = true;
        it->second->timer.cancel();
        slots_.erase(it);
      }
      slot = std::make_shared<Slot>(io_);
      MakeCore(slot, c);
    }
    slot->watch = std::make_unique<CertWatch>(c.cert_file, c.issuer_file, c.cert);
    slot->next_cert_check = 0;
    Reconcile(*slot, now);
    next.emplace(c.name, slot);
  }
  for (auto& [name, s] : slots_) {
    s->removed = true;
    s->timer.cancel();
    log::Warn("certificate no longer managed; its output_file is left as it is",
              {{"certificate", name}, {"output_file", s->cfg.output_file}});
  }
  slots_ = std::move(next);
  auto purged = store.Purge(keys, now, 7 * 86400);
  for (const auto& k : purged) log::Info("purged stale store_dir entry", {{"key", k}});
  for (auto& [name, s] : slots_) Wake(s);
  SaveSnapshot();
}

void Stapler::CheckRotation(const std::shared_ptr<Slot>& slot, int64_t now) {
  if (now < slot->next_cert_check || !slot->watch) return;
  slot->next_cert_check =
      now + std::max<int64_t>(
                1, std::chrono::duration_cast<std::chrono::seconds>(config_.min_refresh).count());
  auto changed = slot->watch->Check();
  if (!changed) {
    log::Warn("cannot re-read renewed certificate; keeping the current one",
              {{"certificate", slot->cfg.name}, {"err", changed.error().detail}});
    return;
  }
  if (!changed.value()) return;
  StaplerCertificate c = slot->cfg;
  c.cert = changed.value();
  if (c.urls_from_aia && !c.cert->ocsp_urls.empty()) c.urls = c.cert->ocsp_urls;
  std::string old_key = slot->core->state().key;
  MakeCore(slot, c);
  log::Info("certificate renewed on disk; fetching for the new one",
            {{"certificate", c.name}, {"old_key", old_key},
             {"key", slot->core->state().key}, {"subject", SubjectString(c.cert->cert.get())}});
  Reconcile(*slot, now);
}

void Stapler::Wake(const std::shared_ptr<Slot>& slot) {
  if (slot->removed) return;
  int64_t now = NowUnix();
  CheckRotation(slot, now);
  StaplerCore& core = *slot->core;
  if (core.FetchDue(now) && !slot->fetching) {
    slot->fetching = true;
    ResponderProbeRequest req;
    req.cert = slot->cfg.cert;
    req.urls = slot->cfg.urls;
    req.timeout = slot->cfg.timeout;
    req.verify = verify_;
    // The staple is always OCSP; crl/both add the CRL lookup after it.
    if (slot->cfg.revocation != Revocation::kOcsp && crl_store_ != nullptr) {
      req.revocation = Revocation::kBoth;
      req.crl_store = crl_store_;
    }
    std::weak_ptr<Slot> weak = slot;
    uint64_t generation = slot->generation;
    http_.Probe(req, [this, weak, generation](ProbeResult r) {
      auto s = weak.lock();
      // A fetch for a certificate since renewed or dropped is discarded.
      if (!s || s->removed || s->generation != generation) return;
      s->fetching = false;
      int64_t t = NowUnix();
      s->core->OnFetched(r, t);
      const auto& st = s->core->state();
      log::Info("staple update",
                {{"certificate", st.name},
                 {"result", !r.success ? "failed" : std::string(StateName(r.verdict->state))},
                 {"status", std::string(StateName(st.held.state))},
                 {"this_update", FormatUnixTimeOrNone(st.held.this_update)},
                 {"next_update", FormatUnixTimeOrNone(st.held.next_update)},
                 {"next_refresh", FormatUnixTimeOrNone(st.next_refresh)},
                 {"serving", st.serving ? "true" : "false"},
                 {"err", st.last_error}});
      Sync(s, t);
      SaveSnapshot();
      Arm(s);
    });
  }
  core.Evaluate(now);
  Sync(slot, now);
  int64_t resend =
      std::chrono::duration_cast<std::chrono::seconds>(alertmanager_.resend_interval).count();
  if (slot->fatal_since != 0 && now - slot->last_alert_push >= resend) {
    PushAlert(slot, /*resolved=*/false);  // Alertmanager forgets alerts not re-sent
  }
  SaveSnapshot();
  Arm(slot);
}

void Stapler::Arm(const std::shared_ptr<Slot>& slot) {
  int64_t now = NowUnix();
  int64_t wake = slot->core->NextWake(now);
  auto consider = [&](int64_t t) {
    if (t > 0) wake = std::min(wake, t);
  };
  if (slot->reload_pending) {
    consider(slot->last_reload +
             std::chrono::duration_cast<std::chrono::seconds>(config_.reload_min_interval)
                 .count());
  }
  if (slot->fatal_since != 0 && !alertmanager_.url.empty()) {
    consider(slot->last_alert_push +
             std::chrono::duration_cast<std::chrono::seconds>(alertmanager_.resend_interval)
                 .count());
  }
  if (!slot->file_ok) consider(slot->file_retry_at);
  if (slot->persist_pending) consider(slot->persist_retry_at);
  if (!slot->haproxy_ok) consider(slot->haproxy_retry_at);
  consider(slot->next_cert_check);
  slot->timer.expires_after(std::chrono::seconds(std::max<int64_t>(1, wake - now)));
  std::weak_ptr<Slot> weak = slot;
  slot->timer.async_wait([this, weak](const boost::system::error_code& ec) {
    auto s = weak.lock();
    if (ec || !s || s->removed) return;
    Wake(s);
  });
}

void Stapler::Sync(const std::shared_ptr<Slot>& slot, int64_t now) {
  SyncFile(*slot, now);
  SyncHaproxy(slot, now);
  SyncPersist(*slot, now);
  if (slot->reload_pending) RunReload(slot, now);
}

// The output_file holds the served staple, or the tryLater placeholder
// after a withdrawal (and before the first staple), so the server reading
// it always starts. A certificate the mode does not staple (`never`, or a
// renewal that dropped Must-Staple under `auto`) gets the placeholder too:
// no server keeps serving an earlier certificate's staple.
void Stapler::SyncFile(Slot& slot, int64_t now) {
  const StaplerCertState& st = slot.core->state();
  if (slot.cfg.output_file.empty()) {
    slot.file_ok = true;
    slot.published_expired = false;
    return;
  }
  std::span<const uint8_t> want = st.serving ? std::span<const uint8_t>(slot.core->published())
                                             : std::span<const uint8_t>(kTryLaterResponse);
  auto disk = ReadFileLimited(slot.cfg.output_file, 1 << 20);
  bool same = disk && std::equal(disk->begin(), disk->end(), want.begin(), want.end());
  if (!same && (slot.file_ok || now >= slot.file_retry_at)) {
    auto w = WriteFileAtomic(slot.cfg.output_file, want);
    if (w) {
      slot.file_ok = true;
      slot.file_failures = 0;
      slot.reload_pending = !slot.cfg.reload_command.empty();
      log::Info(st.serving ? "output_file written" : "output_file holds the tryLater placeholder",
                {{"certificate", st.name}, {"path", slot.cfg.output_file}});
      same = true;
    } else {
      CountError(slot, "write");
      slot.file_ok = false;
      ++slot.file_failures;
      slot.file_retry_at = RetryAfterFailure(Refresh(), now, slot.file_failures);
      log::Error("cannot write output_file",
                 {{"certificate", st.name}, {"err", w.error().detail},
                  {"retry_at", FormatUnixTimeOrNone(slot.file_retry_at)}});
    }
  } else if (same) {
    slot.file_ok = true;
    slot.file_failures = 0;
  }
  // What the server would read is an old staple the engine no longer
  // stands behind (past its validity, another certificate's, or corrupt).
  slot.published_expired = false;
  if (!same && disk) {
    OcspVerdict v = VerifyOcspResponse(disk.value(), slot.cfg.cert->cert.get(),
                                       slot.cfg.cert->issuer.get(), verify_, now);
    slot.published_expired =
        !IsTryLaterPlaceholder(disk.value()) && !Servable({v.state, v.valid_until}, now);
  }
}

void Stapler::SyncHaproxy(const std::shared_ptr<Slot>& slot, int64_t now) {
  const StaplerCertState& st = slot->core->state();
  if (slot->cfg.haproxy_socket.empty() || !ModeStaples(st.mode, st.must_staple)) {
    slot->haproxy_ok = true;
    if (!slot->cfg.haproxy_socket.empty() && !slot->haproxy_stop_logged) {
      // (a renewal without Must-Staple under auto, or mode never)
      slot->haproxy_stop_logged = true;
      log::Warn("certificate no longer stapled; HAProxy's runtime API cannot remove a staple: "
                "HAProxy serves the last one pushed until 300 s before its nextUpdate",
                {{"certificate", st.name}, {"socket", slot->cfg.haproxy_socket}});
    }
    return;
  }
  slot->haproxy_stop_logged = false;
  // HAProxy's runtime API cannot remove a staple; HAProxy itself stops
  // stapling 300 s before nextUpdate, the moment the engine withdraws.
  if (!st.serving) return;
  const std::vector<uint8_t>& der = slot->core->published();
  if (slot->haproxy_socket == slot->cfg.haproxy_socket && slot->haproxy_der == der) {
    slot->haproxy_ok = true;
    return;
  }
  if (slot->haproxy_in_flight || (!slot->haproxy_ok && now < slot->haproxy_retry_at)) return;
  slot->haproxy_in_flight = true;
  std::string socket = slot->cfg.haproxy_socket, name = st.name;
  std::string command = HaproxySetOcspCommand(der);
  std::weak_ptr<Slot> weak = slot;
  uint64_t generation = slot->generation;
  asio::post(haproxy_pool_, [this, weak, generation, socket, name, command, der] {
    auto r = HaproxyCommand(socket, command, std::chrono::seconds(5));
    std::string err = !r ? r.error().detail
                      : r.value().find("updated") == std::string::npos
                          ? "HAProxy refused the staple: " + r.value()
                          : "";
    asio::post(io_, [this, weak, generation, socket, name, der, err] {
      auto s = weak.lock();
      if (!s) return;
      s->haproxy_in_flight = false;
      if (s->removed || s->generation != generation) return;
      int64_t t = NowUnix();
      if (err.empty()) {
        s->haproxy_ok = true;
        s->haproxy_failures = 0;
        s->haproxy_socket = socket;
        s->haproxy_der = der;
        log::Info("staple pushed to HAProxy", {{"certificate", name}, {"socket", socket}});
      } else {
        CountError(*s, "haproxy");
        s->haproxy_ok = false;
        ++s->haproxy_failures;
        s->haproxy_retry_at = RetryAfterFailure(Refresh(), t, s->haproxy_failures);
        log::Error("HAProxy runtime API failed",
                   {{"certificate", name}, {"err", err}, {"retry_at", FormatUnixTimeOrNone(s->haproxy_retry_at)}});
      }
      SyncHaproxy(s, t);  // a newer staple may have come meanwhile
      SaveSnapshot();
      Arm(s);
    });
  });
}

void Stapler::SyncPersist(Slot& slot, int64_t now) {
  if (!slot.persist_pending || now < slot.persist_retry_at) return;
  const StaplerCertState& st = slot.core->state();
  auto r = StapleStore(config_.store_dir).Save(st.key, *slot.persist_pending);
  if (r) {
    slot.persist_pending.reset();
    if (slot.persist_failures > 0) {
      log::Info("staple persisted after earlier failures", {{"certificate", st.name}});
    }
    slot.persist_failures = 0;
    return;
  }
  CountError(slot, "persist");
  ++slot.persist_failures;
  slot.persist_retry_at = RetryAfterFailure(Refresh(), now, slot.persist_failures);
  log::Error("cannot persist staple", {{"certificate", st.name}, {"err", r.error().detail}});
}

void Stapler::PushAlert(const std::shared_ptr<Slot>& slot, bool resolved) {
  if (alertmanager_.url.empty()) return;
  int64_t now = NowUnix();
  slot->last_alert_push = now;
  std::string json = FatalAlertJson(slot->core->state(),
                                    slot->fatal_since ? slot->fatal_since : now, now, resolved);
  if (slot->alert_in_flight) {
    slot->alert_next = {std::move(json), resolved};  // coalesced: only the latest is sent
    return;
  }
  SendAlert(slot, std::move(json), resolved);
}

void Stapler::SendAlert(const std::shared_ptr<Slot>& slot, std::string json, bool resolved) {
  slot->alert_in_flight = true;
  std::string url = alertmanager_.url, name = slot->cfg.name;
  auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(alertmanager_.timeout);
  std::weak_ptr<Slot> weak = slot;
  asio::post(alerts_pool_, [this, weak, url, name, json, timeout, resolved] {
    auto r = PostAlerts(url, json, timeout);
    if (!r) {
      log::Error("cannot push alert to Alertmanager",
                 {{"certificate", name}, {"err", r.error().detail}});
    } else {
      log::Info(resolved ? "alert resolved in Alertmanager" : "alert sent to Alertmanager",
                {{"certificate", name}, {"alertname", "OCSPStaplerFatal"}});
    }
    asio::post(io_, [this, weak] {
      auto s = weak.lock();
      if (!s) return;
      s->alert_in_flight = false;
      if (s->alert_next) {
        auto [next_json, next_resolved] = std::move(*s->alert_next);
        s->alert_next.reset();
        SendAlert(s, std::move(next_json), next_resolved);
      }
    });
  });
}

void Stapler::RunReload(const std::shared_ptr<Slot>& slot, int64_t now) {
  int64_t limit =
      std::chrono::duration_cast<std::chrono::seconds>(config_.reload_min_interval).count();
  if (slot->reload_running) return;  // runs again when it ends
  if (slot->last_reload != 0 && now - slot->last_reload < limit) return;  // later, from Wake
  slot->reload_pending = false;
  slot->reload_running = true;
  slot->last_reload = now;
  std::weak_ptr<Slot> weak = slot;
  std::string name = slot->cfg.name, command = slot->cfg.reload_command;
  commands_.Run(command, {{"OSE_CERTIFICATE", name}},
                std::chrono::duration_cast<std::chrono::milliseconds>(config_.command_timeout),
                [this, weak, name](int code, const std::string& err) {
                  auto s = weak.lock();
                  if (!s) return;
                  s->reload_running = false;
                  s->reload_failed = code != 0;
                  if (code != 0) {
                    CountError(*s, "reload");
                    log::Error("reload_command failed", {{"certificate", name},
                                                         {"exit_code", std::to_string(code)},
                                                         {"err", err}});
                    // Try again: the server still has the old staple.
                    s->reload_pending = true;
                  }
                  SaveSnapshot();
                  if (!s->removed) Arm(s);
                });
}

void Stapler::SaveSnapshot() {
  std::vector<StaplerCertState> snap;
  bool attempted = true;
  for (const auto& [name, s] : slots_) {
    StaplerCertState st = s->core->state();
    if (ModeStaples(st.mode, st.must_staple) && !st.no_ocsp_url && !st.attempted) {
      attempted = false;
    }
    // `serving` tells what the servers can read: the core's decision, and
    // every configured publisher holding it.
    st.serving = st.serving && s->file_ok && s->haproxy_ok;
    st.published_expired = s->published_expired;
    st.publish_failing =
        !s->file_ok || !s->haproxy_ok || s->persist_failures > 0 || s->reload_failed;
    for (auto stage : kPublishStages) st.publish_errors[std::string(stage)] = 0;
    for (const auto& [stage, n] : s->publish_errors) st.publish_errors[stage] = n;
    snap.push_back(std::move(st));
  }
  std::lock_guard lock(mu_);
  snapshot_ = std::move(snap);
  all_attempted_ = attempted;
}

std::vector<StaplerCertState> Stapler::Snapshot() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

bool Stapler::Ready() const {
  std::lock_guard lock(mu_);
  return all_attempted_ || std::chrono::steady_clock::now() >= ready_by_;
}

}  // namespace ose
