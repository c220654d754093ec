#pragma once
// HTTP Basic authentication (RFC 7617) against bcrypt hashes, as
// exporter-toolkit's basic_auth_users: the hash is checked with the
// system's crypt library (libxcrypt's crypt_rn), one check at a time, and
// the outcome of each (user, hash, password) is cached, so a scrape does
// not pay bcrypt every time and a flood of wrong passwords costs one core
// at most. The cache keeps SHA-256 digests, never passwords.

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ose {

/// User and password of an Authorization header value "Basic BASE64";
/// nullopt when it is not one (scheme other than Basic, base64 that does
/// not decode, no ':'). The scheme is case-insensitive.
std::optional<std::pair<std::string, std::string>> ParseBasicAuthorization(
    std::string_view header);

class BasicAuthChecker {
 public:
  /// Cached outcomes kept at most (then the cache starts over).
  static constexpr size_t kMaxCached = 4096;

  /// True when `authorization` (the header value; empty when absent) names
  /// a user of `users` (name -> bcrypt hash) with its password. An unknown
  /// user is checked against a fixed hash too, so timing does not tell
  /// which users exist. Thread-safe.
  bool Check(const std::map<std::string, std::string>& users, std::string_view authorization);

  /// What Check would answer when that needs no bcrypt (the outcome is
  /// cached, or the header is not Basic credentials at all); nullopt when
  /// only a bcrypt check can tell. Cheap enough for an I/O thread.
  std::optional<bool> Cached(const std::map<std::string, std::string>& users,
                             std::string_view authorization) const;

  /// bcrypt checks run so far (cache misses); for tests.
  uint64_t bcrypt_checks() const;

 private:
  using Digest = std::array<uint8_t, 32>;
  /// The parsed credentials and their cache key; nullopt when the header
  /// holds none.
  struct Attempt {
    std::string user, password, hash;
    bool known = false;
    Digest key{};
    ~Attempt();
  };
  static std::optional<Attempt> Prepare(const std::map<std::string, std::string>& users,
                                        std::string_view authorization);
  mutable std::mutex mu_;      ///< guards cache_ and checks_
  std::mutex bcrypt_mu_;       ///< one bcrypt at a time
  std::map<Digest, bool> cache_;
  uint64_t checks_ = 0;
};

}  // namespace ose
