#pragma once
// Asynchronous name resolution for probes, with c-ares on the prober's
// asio::io_context: every query runs concurrently with every other, so one
// name whose DNS server never answers delays no other target (asio's own
// resolver runs getaddrinfo on one background thread per io_context, where
// a slow name stalls every probe queued behind it).
//
// - Per-query timeout: each try waits `try_timeout`, `tries` times per
//   server, then the query fails with reason "resolve".
// - Answers are cached for their TTL (RFC 1035 §3.2.1; the smallest TTL of
//   the answer, at most `max_ttl`); failures for `negative_ttl` (RFC 2308
//   §5), so a dead name does not send a query per probe.
// - The cache is bounded (DnsOptions::max_cache_entries, max_cache_bytes).
// - Concurrent queries for one name share one lookup.
// - /etc/hosts is read first, as the system resolver does ("files dns").
// - IP literals never query.

#include "ocsp_staple_exporter/common/asio.h"
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ocsp_staple_exporter/common/result.h"

namespace ose {

struct DnsOptions {
  /// Resolvers as "IP" or "IP:port" ("[v6]:port"); empty: /etc/resolv.conf.
  std::vector<std::string> servers;
  std::chrono::milliseconds try_timeout{2000};
  int tries = 2;
  std::chrono::seconds max_ttl{3600};
  std::chrono::seconds negative_ttl{5};
  /// Bounds of the answer cache, held even when every entry is unexpired
  /// (a /probe of a million distinct names): expired entries go first,
  /// then the least recently used.
  size_t max_cache_entries = 100000;
  size_t max_cache_bytes = 32u << 20;
};

class DnsResolver {
 public:
  /// Addresses in the order to try them (RFC 6724 sorting, as c-ares
  /// does), each with `port`; or an error whose detail names the host.
  using Callback = std::function<void(Result<std::vector<asio::ip::tcp::endpoint>>)>;

  /// Creates the c-ares channel on `io` (borrowed; must outlive this).
  /// Throws std::runtime_error when c-ares cannot start or a server entry
  /// is invalid (config validation rejects those first).
  DnsResolver(asio::io_context& io, DnsOptions options);
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  /// Resolves `host` (a name or an IP literal without brackets). `done`
  /// runs exactly once on the io_context's thread, never inside this call.
  /// Must be called on that thread.
  void Resolve(const std::string& host, uint16_t port, Callback done);

  /// Replaces the resolvers (a reload); entries as DnsOptions::servers,
  /// empty for /etc/resolv.conf's. Thread-safe: posted to the io_context.
  /// A change takes a new c-ares channel (c-ares 1.18 refuses new servers
  /// while queries are outstanding); queries under way move to it, and the
  /// change is logged. The same list again changes nothing. Cached answers
  /// stay until their TTL.
  void SetServers(std::vector<std::string> servers);

  /// Queries sent to DNS so far (not answered from the cache); for tests.
  uint64_t queries() const;

  /// Entries and bytes held in the answer cache. Call on the io_context's
  /// thread (or while it is not running); for tests.
  struct CacheSize {
    size_t entries = 0;
    size_t bytes = 0;
  };
  CacheSize cache_size() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ose
