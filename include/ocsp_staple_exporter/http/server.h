#pragma once
// The HTTP side (civetweb): /metrics, /-/healthy, /-/ready and the landing
// page /, and POST /-/reload. Handlers run on civetweb's worker threads and read snapshots only.

#include <functional>
#include <memory>
#include <string>

#include "ocsp_staple_exporter/common/result.h"
#include "ocsp_staple_exporter/metrics/collector.h"
#include "ocsp_staple_exporter/scheduler/result_store.h"

namespace ose {

struct HttpServerOptions {
  /// Prometheus style: "HOST:PORT", "[V6]:PORT" or ":PORT" (all interfaces).
  /// Port 0 picks a free port (see HttpServer::port()).
  std::string listen_address = ":9830";
  int threads = 4;
};

/// Callbacks into the rest of the exporter; called on HTTP threads.
struct HttpHooks {
  std::function<bool()> ready;         ///< answers GET /-/ready
  std::function<Result<Ok>()> reload;  ///< POST /-/reload; error detail is returned as 500
};

class HttpServer {
 public:
  /// Borrowed objects must outlive the server.
  HttpServer(const ResultStore& store, const Collector& collector, HttpHooks hooks);
  ~HttpServer();  ///< stops serving, waits for handlers to finish
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and starts serving. Error reason "listen" when the address is
  /// malformed or cannot be bound.
  Result<Ok> Start(const HttpServerOptions& options);

  /// The bound port (after Start).
  int port() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// Escapes text for HTML element content and attribute values.
std::string HtmlEscape(std::string_view s);

}  // namespace ose
