// Errors are values: a Result<T> holds either a T or an Error with a message
// meant for a human ("disk.img: not a regular file"). No exceptions cross
// layer boundaries. An error may carry a number from the protocol of the
// layer that made it (the management daemon passes libvirt's error codes
// this way); 0 means none.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace vessel {

class Error {
 public:
  explicit Error(std::string message, int code = 0) : message_(std::move(message)), code_(code) {}
  const std::string& message() const { return message_; }
  int code() const { return code_; }

 private:
  std::string message_;
  int code_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : value_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(value_); }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<T>(value_); }
  T&& value() && { return std::get<T>(std::move(value_)); }
  const T& value() const& { return std::get<T>(value_); }
  T* operator->() { return &value(); }
  T& operator*() & { return value(); }
  const Error& error() const { return std::get<Error>(value_); }

 private:
  std::variant<T, Error> value_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

 private:
  Error error_{""};
  bool failed_ = false;
};

inline Result<void> Ok() {
  return {};
}

}  // namespace vessel

#define VESSEL_CONCAT_INNER(a, b) a##b
#define VESSEL_CONCAT(a, b) VESSEL_CONCAT_INNER(a, b)

// TRY(expr): return the error of a failed Result<...> from the enclosing function.
#define TRY(expr)                                                  \
  do {                                                             \
    auto&& vessel_try_result = (expr);                             \
    if (!vessel_try_result.ok()) return vessel_try_result.error(); \
  } while (0)

// TRY_ASSIGN(lhs, expr): on success move the value into lhs, else return the error.
#define TRY_ASSIGN(lhs, expr) TRY_ASSIGN_IMPL(VESSEL_CONCAT(vessel_try_, __LINE__), lhs, expr)
#define TRY_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                    \
  if (!tmp.ok()) return tmp.error();    \
  lhs = std::move(tmp).value()
