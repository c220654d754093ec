#include "ocsp_staple_exporter/http/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <strings.h>

#include <algorithm>
#include <memory>

namespace ose {
namespace {

// bcrypt (cost 10) of 24 random bytes nobody kept: checked for unknown users.
constexpr char kDecoyHash[] = "$2b$10$dRElcESVxL/loQzTtX8yDO4HAi.C3hxGJWJvDhToDk38yzKZftr8y";

// bcrypt check with the system's crypt library.
bool BcryptMatches(const std::string& password, const std::string& hash) {
  auto data = std::make_unique<crypt_data>();  // ~32 KiB: not on the stack
  const char* out = crypt_rn(password.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  if (out == nullptr || out[0] == '*') return false;
  const size_t n = std::char_traits<char>::length(out);
  return n == hash.size() && CRYPTO_memcmp(out, hash.data(), n) == 0;
}

}  // namespace

std::optional<std::pair<std::string, std::string>> ParseBasicAuthorization(
    std::string_view header) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() <= kScheme.size() || strncasecmp(header.data(), kScheme.data(), 6) != 0) {
    return std::nullopt;
  }
  std::string_view b64 = header.substr(kScheme.size());
  while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
  while (!b64.empty() && b64.back() == ' ') b64.remove_suffix(1);
  if (b64.empty() || b64.size() % 4 != 0 || b64.size() > 4096) return std::nullopt;
  std::string raw(b64.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes; base64 has at most two
  // padding characters, and only at the end (anything else is refused:
  // "z=======" once made the length wrap around).
  const size_t pad = b64.size() - std::min(b64.size(), b64.find_last_not_of('=') + 1);
  if (pad > 2 || b64.substr(0, b64.size() - pad).find('=') != std::string_view::npos) {
    return std::nullopt;
  }
  if (static_cast<size_t>(n) < pad) return std::nullopt;
  raw.resize(static_cast<size_t>(n) - pad);
  const size_t colon = raw.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(raw.substr(0, colon), raw.substr(colon + 1));
}

BasicAuthChecker::Attempt::~Attempt() { OPENSSL_cleanse(password.data(), password.size()); }

std::optional<BasicAuthChecker::Attempt> BasicAuthChecker::Prepare(
    const std::map<std::string, std::string>& users, std::string_view authorization) {
  auto creds = ParseBasicAuthorization(authorization);
  if (!creds) return std::nullopt;
  std::optional<Attempt> a(std::in_place);
  a->user = std::move(creds->first);
  a->password = std::move(creds->second);
  OPENSSL_cleanse(creds->second.data(), creds->second.size());
  const auto it = users.find(a->user);
  a->known = it != users.end();
  a->hash = a->known ? it->second : std::string(kDecoyHash);
  // The key: user, hash and password, NUL-separated, hashed.
  std::string material = a->user + '\0' + a->hash + '\0' + a->password;
  unsigned int len = 0;
  EVP_Digest(material.data(), material.size(), a->key.data(), &len, EVP_sha256(), nullptr);
  OPENSSL_cleanse(material.data(), material.size());
  return a;
}

std::optional<bool> BasicAuthChecker::Cached(const std::map<std::string, std::string>& users,
                                             std::string_view authorization) const {
  auto a = Prepare(users, authorization);
  if (!a) return false;
  std::lock_guard lock(mu_);
  auto c = cache_.find(a->key);
  if (c == cache_.end()) return std::nullopt;
  return c->second && a->known;
}

bool BasicAuthChecker::Check(const std::map<std::string, std::string>& users,
                             std::string_view authorization) {
  auto a = Prepare(users, authorization);
  if (!a) return false;
  {
    std::lock_guard lock(mu_);
    auto c = cache_.find(a->key);
    if (c != cache_.end()) return c->second && a->known;
  }
  bool ok = false;
  {
    std::lock_guard one(bcrypt_mu_);
    ok = BcryptMatches(a->password, a->hash);
  }
  std::lock_guard lock(mu_);
  ++checks_;
  if (cache_.size() >= kMaxCached) cache_.clear();
  cache_[a->key] = ok;
  return ok && a->known;
}

uint64_t BasicAuthChecker::bcrypt_checks() const {
  std::lock_guard lock(mu_);
  return checks_;
}

}  // namespace ose
