#pragma once
// An immutable value shared between copies, copied only when written.

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace ose {

/// A T that copies share (one allocation, reference counted) until one of
/// them is written through Mut(), which then copies it first if another
/// holder shares it (copy on write). For the parts of a result that the
/// verification cache and every result of the same handshake input hold
/// alike (the leaf's names, the staple's verdict): one copy for a target's
/// cache entry and its latest result, instead of one each (~530 bytes a
/// target of a TLS fleet), and a cache hit copies pointers, not strings.
///
/// Reads never see null: an empty Shared reads as a value-initialised T
/// (a static one; no allocation). Reading from several threads is safe
/// (the T is never written while shared); Mut() and assignment are as safe
/// as writing any other member: not concurrently with reads of the same
/// Shared object.
template <typename T>
class Shared {
 public:
  Shared() = default;
  Shared(T value) : p_(std::make_shared<T>(std::move(value))) {}  // NOLINT: a value, as T
  /// Holds `p` as is (null reads as an empty T).
  explicit Shared(std::shared_ptr<T> p) : p_(std::move(p)) {}
  Shared& operator=(T value) {
    p_ = std::make_shared<T>(std::move(value));
    return *this;
  }

  const T& operator*() const { return p_ ? *p_ : Empty(); }
  const T* operator->() const { return &**this; }
  operator const T&() const { return **this; }  // NOLINT: reads as a const T&

  /// The value to write; copied first when another Shared holds it, so
  /// the others never see the change.
  T& Mut() {
    if (!p_) {
      p_ = std::make_shared<T>();
    } else if (p_.use_count() > 1) {
      p_ = std::make_shared<T>(std::as_const(*p_));
    }
    return *p_;
  }

  /// True when both hold the same allocation (tests: a cache hit shares).
  bool SharesWith(const Shared& other) const { return p_ != nullptr && p_ == other.p_; }

 private:
  static const T& Empty() {
    static const T empty{};
    return empty;
  }
  std::shared_ptr<T> p_;
};

/// The Shared string alive with this text, made if there is none: for the
/// strings a whole fleet repeats (an issuer's name, a chain verification
/// error), held once however many targets hold them. The pool keeps its
/// own reference, so a holder's Mut() always copies (the pooled text never
/// changes); texts no one else holds are dropped as the pool grows.
/// Thread-safe. Not for per-target text (a subject, a serial): the pool
/// would hold one entry per target.
Shared<std::string> InternedString(std::string_view text);

}  // namespace ose
