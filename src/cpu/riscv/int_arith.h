// The M extension's results that take more than one host instruction: the
// high halves of products, and divisions with their corner cases. Shared by
// the interpreter and the JIT.
#pragma once

#include <cstdint>

namespace vessel::cpu::riscv {

inline uint64_t mulh(int64_t a, int64_t b) {
  return static_cast<uint64_t>((static_cast<__int128>(a) * b) >> 64);
}
inline uint64_t mulhu(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(a) * b) >> 64);
}
inline uint64_t mulhsu(int64_t a, uint64_t b) {
  return static_cast<uint64_t>((static_cast<__int128>(a) * static_cast<__int128>(b)) >> 64);
}

// Division results for the corner cases (unprivileged spec table 8.1).
inline int64_t div_signed(int64_t a, int64_t b) {
  if (b == 0) return -1;
  if (a == INT64_MIN && b == -1) return a;
  return a / b;
}
inline int64_t rem_signed(int64_t a, int64_t b) {
  if (b == 0) return a;
  if (a == INT64_MIN && b == -1) return 0;
  return a % b;
}
inline uint64_t div_unsigned(uint64_t a, uint64_t b) {
  return b == 0 ? ~uint64_t{0} : a / b;
}
inline uint64_t rem_unsigned(uint64_t a, uint64_t b) {
  return b == 0 ? a : a % b;
}
inline uint32_t div_unsigned32(uint32_t a, uint32_t b) {
  return b == 0 ? ~uint32_t{0} : a / b;
}
inline uint32_t rem_unsigned32(uint32_t a, uint32_t b) {
  return b == 0 ? a : a % b;
}
inline int32_t div_signed32(int32_t a, int32_t b) {
  if (b == 0) return -1;
  if (a == INT32_MIN && b == -1) return a;
  return a / b;
}
inline int32_t rem_signed32(int32_t a, int32_t b) {
  if (b == 0) return a;
  if (a == INT32_MIN && b == -1) return 0;
  return a % b;
}

}  // namespace vessel::cpu::riscv
