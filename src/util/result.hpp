// A value or an error message: the return type of every operation that can fail
// because of peer input or the environment (bad packets, unreadable key files).
// Broken local invariants abort instead (see PUNCH_ASSERT in util/assert.hpp).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace punch::util {

/// Why an operation failed, in a sentence fit for a user.
struct Error {
  std::string message;
};

/// Holds either a T or an Error; check ok() before value().
template <typename T>
class [[nodiscard]] Result {
 public:
  /// Success holding `v`.
  Result(T v) : v_(std::move(v)) {}  // NOLINT(google-explicit-constructor)
  /// Failure holding `e`.
  Result(Error e) : v_(std::move(e)) {}  // NOLINT(google-explicit-constructor)

  /// True when a value is held.
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  /// The value; only valid when ok().
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  /// The error; only valid when !ok().
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

/// Result of an operation with no value.
struct Unit {};
/// Success or an error message.
using Status = Result<Unit>;

/// Shorthand for a successful Status.
inline Status ok_status() { return Unit{}; }

}  // namespace punch::util
