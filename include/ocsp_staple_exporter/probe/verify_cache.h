#pragma once
// Verify each distinct (staple, served chain, name) once. Staples change
// every few hours and probes run every minute, so the signature checks of
// the staple (RFC 6960 §4.2.2.2) and of the served chain (RFC 5280 §6) are
// kept, keyed by a SHA-256 digest of their DER inputs, and only the clock
// checks run again on a hit (VerdictAt: nextUpdate, RFC 6960 §4.2.2.1).
//
// An entry lives until the earliest instant its time-independent part
// could change: a served certificate's notAfter or future notBefore, the
// delegated responder certificate's notAfter, a not-yet-valid staple's
// thisUpdate - skew, and at most one hour. Thread-safe.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "ocsp_staple_exporter/common/shared.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"
#include "ocsp_staple_exporter/ocsp/response.h"

namespace ose {

/// SHA-256 of the inputs of one verification.
using InputDigest = std::array<uint8_t, 32>;

/// Incremental SHA-256 over length-prefixed fields, so ("ab","c") and
/// ("a","bc") differ. Uses one SHA-256 implementation fetched per thread
/// (no provider lookup per call). Not copyable.
class InputHasher {
 public:
  InputHasher();
  ~InputHasher();
  InputHasher(const InputHasher&) = delete;
  InputHasher& operator=(const InputHasher&) = delete;
  void Add(const void* data, size_t len);
  void Add(std::string_view s) { Add(s.data(), s.size()); }
  void AddInt(int64_t v) { Add(&v, sizeof v); }
  /// The digest of everything added; the hasher is spent afterwards.
  InputDigest Finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

/// What a TLS handshake's certificates and staple say, as verified once.
/// The fields mirror those of ProbeResult (see there for meanings).
/// The strings and the verdict are Shared: a cache hit hands the result
/// the entry's own (no copy), and the entry and the target's latest result
/// hold one allocation.
struct HandshakeFacts {
  Shared<std::string> subject;
  Shared<CertIdentity> identity;  ///< `ocsp_cert_info`
  bool must_staple = false;
  bool ocsp_url_present = false;
  bool crl_url_present = false;
  std::optional<int64_t> not_after;
  bool chain_verified = false;
  Shared<std::string> chain_error;
  bool name_matched = false;
  bool staple_present = false;
  Shared<OcspVerdict> verdict;  ///< as verified at the time of insertion
};

class VerificationCache {
 public:
  /// At most `capacity` entries; past it the oldest insertions go first.
  explicit VerificationCache(size_t capacity = 1 << 16);

  /// The facts for `key` as they read at Unix time `now` (the verdict
  /// through VerdictAt), or nullopt when absent or past its lifetime.
  std::optional<HandshakeFacts> Find(const InputDigest& key, int64_t now);

  /// Keeps `facts` for `key` until Unix time `expires_at`. `pin` is held
  /// as long as the entry (e.g. the ca_file pool whose address is part of
  /// the key, so that address cannot be reused by another pool).
  void Insert(const InputDigest& key, HandshakeFacts facts, int64_t expires_at,
              std::shared_ptr<const void> pin = nullptr);

  /// A new cap (the exporter's: twice its TLS targets, at least 65,536);
  /// a smaller one evicts the oldest at the next insertion.
  void SetCapacity(size_t capacity);

  size_t size() const;
  size_t capacity() const;
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  struct DigestHash {
    size_t operator()(const InputDigest& d) const {
      size_t h;
      static_assert(sizeof h <= sizeof(InputDigest));
      std::copy_n(d.data(), sizeof h, reinterpret_cast<uint8_t*>(&h));
      return h;
    }
  };
  struct Entry {
    HandshakeFacts facts;
    int64_t expires_at = 0;
    std::shared_ptr<const void> pin;
    uint64_t seq = 0;  ///< insertion number; matches one element of order_
  };
  size_t capacity_;  ///< guarded by mu_
  mutable std::mutex mu_;
  std::unordered_map<InputDigest, Entry, DigestHash> entries_;
  /// (key, seq) in insertion order, for eviction; elements whose seq no
  /// longer matches the entry are stale and skipped.
  std::deque<std::pair<InputDigest, uint64_t>> order_;
  uint64_t seq_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace ose
