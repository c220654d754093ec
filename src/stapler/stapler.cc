#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/stapler/stapler.h"

#include <openssl/evp.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <random>
#include <thread>

#include "ocsp_staple_exporter/common/file.h"
#include "ocsp_staple_exporter/common/log.h"
#include "ocsp_staple_exporter/probe/targets.h"
#include "ocsp_staple_exporter/stapler/alertmanager.h"

extern char** environ;

namespace ose {
namespace {


std::string Iso(std::optional<int64_t> t) { return t ? FormatUnixTime(*t) : "none"; }

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

bool RunBackground(const std::string& command,
                   const std::vector<std::pair<std::string, std::string>>& env) {
  std::vector<std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) vars.emplace_back(*e);
  for (const auto& [k, v] : env) vars.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), envp.data()) !=
      0) {
    return false;
  }
  std::thread([pid, command] {
    int status = 0;
    ::waitpid(pid, &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0) {
      log::Warn("command failed", {{"command", command}, {"exit_code", std::to_string(code)}});
    }
  }).detach();
  return true;
}

struct Stapler::Slot {
  Slot(asio::io_context& io) : timer(io) {}
  StaplerCertificate cfg;
  std::unique_ptr<StaplerCore> core;
  asio::steady_timer timer;
  bool fetching = false;
  bool removed = false;
  int64_t last_reload = 0;
  bool reload_pending = false;
  int64_t fatal_since = 0;      ///< Unix seconds; 0 while not fatal
  int64_t last_alert_push = 0;  ///< Unix seconds
};

Stapler::Stapler(asio::io_context& io, ResponderProber& http,
                 std::function<void(int)> exit_process)
    : io_(io), http_(http), exit_process_(std::move(exit_process)) {}

Stapler::~Stapler() {
  for (auto& [name, s] : slots_) s->timer.cancel();
  side_effects_.join();
}

void Stapler::Apply(const Config& config) {
  asio::post(io_, [this, config] { ApplyNow(config); });
}

void Stapler::ApplyNow(const Config& config) {
  config_ = config.stapler;
  alertmanager_ = config.alertmanager;
  verify_ = MakeVerifyOptions(config.global);
  ready_by_ = std::chrono::steady_clock::now() + config_.ready_timeout;
  StapleStore store(config_.store_dir);
  std::map<std::string, std::shared_ptr<Slot>> next;
  std::set<std::string> keys;
  RefreshPolicy refresh;
  refresh.min_refresh =
      std::chrono::duration_cast<std::chrono::seconds>(config_.min_refresh).count();
  refresh.max_refresh =
      std::chrono::duration_cast<std::chrono::seconds>(config_.max_refresh).count();
  refresh.backoff_base = std::max<int64_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(config_.failure_backoff).count());
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  for (const StaplerCertificate& c : config_.certificates) {
    std::string key = CertKey(c.cert->cert.get());
    keys.insert(key);
    auto it = slots_.find(c.name);
    if (it != slots_.end() && it->second->core->state().key == key &&
        it->second->cfg.mode == c.mode && it->second->cfg.urls == c.urls) {
      it->second->cfg = c;  // outputs and commands may change freely
      next.emplace(c.name, it->second);
      slots_.erase(it);
      continue;
    }
    auto slot = std::make_shared<Slot>(io_);
    slot->cfg = c;
    std::weak_ptr<Slot> weak = slot;
    StaplerEffects fx;
    fx.publish = [this, weak](const StaplerCertState&, const std::vector<uint8_t>& der) {
      if (auto s = weak.lock()) Publish(*s, der);
    };
    fx.withdraw = [this, weak](const StaplerCertState&) {
      if (auto s = weak.lock()) Withdraw(*s);
    };
    fx.persist = [this](const StaplerCertState& st, const StoreEntry& e) {
      auto r = StapleStore(config_.store_dir).Save(st.key, e);
      if (!r) {
        log::Error("cannot persist staple", {{"certificate", st.name}, {"err", r.error().detail}});
      }
    };
    fx.fatal = [this, weak](const StaplerCertState& st, bool fatal) {
      auto s = weak.lock();
      if (!fatal) {
        log::Info("stapler no longer fatal", {{"certificate", st.name},
                                               {"status", std::string(StateName(st.held.state))}});
        if (s) {
          PushAlert(*s, /*resolved=*/true);
          s->fatal_since = 0;
        }
        return;
      }
      if (s) {
        s->fatal_since = NowUnix();
        PushAlert(*s, /*resolved=*/false);
      }
      log::Error("stapler fatal", {{"certificate", st.name},
                                   {"mode", std::string(ModeName(st.mode))},
                                   {"status", std::string(StateName(st.held.state))},
                                   {"err", st.last_error}});
      if (!config_.fatal_command.empty()) {
        RunBackground(config_.fatal_command,
                      {{"OSE_CERTIFICATE", st.name},
                       {"OSE_STATUS", std::string(StateName(st.held.state))},
                       {"OSE_MODE", std::string(ModeName(st.mode))}});
      }
      if (config_.exit_on_fatal && exit_process_) {
        log::Error("exiting: exit_on_fatal is set", {{"certificate", st.name}});
        exit_process_(1);
      }
    };
    slot->core = std::make_unique<StaplerCore>(
        c, refresh, verify_, fx, [rng] { return std::uniform_real_distribution<>(0, 1)(*rng); });
    std::string key_now = slot->core->state().key;
    auto entry = store.Load(key_now);
    std::string why = slot->core->LoadCache(entry, NowUnix());
    if (!why.empty()) {
      log::Warn("cache entry ignored, will be replaced",
                {{"certificate", c.name}, {"key", key_now}, {"err", why}});
    } else if (entry) {
      log::Info("staple loaded from store_dir",
                {{"certificate", c.name},
                 {"status", std::string(StateName(slot->core->state().held.state))},
                 {"next_update", Iso(slot->core->state().held.next_update)}});
    }
    if (slot->core->state().warn) {
      log::Warn("certificate has Must-Staple but mode is never: clients will reject it",
                {{"certificate", c.name}});
    }
    next.emplace(c.name, slot);
  }
  for (auto& [name, s] : slots_) {
    s->removed = true;
    s->timer.cancel();
  }
  slots_ = std::move(next);
  auto purged = store.Purge(keys, NowUnix(), 7 * 86400);
  for (const auto& k : purged) log::Info("purged stale store_dir entry", {{"key", k}});
  for (auto& [name, s] : slots_) Wake(s);
  SaveSnapshot();
}

void Stapler::Wake(const std::shared_ptr<Slot>& slot) {
  if (slot->removed) return;
  int64_t now = NowUnix();
  StaplerCore& core = *slot->core;
  if (core.FetchDue(now) && !slot->fetching) {
    slot->fetching = true;
    ResponderProbeRequest req;
    req.cert = slot->cfg.cert;
    req.urls = slot->cfg.urls;
    req.timeout = slot->cfg.timeout;
    req.verify = verify_;
    std::weak_ptr<Slot> weak = slot;
    http_.Probe(req, [this, weak](ProbeResult r) {
      auto s = weak.lock();
      if (!s || s->removed) return;
      s->fetching = false;
      int64_t t = NowUnix();
      s->core->OnFetched(r, t);
      const auto& st = s->core->state();
      log::Info("staple update",
                {{"certificate", st.name},
                 {"result", !r.success ? "failed" : std::string(StateName(r.verdict.state))},
                 {"status", std::string(StateName(st.held.state))},
                 {"this_update", Iso(st.held.this_update)},
                 {"next_update", Iso(st.held.next_update)},
                 {"next_refresh", Iso(st.next_refresh)},
                 {"serving", st.serving ? "true" : "false"},
                 {"err", st.last_error}});
      SaveSnapshot();
      Arm(s);
    });
  }
  core.Evaluate(now);
  if (slot->reload_pending) RunReload(*slot);
  int64_t resend =
      std::chrono::duration_cast<std::chrono::seconds>(alertmanager_.resend_interval).count();
  if (slot->fatal_since != 0 && now - slot->last_alert_push >= resend) {
    PushAlert(*slot, /*resolved=*/false);  // Alertmanager forgets alerts not re-sent
  }
  SaveSnapshot();
  Arm(slot);
}

void Stapler::Arm(const std::shared_ptr<Slot>& slot) {
  int64_t now = NowUnix();
  int64_t wake = slot->core->NextWake(now);
  if (slot->reload_pending) {
    int64_t limit = std::chrono::duration_cast<std::chrono::seconds>(config_.reload_min_interval)
                        .count();
    wake = std::min(wake, slot->last_reload + limit);
  }
  if (slot->fatal_since != 0 && !alertmanager_.url.empty()) {
    wake = std::min(wake, slot->last_alert_push + std::chrono::duration_cast<std::chrono::seconds>(
                                                      alertmanager_.resend_interval)
                                                      .count());
  }
  slot->timer.expires_after(std::chrono::seconds(std::max<int64_t>(1, wake - now)));
  std::weak_ptr<Slot> weak = slot;
  slot->timer.async_wait([this, weak](const asio::error_code& ec) {
    auto s = weak.lock();
    if (ec || !s || s->removed) return;
    Wake(s);
  });
}

void Stapler::Publish(Slot& slot, const std::vector<uint8_t>& der) {
  const auto& st = slot.core->state();
  log::Info("staple published", {{"certificate", st.name},
                                 {"status", std::string(StateName(st.held.state))},
                                 {"next_update", Iso(st.held.next_update)}});
  if (!slot.cfg.output_file.empty()) {
    auto r = WriteFileAtomic(slot.cfg.output_file, der);
    if (!r) {
      log::Error("cannot write output_file", {{"certificate", st.name}, {"err", r.error().detail}});
    } else {
      slot.reload_pending = !slot.cfg.reload_command.empty();
      if (slot.reload_pending) RunReload(slot);
    }
  }
  if (!slot.cfg.haproxy_socket.empty()) {
    std::string socket = slot.cfg.haproxy_socket, name = st.name;
    std::string command = HaproxySetOcspCommand(der);
    // Blocking socket I/O: off the event loop, in order.
    asio::post(side_effects_, [socket, name, command] {
      auto r = HaproxyCommand(socket, command, std::chrono::seconds(5));
      if (!r) {
        log::Error("HAProxy runtime API failed", {{"certificate", name}, {"err", r.error().detail}});
      } else if (r.value().find("updated") == std::string::npos) {
        log::Error("HAProxy refused the staple", {{"certificate", name}, {"answer", r.value()}});
      } else {
        log::Info("staple pushed to HAProxy", {{"certificate", name}, {"socket", socket}});
      }
    });
  }
}

void Stapler::Withdraw(Slot& slot) {
  const auto& st = slot.core->state();
  log::Warn("staple withdrawn", {{"certificate", st.name},
                                 {"status", std::string(StateName(st.held.state))},
                                 {"next_update", Iso(st.held.next_update)}});
  if (!slot.cfg.output_file.empty()) {
    if (::unlink(slot.cfg.output_file.c_str()) != 0 && errno != ENOENT) {
      log::Error("cannot remove output_file",
                 {{"certificate", st.name}, {"err", std::strerror(errno)}});
    }
    slot.reload_pending = !slot.cfg.reload_command.empty();
    if (slot.reload_pending) RunReload(slot);
  }
  if (!slot.cfg.haproxy_socket.empty()) {
    log::Warn("HAProxy keeps its staple until 300 s before nextUpdate; the runtime API cannot "
              "remove it",
              {{"certificate", st.name}});
  }
}

void Stapler::PushAlert(Slot& slot, bool resolved) {
  if (alertmanager_.url.empty()) return;
  int64_t now = NowUnix();
  slot.last_alert_push = now;
  std::string json = FatalAlertJson(slot.core->state(), slot.fatal_since ? slot.fatal_since : now,
                                    now, resolved);
  std::string url = alertmanager_.url, name = slot.cfg.name;
  auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(alertmanager_.timeout);
  asio::post(side_effects_, [url, name, json, timeout, resolved] {
    auto r = PostAlerts(url, json, timeout);
    if (!r) {
      log::Error("cannot push alert to Alertmanager",
                 {{"certificate", name}, {"err", r.error().detail}});
    } else {
      log::Info(resolved ? "alert resolved in Alertmanager" : "alert sent to Alertmanager",
                {{"certificate", name}, {"alertname", "OCSPStaplerFatal"}});
    }
  });
}

void Stapler::RunReload(Slot& slot) {
  int64_t now = NowUnix();
  int64_t limit =
      std::chrono::duration_cast<std::chrono::seconds>(config_.reload_min_interval).count();
  if (slot.last_reload != 0 && now - slot.last_reload < limit) return;  // later, from Wake
  slot.reload_pending = false;
  slot.last_reload = now;
  if (!RunBackground(slot.cfg.reload_command, {{"OSE_CERTIFICATE", slot.cfg.name}})) {
    log::Error("cannot run reload_command", {{"certificate", slot.cfg.name}});
  }
}

void Stapler::SaveSnapshot() {
  std::vector<StaplerCertState> snap;
  bool attempted = true;
  for (const auto& [name, s] : slots_) {
    snap.push_back(s->core->state());
    const StaplerCertState& st = s->core->state();
    if (ModeStaples(st.mode, st.must_staple) && !st.attempted) attempted = false;
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
