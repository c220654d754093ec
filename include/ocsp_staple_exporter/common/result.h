#pragma once
// Result<T>: the one error style of the project for runtime work.
//
// A Result holds either a value or an Error (a bounded machine-readable
// reason plus a human-readable detail). Functions that can fail at runtime
// return Result; exceptions are used only at start-up (argument parsing).

#include <string>
#include <utility>
#include <variant>

namespace ose {

/// A failure: `reason` is a short, bounded token suitable as a metric label
/// value (e.g. "signature", "timeout"); `detail` is free text for logs.
struct Error {
  std::string reason;
  std::string detail;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}      // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  /// Precondition: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// Precondition: !ok().
  const Error& error() const { return std::get<Error>(v_); }

 private:
  std::variant<T, Error> v_;
};

/// Result of an operation without a value.
struct Ok {};

}  // namespace ose
