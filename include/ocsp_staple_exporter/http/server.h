#pragma once
// The exporter's listener: HTTP/1.1 (keep-alive) with Boost.Beast on
// Boost.Asio event loops (its own, or connection_loops), plain or TLS
// (--web.config.file), on one or
// more addresses, ":PORT" on IPv4 and IPv6 at once. What is answered is the
// Router's (router.h); this room owns sockets, TLS, timeouts and limits:
//
// - a request must arrive whole within `request_timeout` of the connection
//   (or of the previous response), so a client sending one byte a second
//   is cut off, and it never holds a thread: every wait is asynchronous;
// - headers are limited to 16 KiB and bodies to 64 KiB;
// - at most `max_connections` are open at once (more are closed at once);
// - the web config file (and the certificate, key and CA files it names)
//   is re-read when it changes; a broken one keeps the last good one and is
//   logged. Switching between HTTP and HTTPS needs a restart.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/common/result.h"
#include "ocsp_staple_exporter/http/router.h"

namespace boost::asio {
class io_context;
}

namespace ose {

struct HttpServerOptions {
  /// Prometheus style, each "HOST:PORT", "[V6]:PORT" or ":PORT" (every
  /// interface, IPv4 and IPv6). Port 0 picks a free port (see ports()).
  std::vector<std::string> listen_addresses = {":9830"};
  /// exporter-toolkit web config (TLS, basic auth, headers); "" for none.
  std::string web_config_file;
  RouterOptions router;
  int max_connections = 1024;
  std::chrono::milliseconds request_timeout{15000};  ///< TLS handshake + one whole request
  std::chrono::milliseconds idle_timeout{120000};    ///< between requests of a connection
  std::chrono::milliseconds write_timeout{60000};    ///< one whole response
  std::chrono::milliseconds web_config_poll{2000};   ///< how often files are checked
  /// Event loops to serve connections on (round-robin), borrowed: each
  /// must be run by a thread of its own until the server is destroyed.
  /// The exporter passes the TLS prober's loops, so that a /probe runs on
  /// the loop that read its request and answers there, with no thread
  /// hop (TlsProber::ProbeAnyThread). Empty: the server's own two loops.
  /// Acceptors and the web config watch always run on the server's own.
  std::vector<boost::asio::io_context*> connection_loops;
};

class HttpServer {
 public:
  /// Borrowed objects must outlive the server. `stats` (may be null)
  /// receives every answered request.
  HttpServer(const ResultStore& store, const Collector& collector, HttpHooks hooks,
             RequestStats* stats = nullptr);
  /// Stops serving: waits for /probe requests in flight (each bounded by
  /// its timeout), closes every connection and waits until each is gone
  /// (on connection_loops, however long that takes), then its threads.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Reads the web config, binds every address and starts serving. Error
  /// reason "listen" when an address is malformed or cannot be bound,
  /// "web_config" when the web config is broken.
  Result<Ok> Start(const HttpServerOptions& options);

  /// The bound port of each listen address, in order (after Start).
  std::vector<int> ports() const;
  /// The first of ports().
  int port() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ose
