#include "ocsp_staple_exporter/probe/verify_cache.h"

#include <openssl/evp.h>

#include <stdexcept>

#include "ocsp_staple_exporter/common/openssl_error.h"

namespace ose {
namespace {

struct MdFree {
  void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// SHA-256, fetched from the default provider once per thread.
const EVP_MD* Sha256() {
  thread_local std::unique_ptr<EVP_MD, MdFree> md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  return md.get();
}

}  // namespace

struct InputHasher::Ctx {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md{EVP_MD_CTX_new()};
};

InputHasher::InputHasher() : ctx_(std::make_unique<Ctx>()) {
  if (!ctx_->md || Sha256() == nullptr ||
      EVP_DigestInit_ex(ctx_->md.get(), Sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 unavailable: " + DrainOpenSslErrors());
  }
}

InputHasher::~InputHasher() = default;

void InputHasher::Add(const void* data, size_t len) {
  uint64_t n = len;
  EVP_DigestUpdate(ctx_->md.get(), &n, sizeof n);
  if (len > 0) EVP_DigestUpdate(ctx_->md.get(), data, len);
}

InputDigest InputHasher::Finish() {
  InputDigest d{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md.get(), d.data(), &len);
  return d;
}

VerificationCache::VerificationCache(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

std::optional<HandshakeFacts> VerificationCache::Find(const InputDigest& key, int64_t now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || now >= it->second.expires_at) {
    if (it != entries_.end()) entries_.erase(it);
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  HandshakeFacts out = it->second.facts;
  out.verdict = VerdictAt(std::move(out.verdict), now);
  return out;
}

void VerificationCache::Insert(const InputDigest& key, HandshakeFacts facts, int64_t expires_at,
                               std::shared_ptr<const void> pin) {
  std::lock_guard lock(mu_);
  const uint64_t seq = ++seq_;
  entries_.insert_or_assign(key, Entry{std::move(facts), expires_at, std::move(pin), seq});
  order_.emplace_back(key, seq);
  auto live = [&](const std::pair<InputDigest, uint64_t>& o) {
    auto e = entries_.find(o.first);
    return e != entries_.end() && e->second.seq == o.second;
  };
  while (entries_.size() > capacity_ && !order_.empty()) {
    if (live(order_.front())) entries_.erase(order_.front().first);
    order_.pop_front();
  }
  if (order_.size() > 2 * capacity_) {  // drop stale positions left by expiries
    std::deque<std::pair<InputDigest, uint64_t>> kept;
    for (const auto& o : order_) {
      if (live(o)) kept.push_back(o);
    }
    order_ = std::move(kept);
  }
}

void VerificationCache::SetCapacity(size_t capacity) {
  std::lock_guard lock(mu_);
  capacity_ = std::max<size_t>(capacity, 1);
}

size_t VerificationCache::capacity() const {
  std::lock_guard lock(mu_);
  return capacity_;
}

size_t VerificationCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

uint64_t VerificationCache::hits() const {
  std::lock_guard lock(mu_);
  return hits_;
}

uint64_t VerificationCache::misses() const {
  std::lock_guard lock(mu_);
  return misses_;
}

}  // namespace ose
