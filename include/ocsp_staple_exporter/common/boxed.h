#pragma once
// An optional value kept on the heap, for the sections of a struct that
// most instances lack.

#include <memory>
#include <optional>
#include <utility>

namespace ose {

/// What std::optional<T> offers (the part this code uses), at the size of
/// one pointer: empty costs 8 bytes instead of sizeof(T) + 8. Value
/// semantics: a copy copies the T (allocates), a move moves the pointer.
/// Owns its T; not thread-safe beyond what a const T is. Used where the
/// section is rare per instance and instances are many: ProbeResult's HTTP
/// exchange, CRL verdict and leaf CRL status (empty for every TLS target
/// without `revocation`, i.e. 104 + 280 + 168 bytes per target of a fleet).
template <typename T>
class Boxed {
 public:
  Boxed() = default;
  Boxed(std::nullopt_t) {}  // NOLINT(google-explicit-constructor): as std::optional
  Boxed(T value) : p_(std::make_unique<T>(std::move(value))) {}  // NOLINT: as std::optional
  Boxed(const Boxed& other) : p_(other.p_ ? std::make_unique<T>(*other.p_) : nullptr) {}
  Boxed(Boxed&&) noexcept = default;
  Boxed& operator=(const Boxed& other) {
    if (this != &other) p_ = other.p_ ? std::make_unique<T>(*other.p_) : nullptr;
    return *this;
  }
  Boxed& operator=(Boxed&&) noexcept = default;
  Boxed& operator=(std::nullopt_t) {
    p_.reset();
    return *this;
  }
  ~Boxed() = default;

  template <typename... Args>
  T& emplace(Args&&... args) {
    p_ = std::make_unique<T>(std::forward<Args>(args)...);
    return *p_;
  }
  void reset() { p_.reset(); }

  bool has_value() const { return p_ != nullptr; }
  explicit operator bool() const { return p_ != nullptr; }
  /// Undefined when empty, as std::optional's.
  T& operator*() { return *p_; }
  const T& operator*() const { return *p_; }
  T* operator->() { return p_.get(); }
  const T* operator->() const { return p_.get(); }

 private:
  std::unique_ptr<T> p_;
};

}  // namespace ose
