#include "ocsp_staple_exporter/probe/dns_resolver.h"
#include "ocsp_staple_exporter/common/text.h"

#include "ocsp_staple_exporter/config/config.h"

#include <arpa/inet.h>
#include <ares.h>
#include <netinet/in.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include "ocsp_staple_exporter/common/asio.h"
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <mutex>
#include <stdexcept>
#include <list>
#include <unordered_map>

#include "ocsp_staple_exporter/common/log.h"

namespace ose {
namespace {

using asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

void InitCaresOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
      throw std::runtime_error(std::string("c-ares: ") + ares_strerror(rc));
    }
  });
}

}  // namespace

struct DnsResolver::Impl : std::enable_shared_from_this<Impl> {
  struct Socket {
    Socket(asio::io_context& io, int fd) : sd(io, fd) {}
    asio::posix::stream_descriptor sd;
    bool want_read = false, want_write = false;
    bool reading = false, writing = false;
    bool closed = false;
  };
  struct Answer {
    bool ok = false;
    std::vector<asio::ip::address> addresses;
    std::string error;
    SteadyClock::time_point expires;
    size_t bytes = 0;                       ///< what it costs the cache
    std::list<std::string>::iterator lru;  ///< its place in `lru`
  };
  struct Waiter {
    uint16_t port;
    Callback done;
  };
  struct Query {
    std::weak_ptr<Impl> impl;
    std::string host;
  };

  Impl(asio::io_context& io_ctx, DnsOptions o) : io(io_ctx), opts(std::move(o)), timer(io_ctx) {}

  ~Impl() {
    destroying = true;
    timer.cancel();
    if (channel != nullptr) ares_destroy(channel);  // sockets closed via SocketState
  }

  void Start() {
    InitCaresOnce();
    channel = NewChannel();
    ares_addr_port_node* nodes = nullptr;
    if (ares_get_servers_ports(channel, &nodes) == ARES_SUCCESS) system_servers.reset(nodes);
    if (auto set = ApplyServers(channel, opts.servers); !set) {
      throw std::runtime_error(set.error().detail);
    }
  }

  ares_channel NewChannel() {
    ares_options o{};
    o.sock_state_cb = &Impl::SocketState;
    o.sock_state_cb_data = this;
    o.timeout = static_cast<int>(opts.try_timeout.count());
    o.tries = std::max(1, opts.tries);
    char lookups[] = "fb";  // /etc/hosts, then DNS
    o.lookups = lookups;
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS;
    ares_channel c = nullptr;
    int rc = ares_init_options(&c, &o, mask);
    if (rc != ARES_SUCCESS) throw std::runtime_error(std::string("c-ares: ") + ares_strerror(rc));
    return c;
  }

  // Replaces the resolvers (a reload): on a new channel, since c-ares 1.18
  // refuses ares_set_servers while queries are outstanding. The old
  // channel's queries are asked again on the new one (OnAnswer sees
  // ARES_EDESTRUCTION), so no probe waits on a resolver that is gone.
  void ReplaceServers(const std::vector<std::string>& servers) {
    if (servers == opts.servers) return;
    ares_channel fresh = nullptr;
    try {
      fresh = NewChannel();
    } catch (const std::exception& e) {
      log::Error("cannot replace DNS resolvers", {{"err", e.what()}});
      return;
    }
    if (auto set = ApplyServers(fresh, servers); !set) {
      ares_destroy(fresh);
      log::Error("cannot replace DNS resolvers", {{"err", set.error().detail}});
      return;
    }
    opts.servers = servers;
    ares_channel old = channel;
    channel = fresh;
    const size_t outstanding = pending.size();
    ares_destroy(old);  // its callbacks re-ask on `channel`
    UpdateTimer();
    std::string list;
    for (const auto& s : servers) list += (list.empty() ? "" : ",") + s;
    log::Info("DNS resolvers replaced", {{"dns_servers", list.empty() ? "resolv.conf" : list},
                                         {"queries_moved", std::to_string(outstanding)}});
  }

  // The given resolvers, or the ones c-ares read from /etc/resolv.conf.
  Result<Ok> ApplyServers(ares_channel c, const std::vector<std::string>& servers) {
    std::string csv;
    for (const auto& s : servers) {
      if (auto v = ValidateDnsServer(s); !v) return v.error();
      csv += (csv.empty() ? "" : ",") + s;
    }
    int rc = csv.empty() ? ares_set_servers_ports(c, system_servers.get())
                         : ares_set_servers_ports_csv(c, csv.c_str());
    if (rc != ARES_SUCCESS) return Error{"config", "dns_servers \"" + csv + "\": " + ares_strerror(rc)};
    return Ok{};
  }

  // c-ares opens, watches and closes its sockets through this callback.
  static void SocketState(void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<Impl*>(data);
    auto it = self->sockets.find(fd);
    if (!readable && !writable) {
      if (it == self->sockets.end()) return;
      auto s = it->second;
      self->sockets.erase(it);
      s->closed = true;
      boost::system::error_code ignored;
      s->sd.cancel(ignored);
      s->sd.release();  // c-ares closes the descriptor itself
      return;
    }
    if (self->destroying) return;
    if (it == self->sockets.end()) {
      it = self->sockets.emplace(fd, std::make_shared<Socket>(self->io, fd)).first;
    }
    it->second->want_read = readable != 0;
    it->second->want_write = writable != 0;
    self->Arm(it->second, fd);
  }

  void Arm(const std::shared_ptr<Socket>& s, int fd) {
    if (s->want_read && !s->reading) Wait(s, fd, /*write=*/false);
    if (s->want_write && !s->writing) Wait(s, fd, /*write=*/true);
  }

  // Waits until `fd` is readable (or writable), lets c-ares process it, and
  // waits again while c-ares still wants to.
  void Wait(const std::shared_ptr<Socket>& s, int fd, bool write) {
    (write ? s->writing : s->reading) = true;
    std::weak_ptr<Impl> weak = weak_from_this();
    s->sd.async_wait(write ? asio::posix::stream_descriptor::wait_write
                           : asio::posix::stream_descriptor::wait_read,
                     [weak, s, fd, write](const boost::system::error_code& ec) {
                       (write ? s->writing : s->reading) = false;
                       auto self = weak.lock();
                       if (!self || s->closed || ec) return;
                       ares_process_fd(self->channel, write ? ARES_SOCKET_BAD : fd,
                                       write ? fd : ARES_SOCKET_BAD);
                       self->UpdateTimer();
                       if (!s->closed) self->Arm(s, fd);
                     });
  }

  // Keeps one timer on c-ares' next retry or timeout.
  void UpdateTimer() {
    timeval tv{};
    timeval* next = ares_timeout(channel, nullptr, &tv);
    if (next == nullptr) {
      timer.cancel();
      return;
    }
    timer.expires_after(std::chrono::seconds(next->tv_sec) +
                        std::chrono::microseconds(next->tv_usec));
    std::weak_ptr<Impl> weak = weak_from_this();
    timer.async_wait([weak](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      ares_process_fd(self->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      self->UpdateTimer();
    });
  }

  static void OnAnswer(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
    std::unique_ptr<Query> q(static_cast<Query*>(arg));
    std::unique_ptr<ares_addrinfo, decltype(&ares_freeaddrinfo)> res(result, ares_freeaddrinfo);
    auto self = q->impl.lock();
    if (!self || self->destroying) return;
    if (status == ARES_EDESTRUCTION) {  // its channel was replaced: ask the new one
      self->Ask(q->host);
      return;
    }
    Answer a;
    int ttl = static_cast<int>(self->opts.max_ttl.count());
    if (status == ARES_SUCCESS && res) {
      for (ares_addrinfo_node* n = res->nodes; n != nullptr; n = n->ai_next) {
        if (n->ai_family == AF_INET && n->ai_addr != nullptr) {
          const auto* sa = reinterpret_cast<const sockaddr_in*>(n->ai_addr);
          asio::ip::address_v4::bytes_type b;
          std::memcpy(b.data(), &sa->sin_addr, b.size());
          a.addresses.emplace_back(asio::ip::address_v4(b));
        } else if (n->ai_family == AF_INET6 && n->ai_addr != nullptr) {
          const auto* sa = reinterpret_cast<const sockaddr_in6*>(n->ai_addr);
          asio::ip::address_v6::bytes_type b;
          std::memcpy(b.data(), &sa->sin6_addr, b.size());
          a.addresses.emplace_back(asio::ip::address_v6(b, sa->sin6_scope_id));
        } else {
          continue;
        }
        ttl = std::min(ttl, std::max(0, n->ai_ttl));
      }
    }
    a.ok = !a.addresses.empty();
    if (!a.ok) {
      a.error = "resolve " + q->host + ": " +
                (status == ARES_SUCCESS ? std::string("no addresses") : ares_strerror(status));
      ttl = static_cast<int>(self->opts.negative_ttl.count());
    }
    a.expires = SteadyClock::now() + std::chrono::seconds(ttl);
    self->Deliver(q->host, a);
    if (ttl > 0) self->Remember(q->host, std::move(a));
  }

  // Caches `a` for `host` within the bounds: expired entries go first,
  // then the least recently used, whatever their TTL.
  void Remember(const std::string& host, Answer a) {
    Forget(host);
    a.bytes = sizeof(Answer) + 2 * host.size() + a.error.size() + 64 +
              a.addresses.size() * sizeof(asio::ip::address);
    if (a.bytes > opts.max_cache_bytes || opts.max_cache_entries == 0) return;
    lru.push_back(host);
    a.lru = std::prev(lru.end());
    cache_bytes += a.bytes;
    cache.emplace(host, std::move(a));
    // Over the bounds: expired entries go first, swept at most once a
    // second (a sweep walks the whole cache; a flood of new names must not
    // make every insert do so), then the least recently used.
    const auto now = SteadyClock::now();
    if ((cache.size() > opts.max_cache_entries || cache_bytes > opts.max_cache_bytes) &&
        now - swept_at >= std::chrono::seconds(1)) {
      swept_at = now;
      SweepCache();
    }
    while ((cache.size() > opts.max_cache_entries || cache_bytes > opts.max_cache_bytes) &&
           !lru.empty()) {
      Forget(std::string(lru.front()));
    }
  }

  void Forget(const std::string& host) {
    auto it = cache.find(host);
    if (it == cache.end()) return;
    cache_bytes -= it->second.bytes;
    lru.erase(it->second.lru);
    cache.erase(it);
  }

  void Deliver(const std::string& host, const Answer& a) {
    auto it = pending.find(host);
    if (it == pending.end()) return;
    std::vector<Waiter> waiters = std::move(it->second);
    pending.erase(it);
    for (auto& w : waiters) Post(std::move(w), a);
  }

  void Post(Waiter w, const Answer& a) {
    if (!a.ok) {
      asio::post(io, [done = std::move(w.done), e = a.error] { done(Error{"resolve", e}); });
      return;
    }
    std::vector<tcp::endpoint> eps;
    eps.reserve(a.addresses.size());
    for (const auto& addr : a.addresses) eps.emplace_back(addr, w.port);
    asio::post(io, [done = std::move(w.done), eps = std::move(eps)]() mutable {
      done(std::move(eps));
    });
  }

  void SweepCache() {
    auto now = SteadyClock::now();
    for (auto it = lru.begin(); it != lru.end();) {
      const std::string& host = *it++;
      auto c = cache.find(host);
      if (c != cache.end() && c->second.expires <= now) Forget(std::string(host));
    }
  }

  void Resolve(const std::string& host_in, uint16_t port, Callback done) {
    boost::system::error_code ec;
    auto literal = asio::ip::make_address(host_in, ec);
    if (!ec) {
      std::vector<tcp::endpoint> eps{tcp::endpoint(literal, port)};
      asio::post(io, [done = std::move(done), eps = std::move(eps)]() mutable {
        done(std::move(eps));
      });
      return;
    }
    std::string host = AsciiLower(host_in);
    if (auto it = cache.find(host); it != cache.end()) {
      if (SteadyClock::now() < it->second.expires) {
        lru.splice(lru.end(), lru, it->second.lru);  // recently used
        Post(Waiter{port, std::move(done)}, it->second);
        return;
      }
      Forget(host);
    }
    auto [it, fresh] = pending.try_emplace(host);
    it->second.push_back(Waiter{port, std::move(done)});
    if (!fresh) return;  // a lookup for this name is under way
    Ask(host);
  }

  // Sends the query for `host` (whose waiters are in `pending`).
  void Ask(const std::string& host) {
    ++queries;
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    ares_getaddrinfo(channel, host.c_str(), nullptr, &hints, &Impl::OnAnswer,
                     new Query{weak_from_this(), host});
    UpdateTimer();
  }

  asio::io_context& io;
  DnsOptions opts;
  asio::steady_timer timer;
  ares_channel channel = nullptr;
  struct AresFree {
    void operator()(ares_addr_port_node* p) const { ares_free_data(p); }
  };
  /// The resolvers c-ares found in /etc/resolv.conf, for SetServers({}).
  std::unique_ptr<ares_addr_port_node, AresFree> system_servers;
  bool destroying = false;
  std::unordered_map<int, std::shared_ptr<Socket>> sockets;
  std::unordered_map<std::string, Answer> cache;
  std::list<std::string> lru;  ///< cached names, least recently used first
  size_t cache_bytes = 0;
  SteadyClock::time_point swept_at{};  ///< the last SweepCache
  std::unordered_map<std::string, std::vector<Waiter>> pending;
  std::atomic<uint64_t> queries{0};
};

DnsResolver::DnsResolver(asio::io_context& io, DnsOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {
  impl_->Start();
}

DnsResolver::~DnsResolver() = default;

void DnsResolver::Resolve(const std::string& host, uint16_t port, Callback done) {
  impl_->Resolve(host, port, std::move(done));
}

void DnsResolver::SetServers(std::vector<std::string> servers) {
  std::weak_ptr<Impl> weak = impl_;
  asio::post(impl_->io, [weak, servers = std::move(servers)] {
    if (auto self = weak.lock()) self->ReplaceServers(servers);  // validated by the config
  });
}

uint64_t DnsResolver::queries() const { return impl_->queries.load(); }

DnsResolver::CacheSize DnsResolver::cache_size() const {
  return {impl_->cache.size(), impl_->cache_bytes};
}

}  // namespace ose
