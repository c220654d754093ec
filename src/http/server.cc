#include "ocsp_staple_exporter/http/server.h"

#include <sys/stat.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_set>

#include "ocsp_staple_exporter/common/log.h"
#include "ocsp_staple_exporter/common/text.h"
#include "ocsp_staple_exporter/config/config.h"

namespace ose {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// What identifies a file's content without reading it.
struct FileStamp {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

FileStamp StampOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {true, st.st_dev, st.st_ino, st.st_size,
          st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
          st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec};
}

// "HOST:PORT", "[V6]:PORT" or ":PORT"; port 0 allowed (a free one).
struct ListenAddress {
  std::string host;  ///< "" for every interface
  uint16_t port = 0;
};

Result<ListenAddress> ParseListenAddress(const std::string& address) {
  auto fail = [&](const std::string& why) -> Result<ListenAddress> {
    return Error{"listen", "--web.listen-address=" + address + ": " + why};
  };
  if (!address.empty() && address.front() == ':') {
    auto hp = ParseHostPort("any" + address);
    if (!hp && address != ":0") return fail(hp.error().detail);
    return ListenAddress{"", hp ? hp->port : uint16_t{0}};
  }
  const bool zero = address.size() > 2 && address.compare(address.size() - 2, 2, ":0") == 0;
  auto hp = ParseHostPort(zero ? address.substr(0, address.size() - 1) + "1" : address);
  if (!hp) return fail(hp.error().detail);
  return ListenAddress{hp->host, zero ? uint16_t{0} : hp->port};
}

}  // namespace

namespace {
// What the server can ask of any session, whatever its stream.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  /// From any thread: closes the connection on the session's own loop.
  virtual void Abort() = 0;
};
}  // namespace

struct HttpServer::Impl {
  Impl(const ResultStore& s, const Collector& c, HttpHooks h, RequestStats* st)
      : store(s), collector(c), hooks(std::move(h)), stats(st) {}

  // Order matters: what sessions use outlives `loops` (whose destruction
  // destroys the sessions still queued), and what uses `loops` dies first.
  const ResultStore& store;
  const Collector& collector;
  HttpHooks hooks;
  RequestStats* stats;
  HttpServerOptions options;
  std::unique_ptr<Router> router;
  std::atomic<int> connections{0};
  bool tls_mode = false;
  std::mutex tls_mu;
  std::shared_ptr<ssl::context> tls;  // guarded by tls_mu; the newest good one

  // One event loop per thread, each a single-threaded io_context: a
  // connection lives on one loop, so its handlers never contend for a
  // shared scheduler lock (two threads on one io_context cost ~5 futex
  // calls per /probe; docs/performance.md). Acceptors and the web config
  // watch run on the first; connections are dealt round-robin over
  // `loops` (a thread each), or over options.connection_loops when given
  // (then only the first has a thread).
  static constexpr int kLoops = 2;
  std::vector<std::unique_ptr<net::io_context>> loops = MakeLoops();
  std::atomic<unsigned> next_loop{0};
  net::io_context& ioc = *loops.front();
  // Every session alive, so that the destructor can close them (on
  // connection_loops, which it cannot stop, it must wait for them).
  std::mutex live_mu;
  std::unordered_set<SessionBase*> live;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> keep_running = [this] {
    std::vector<net::executor_work_guard<net::io_context::executor_type>> v;
    for (auto& loop : loops) v.push_back(net::make_work_guard(*loop));
    return v;
  }();
  net::thread_pool heavy{2};  // rendering and reloads: off the I/O threads
  net::thread_pool auth{1};   // bcrypt of credentials not cached yet (one at a time anyway)
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
  std::optional<net::steady_timer> poll;
  std::vector<std::pair<std::string, FileStamp>> watched;  // the web config and its files
  std::vector<int> ports;
  std::vector<std::thread> threads;

  std::shared_ptr<ssl::context> CurrentTls() {
    std::lock_guard lock(tls_mu);
    return tls;
  }
  // Loads the web config file; applies it when `initial` or when it stays
  // in the mode the listener started in.
  Result<Ok> LoadWeb(bool initial);
  void WatchWeb();
  void Accept(std::shared_ptr<tcp::acceptor> acceptor);
  static std::vector<std::unique_ptr<net::io_context>> MakeLoops() {
    std::vector<std::unique_ptr<net::io_context>> v;
    for (int i = 0; i < kLoops; ++i) v.push_back(std::make_unique<net::io_context>(1));
    return v;
  }
  void OnAccept(tcp::socket socket);
};

namespace {

// One connection: TLS handshake when configured, then requests one at a
// time (keep-alive) until the client closes, a deadline passes or an
// answer says close.
template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Session(Stream stream, HttpServer::Impl& impl, std::string peer,
          std::shared_ptr<ssl::context> tls)
      : stream_(std::move(stream)), impl_(impl), peer_(std::move(peer)), tls_(std::move(tls)) {
    std::lock_guard lock(impl_.live_mu);
    impl_.live.insert(this);
  }
  ~Session() override {
    {
      std::lock_guard lock(impl_.live_mu);
      impl_.live.erase(this);
    }
    impl_.connections.fetch_sub(1);  // last: the destructor may be waiting for 0
  }

  void Abort() override {
    // Called with live_mu held; weak: the session may be in its destructor.
    net::post(stream_.get_executor(), [w = this->weak_from_this()] {
      if (auto self = w.lock()) self->Close();
    });
  }

  void Start() {
    // The first request (and the TLS handshake) must come within one
    // request timeout of the accept.
    Lowest().expires_after(impl_.options.request_timeout);
    if constexpr (kTls) {
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) {
                                  log::Debug("TLS handshake failed",
                                             {{"peer", self->peer_}, {"err", ec.message()}});
                                  return self->Close();
                                }
                                self->ReadRequest();
                              });
    } else {
      ReadRequest();
    }
  }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  // Between requests: wait (idle timeout) for the next one to start.
  void WaitForNext() {
    if (buffer_.size() > 0) {  // pipelined: it has started
      Lowest().expires_after(impl_.options.request_timeout);
      return ReadRequest();
    }
    Lowest().expires_after(impl_.options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = this->shared_from_this()](
                                                       beast::error_code ec, size_t n) {
      if (ec) return self->Close();
      self->buffer_.commit(n);
      self->Lowest().expires_after(self->impl_.options.request_timeout);
      self->ReadRequest();
    });
  }

  void ReadRequest() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(64 * 1024);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       self->OnRequest(ec);
                     });
  }

  void OnRequest(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return Shutdown();
    if (ec == http::error::header_limit || ec == http::error::body_limit) {
      return Refuse(ec == http::error::header_limit ? 431 : 413, ec.message());
    }
    if (ec && ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return Refuse(400, ec.message());  // a malformed request
    }
    if (ec) return Close();  // timeout, reset
    auto& msg = parser_->get();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    const std::string_view target(msg.target().data(), msg.target().size());
    const size_t q = target.find('?');
    req.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
    for (const auto& f : msg) {
      req.headers.emplace_back(AsciiLower(std::string_view(f.name_string().data(), f.name_string().size())),
                               std::string(f.value().data(), f.value().size()));
    }
    req.peer = peer_;
    req.tls = kTls;
    keep_alive_ = msg.keep_alive();
    head_ = msg.method() == http::verb::head;
    Lowest().expires_never();  // the handler's time is its own (/probe has a timeout)
    impl_.router->Handle(std::move(req), [self = this->shared_from_this()](HttpResponse r) {
      net::post(self->stream_.get_executor(),
                [self, r = std::move(r)]() mutable { self->Write(std::move(r), self->keep_alive_); });
    });
  }

  void Refuse(int status, const std::string& why) {
    log::Debug("bad HTTP request", {{"peer", peer_}, {"err", why}});
    HttpResponse r;
    r.status = status;
    r.body = why + "\n";
    head_ = false;
    Write(std::move(r), false);
  }

  void Write(HttpResponse r, bool keep_alive) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(r.status));
    res->set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res->insert(k, v);
    res->keep_alive(keep_alive);
    if (head_) {
      res->content_length(r.body.size());  // what GET would send; no body
    } else {
      res->body() = std::move(r.body);
      res->prepare_payload();
    }
    Lowest().expires_after(impl_.options.write_timeout);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        if (!res->keep_alive()) return self->Shutdown();
                        self->WaitForNext();
                      });
  }

  void Shutdown() {
    if constexpr (kTls) {
      Lowest().expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->Close(); });
    } else {
      beast::error_code ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      Close();
    }
  }

  void Close() {
    beast::error_code ignored;
    Lowest().socket().close(ignored);
  }

  Stream stream_;
  HttpServer::Impl& impl_;
  std::string peer_;
  std::shared_ptr<ssl::context> tls_;  // keeps the context of this connection
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = false;
  bool head_ = false;
};

}  // namespace

Result<Ok> HttpServer::Impl::LoadWeb(bool initial) {
  const std::string& path = options.web_config_file;
  auto cfg = LoadWebConfig(path);
  // The files it names are watched too: a renewed certificate is picked up.
  std::vector<std::pair<std::string, FileStamp>> files = {{path, StampOf(path)}};
  if (cfg && cfg->tls) {
    for (const std::string* f : {&cfg->tls->cert_file, &cfg->tls->key_file,
                                 &cfg->tls->client_ca_file}) {
      if (!f->empty()) files.emplace_back(*f, StampOf(*f));
    }
  } else {
    for (size_t i = 1; i < watched.size(); ++i) files.push_back(watched[i]);
  }
  watched = std::move(files);
  if (!cfg) return cfg.error();
  if (!initial && cfg->tls.has_value() != tls_mode) {
    return Error{"web_config", path + ": switching between HTTP and HTTPS needs a restart"};
  }
  std::shared_ptr<ssl::context> ctx;
  if (cfg->tls) {
    auto native = BuildServerTlsContext(*cfg->tls);
    if (!native) return native.error();
    ctx = std::make_shared<ssl::context>(native->release());  // the context owns it now
  }
  if (initial) tls_mode = cfg->tls.has_value();
  {
    std::lock_guard lock(tls_mu);
    tls = std::move(ctx);
  }
  router->SetWebConfig(std::make_shared<const WebConfig>(std::move(cfg).value()));
  return Ok{};
}

void HttpServer::Impl::WatchWeb() {
  poll->expires_after(options.web_config_poll);
  poll->async_wait([this](beast::error_code ec) {
    if (ec) return;
    bool changed = false;
    for (const auto& [file, stamp] : watched) changed = changed || StampOf(file) != stamp;
    if (changed) {
      // Off the I/O threads: reading files and keys.
      net::post(heavy, [this] {
        auto r = LoadWeb(false);
        if (r) {
          log::Info("web config reloaded", {{"file", options.web_config_file}});
        } else {
          log::Error("web config reload failed, keeping the last good one",
                     {{"file", options.web_config_file}, {"err", r.error().detail}});
        }
        net::post(ioc, [this] { WatchWeb(); });
      });
      return;
    }
    WatchWeb();
  });
}

void HttpServer::Impl::Accept(std::shared_ptr<tcp::acceptor> acceptor) {
  const auto& foreign = options.connection_loops;
  const unsigned i = next_loop.fetch_add(1);
  net::io_context& loop = foreign.empty() ? *loops[i % loops.size()] : *foreign[i % foreign.size()];
  acceptor->async_accept(loop, [this, acceptor](beast::error_code ec,
                                                                  tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;  // stopping
    if (ec) {
      // Out of descriptors, most likely: wait a little, never spin.
      log::Warn("cannot accept a connection", {{"err", ec.message()}});
      auto t = std::make_shared<net::steady_timer>(ioc, std::chrono::milliseconds(100));
      t->async_wait([this, acceptor, t](beast::error_code) { Accept(acceptor); });
      return;
    }
    OnAccept(std::move(socket));
    Accept(acceptor);
  });
}

void HttpServer::Impl::OnAccept(tcp::socket socket) {
  if (connections.fetch_add(1) >= options.max_connections) {
    connections.fetch_sub(1);
    beast::error_code ignored;
    socket.close(ignored);
    return;
  }
  beast::error_code ec;
  const tcp::endpoint remote = socket.remote_endpoint(ec);
  std::string peer = ec ? "?" : (remote.address().is_v6() ? "[" + remote.address().to_string() + "]"
                                                          : remote.address().to_string()) +
                                    ":" + std::to_string(remote.port());
  socket.set_option(tcp::no_delay(true), ec);
  if (tls_mode) {
    auto ctx = CurrentTls();
    TlsStream stream(beast::tcp_stream(std::move(socket)), *ctx);
    std::make_shared<Session<TlsStream>>(std::move(stream), *this, std::move(peer), ctx)->Start();
  } else {
    std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), *this,
                                                 std::move(peer), nullptr)
        ->Start();
  }
}

HttpServer::HttpServer(const ResultStore& store, const Collector& collector, HttpHooks hooks,
                       RequestStats* stats)
    : impl_(std::make_unique<Impl>(store, collector, std::move(hooks), stats)) {}

HttpServer::~HttpServer() {
  Impl& m = *impl_;
  // /probe requests in flight answer through the router: let them finish
  // (each is bounded by its timeout) before it goes.
  for (int i = 0; i < 300 && m.router && m.router->probes_in_flight() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // No new connections; every open one closed on its own loop. Requests
  // being rendered finish on the pools and find their connection closed.
  auto close_acceptors = [&m] {
    for (auto& a : m.acceptors) {
      beast::error_code ignored;
      a->close(ignored);
    }
  };
  if (m.threads.empty()) {
    close_acceptors();
  } else {
    std::promise<void> closed;
    net::post(m.ioc, [&] {
      close_acceptors();
      closed.set_value();
    });
    closed.get_future().wait();
  }
  {
    std::lock_guard lock(m.live_mu);
    for (SessionBase* s : m.live) s->Abort();
  }
  m.auth.join();
  m.heavy.join();
  // Sessions reference this object: none may outlive it. On our own loops
  // a stop ends them; connection_loops keep running, so wait for the last
  // (each handler still queued runs once, with an error, and lets go).
  const bool own = m.options.connection_loops.empty();
  for (int i = 0; m.connections.load() > 0 && (!own || i < 200); ++i) {
    if (i > 0 && i % 100 == 0) {
      log::Warn("waiting for HTTP connections to close",
                {{"open", std::to_string(m.connections.load())}});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& loop : m.loops) loop->stop();
  for (auto& t : m.threads) t.join();
}

Result<Ok> HttpServer::Start(const HttpServerOptions& options) {
  Impl& m = *impl_;
  m.options = options;
  m.router = std::make_unique<Router>(
      m.store, m.collector, m.hooks, options.router, m.stats,
      [&m](std::function<void()> task) { net::post(m.heavy, std::move(task)); },
      [&m](std::function<void()> task) { net::post(m.auth, std::move(task)); });
  if (!options.web_config_file.empty()) {
    auto loaded = m.LoadWeb(true);
    if (!loaded) return loaded;
  }
  if (options.listen_addresses.empty()) return Error{"listen", "no listen address"};
  for (const std::string& address : options.listen_addresses) {
    auto la = ParseListenAddress(address);
    if (!la) return la.error();
    std::vector<tcp::endpoint> endpoints;
    beast::error_code ec;
    if (la->host.empty()) {
      endpoints.emplace_back(net::ip::address_v6::any(), la->port);  // IPv6 and IPv4 at once
    } else if (auto ip = net::ip::make_address(la->host, ec); !ec) {
      endpoints.emplace_back(ip, la->port);
    } else {
      tcp::resolver resolver(m.ioc);
      auto results = resolver.resolve(la->host, std::to_string(la->port), ec);
      if (ec || results.empty()) {
        return Error{"listen", "--web.listen-address=" + address + ": cannot resolve " +
                                   la->host + ": " + ec.message()};
      }
      endpoints.push_back(results.begin()->endpoint());  // the first, as Go's net.Listen
    }
    for (tcp::endpoint ep : endpoints) {
      auto acceptor = std::make_shared<tcp::acceptor>(m.ioc);
      acceptor->open(ep.protocol(), ec);
      if (ec && la->host.empty()) {  // no IPv6 on this host: every IPv4 interface
        ep = tcp::endpoint(net::ip::address_v4::any(), la->port);
        ec.clear();
        acceptor->open(ep.protocol(), ec);
      }
      if (!ec && ep.address().is_v6()) {
        acceptor->set_option(net::ip::v6_only(!la->host.empty()), ec);
      }
      if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
      if (!ec) acceptor->bind(ep, ec);
      if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
      if (ec) {
        return Error{"listen", "cannot listen on " + address + ": " + ec.message()};
      }
      m.ports.push_back(acceptor->local_endpoint().port());
      m.acceptors.push_back(acceptor);
    }
  }
  for (auto& a : m.acceptors) m.Accept(a);
  if (!options.web_config_file.empty()) {
    m.poll.emplace(m.ioc);
    m.WatchWeb();
  }
  // With connection_loops the own loops only accept and watch: the first
  // does both, the others get no work and no thread.
  const size_t running = options.connection_loops.empty() ? m.loops.size() : 1;
  for (size_t i = 0; i < running; ++i) {
    m.threads.emplace_back([&loop = *m.loops[i]] {
      for (;;) {
        try {
          loop.run();
          return;
        } catch (const std::exception& e) {
          log::Error("uncaught exception in the HTTP server; continuing", {{"err", e.what()}});
        }
      }
    });
  }
  return Ok{};
}

std::vector<int> HttpServer::ports() const { return impl_->ports; }

int HttpServer::port() const { return impl_->ports.empty() ? 0 : impl_->ports.front(); }

}  // namespace ose
