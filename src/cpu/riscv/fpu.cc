// RISC-V F and D computation (unprivileged spec ch. 11 "F", ch. 12 "D").
//
// Two exact paths produce every rounded result:
//  - the host's IEEE 754 unit, for RNE/RTZ/RDN/RUP arithmetic (add, sub,
//    mul, div, sqrt, fused multiply-add, fcvt.s.d): the host rounding mode is
//    set for the one operation and the host flags are read back. x86 SSE, like
//    RISC-V, detects tininess after rounding, so its flags carry over; only
//    NaN results are replaced by the canonical NaN (spec 11.3).
//  - an integer "round and pack" (round_pack) fed with the exact result as a
//    128-bit significand, for RMM, which has no host mode, and for everything
//    whose rules differ from the host's anyway (conversions from and to
//    integers with RISC-V saturation).
// Everything else (sign injection, min/max, compares, fclass, moves) is bit
// manipulation.
#include "cpu/riscv/fpu.h"

#include <algorithm>
#include <bit>
#include <cfenv>
#include <cmath>
#include <optional>

#if defined(__x86_64__) && !defined(VESSEL_FPU_PORTABLE_FENV)
#include <xmmintrin.h>
#define VESSEL_FPU_MXCSR 1
#endif

namespace vessel::cpu::riscv::fpu {
namespace {

__extension__ typedef unsigned __int128 u128;

// fcsr.fflags bits (spec 11.2, table 11.2).
enum Flag : uint8_t { kNX = 1, kUF = 2, kOF = 4, kDZ = 8, kNV = 16 };

// Rounding modes as encoded in rm and frm (spec 11.2, table 11.1).
enum class Rm : uint8_t { kRne = 0, kRtz = 1, kRdn = 2, kRup = 3, kRmm = 4 };
constexpr unsigned kRmDynamic = 7;

// spec 11.2: rm values 5 and 6 are reserved; DYN selects frm, and frm values
// 5-7 make every instruction that uses it illegal.
std::optional<Rm> resolve_rm(unsigned rm, uint8_t frm) {
  if (rm == kRmDynamic) rm = frm;
  if (rm > 4) return std::nullopt;
  return static_cast<Rm>(rm);
}

// ---------------------------------------------------------------------------
// Formats (IEEE 754 binary32 and binary64).

template <class FloatT, class BitsT, int kFractionBits>
struct Format {
  using Float = FloatT;
  using Bits = BitsT;
  static constexpr int kWidth = 8 * sizeof(Bits);
  static constexpr int kFrac = kFractionBits;  // precision p = kFrac + 1
  static constexpr int kBias = (1 << (kWidth - 2 - kFrac)) - 1;
  static constexpr int kEmin = 1 - kBias;
  static constexpr int kEmax = kBias;
  static constexpr Bits kSign = Bits{1} << (kWidth - 1);
  static constexpr Bits kFracMask = (Bits{1} << kFrac) - 1;
  static constexpr Bits kInf = ~kSign & ~kFracMask;
  static constexpr Bits kQuiet = Bits{1} << (kFrac - 1);
  static constexpr Bits kCanonicalNan = kInf | kQuiet;  // spec 11.3
  static constexpr Bits kMaxFinite = kInf - 1;

  static bool sign(Bits v) { return (v & kSign) != 0; }
  static bool is_nan(Bits v) { return (v & ~kSign) > kInf; }
  static bool is_snan(Bits v) { return is_nan(v) && (v & kQuiet) == 0; }
  static bool is_inf(Bits v) { return (v & ~kSign) == kInf; }
  static bool is_zero(Bits v) { return (v & ~kSign) == 0; }
  static Bits zero(bool negative) { return negative ? kSign : 0; }
  static Bits inf(bool negative) { return zero(negative) | kInf; }
};
using Single = Format<float, uint32_t, 23>;
using Double = Format<double, uint64_t, 52>;

// spec 12.2: a single held in a 64-bit register must be NaN-boxed (upper 32
// bits all ones); any other value reads as the canonical NaN.
template <class F>
typename F::Bits read_f(const Context& ctx, unsigned r) {
  if constexpr (F::kWidth == 32) {
    const uint64_t v = ctx.f[r];
    return (v >> 32) == 0xffffffffu ? static_cast<uint32_t>(v) : F::kCanonicalNan;
  } else {
    return ctx.f[r];
  }
}

template <class F>
void write_f(Context& ctx, unsigned r, typename F::Bits v) {
  if constexpr (F::kWidth == 32) {
    ctx.f[r] = 0xffffffff00000000u | v;
  } else {
    ctx.f[r] = v;
  }
}

void write_x(Context& ctx, unsigned r, uint64_t v) {
  if (r != 0) ctx.x[r] = v;
}

uint64_t sign_extend_32(uint64_t v) {
  return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v)));
}

// ---------------------------------------------------------------------------
// Exact rounding of a wide significand.

int msb(u128 v) {
  const auto hi = static_cast<uint64_t>(v >> 64);
  if (hi != 0) return 127 - std::countl_zero(hi);
  return 63 - std::countl_zero(static_cast<uint64_t>(v));
}

struct Rounded {
  u128 value;
  bool inexact;
};

// Rounds (sig + sticky * tiny) / 2^shift to an integer magnitude; `sign` is
// the sign of the whole number (it matters for RDN and RUP).
Rounded round_shift(u128 sig, bool sticky, int shift, bool sign, Rm rm) {
  u128 kept;
  bool half;
  bool below;
  if (shift <= 0) {
    kept = sig << -shift;
    half = false;
    below = sticky;
  } else if (shift > 128) {
    kept = 0;
    half = false;
    below = sig != 0 || sticky;
  } else {
    kept = shift == 128 ? 0 : sig >> shift;
    half = ((sig >> (shift - 1)) & 1) != 0;
    below = (sig & ((u128{1} << (shift - 1)) - 1)) != 0 || sticky;
  }
  bool up = false;
  switch (rm) {
    case Rm::kRne:
      up = half && (below || (kept & 1) != 0);
      break;
    case Rm::kRtz:
      up = false;
      break;
    case Rm::kRdn:
      up = sign && (half || below);
      break;
    case Rm::kRup:
      up = !sign && (half || below);
      break;
    case Rm::kRmm:
      up = half;
      break;
  }
  return {kept + (up ? 1 : 0), half || below};
}

// Packs the exact value (-1)^sign * (sig + sticky * tiny) * 2^exp, sig != 0,
// into format F: IEEE 754 7.4 overflow, 7.5 underflow with tininess detected
// after rounding (spec 11.4 "tininess is detected after rounding").
template <class F>
typename F::Bits round_pack(bool sign, int exp, u128 sig, bool sticky, Rm rm, uint8_t& flags) {
  using Bits = typename F::Bits;
  constexpr int kP = F::kFrac + 1;
  const int e = exp + msb(sig);  // value in [2^e, 2^(e+1))
  if (e < F::kEmin) {
    // Tiny if rounding to p bits with an unbounded exponent stays below 2^emin.
    const Rounded unbounded = round_shift(sig, sticky, e - (kP - 1) - exp, sign, rm);
    const bool carried = (unbounded.value >> kP) != 0;
    const bool tiny = e + (carried ? 1 : 0) < F::kEmin;
    const Rounded r = round_shift(sig, sticky, F::kEmin - (kP - 1) - exp, sign, rm);
    if (r.inexact) flags |= tiny ? (kUF | kNX) : kNX;
    // r.value <= 2^(p-1); exactly 2^(p-1) is the smallest normal and encodes as one.
    return F::zero(sign) | static_cast<Bits>(r.value);
  }
  Rounded r = round_shift(sig, sticky, e - (kP - 1) - exp, sign, rm);
  int result_e = e;
  if ((r.value >> kP) != 0) {
    r.value >>= 1;
    ++result_e;
  }
  if (result_e > F::kEmax) {
    flags |= kOF | kNX;
    const bool to_inf =
        rm == Rm::kRne || rm == Rm::kRmm || (rm == Rm::kRup && !sign) || (rm == Rm::kRdn && sign);
    return F::zero(sign) | (to_inf ? F::kInf : F::kMaxFinite);
  }
  if (r.inexact) flags |= kNX;
  return F::zero(sign) | (static_cast<Bits>(result_e + F::kBias) << F::kFrac) |
         (static_cast<Bits>(r.value) & F::kFracMask);
}

// A finite nonzero value (-1)^sign * sig * 2^exp.
struct Term {
  bool sign;
  int exp;
  u128 sig;
};

template <class F>
Term unpack(typename F::Bits v) {
  const int biased = static_cast<int>((v & ~F::kSign) >> F::kFrac);
  const uint64_t frac = v & F::kFracMask;
  if (biased == 0) {  // subnormal: normalize so that bit kFrac is set
    const int shift = F::kFrac - (63 - std::countl_zero(frac));
    return {F::sign(v), F::kEmin - F::kFrac - shift, u128{frac} << shift};
  }
  return {F::sign(v), biased - F::kBias - F::kFrac, u128{frac | (uint64_t{1} << F::kFrac)}};
}

// Shifts t so that its exponent becomes `base`; bits shifted out on the right
// are jammed into bit 0, which keeps the rounding exact because the callers
// leave at least two bits between bit 0 and the rounding position.
u128 align(const Term& t, int base) {
  const int shift = t.exp - base;
  if (shift >= 0) return t.sig << shift;
  if (-shift >= 128) return 1;
  const u128 kept = t.sig >> -shift;
  return kept | ((kept << -shift) != t.sig ? 1 : 0);
}

// Rounded sum of two nonzero exact terms (significands below 2^107).
template <class F>
typename F::Bits sum_terms(const Term& a, const Term& b, Rm rm, uint8_t& flags) {
  // Align the larger magnitude to bit 126: an operand that then loses bits on
  // the right is 2^20 times smaller, so the result keeps >= 125 bits.
  const int base = std::max(a.exp + msb(a.sig), b.exp + msb(b.sig)) - 126;
  const u128 x = align(a, base);
  const u128 y = align(b, base);
  if (a.sign == b.sign) return round_pack<F>(a.sign, base, x + y, false, rm, flags);
  // IEEE 754 6.3: an exact zero sum is +0, or -0 when rounding down.
  if (x == y) return F::zero(rm == Rm::kRdn);
  if (x > y) return round_pack<F>(a.sign, base, x - y, false, rm, flags);
  return round_pack<F>(b.sign, base, y - x, false, rm, flags);
}

// ---------------------------------------------------------------------------
// Software arithmetic, exact in every rounding mode (used for RMM).

enum class Arith : uint8_t { kAdd, kSub, kMul, kDiv, kSqrt, kFma };

// NaN operands: the result is the canonical NaN; signaling ones raise NV.
template <class F, class... Bits>
bool any_nan(uint8_t& flags, Bits... v) {
  if ((F::is_snan(v) || ...)) flags |= kNV;
  return (F::is_nan(v) || ...);
}

template <class F>
bool inf_times_zero(typename F::Bits a, typename F::Bits b) {
  return (F::is_inf(a) && F::is_zero(b)) || (F::is_zero(a) && F::is_inf(b));
}

template <class F>
typename F::Bits soft_add(typename F::Bits a, typename F::Bits b, Rm rm, uint8_t& flags) {
  if (any_nan<F>(flags, a, b)) return F::kCanonicalNan;
  if (F::is_inf(a) || F::is_inf(b)) {
    if (F::is_inf(a) && F::is_inf(b) && F::sign(a) != F::sign(b)) {
      flags |= kNV;
      return F::kCanonicalNan;
    }
    return F::is_inf(a) ? a : b;
  }
  if (F::is_zero(a) && F::is_zero(b)) {
    return F::sign(a) == F::sign(b) ? a : F::zero(rm == Rm::kRdn);
  }
  if (F::is_zero(a)) return b;
  if (F::is_zero(b)) return a;
  return sum_terms<F>(unpack<F>(a), unpack<F>(b), rm, flags);
}

template <class F>
typename F::Bits soft_mul(typename F::Bits a, typename F::Bits b, Rm rm, uint8_t& flags) {
  if (any_nan<F>(flags, a, b)) return F::kCanonicalNan;
  const bool sign = F::sign(a) != F::sign(b);
  if (inf_times_zero<F>(a, b)) {
    flags |= kNV;
    return F::kCanonicalNan;
  }
  if (F::is_inf(a) || F::is_inf(b)) return F::inf(sign);
  if (F::is_zero(a) || F::is_zero(b)) return F::zero(sign);
  const Term x = unpack<F>(a);
  const Term y = unpack<F>(b);
  return round_pack<F>(sign, x.exp + y.exp, x.sig * y.sig, false, rm, flags);
}

template <class F>
typename F::Bits soft_div(typename F::Bits a, typename F::Bits b, Rm rm, uint8_t& flags) {
  if (any_nan<F>(flags, a, b)) return F::kCanonicalNan;
  const bool sign = F::sign(a) != F::sign(b);
  if ((F::is_inf(a) && F::is_inf(b)) || (F::is_zero(a) && F::is_zero(b))) {
    flags |= kNV;
    return F::kCanonicalNan;
  }
  if (F::is_inf(a)) return F::inf(sign);
  if (F::is_inf(b) || F::is_zero(a)) return F::zero(sign);
  if (F::is_zero(b)) {
    flags |= kDZ;
    return F::inf(sign);
  }
  const Term x = unpack<F>(a);
  const Term y = unpack<F>(b);
  // Both significands are normalized to p bits, so the quotient has >= 64 bits.
  const u128 num = x.sig << 64;
  return round_pack<F>(sign, x.exp - y.exp - 64, num / y.sig, num % y.sig != 0, rm, flags);
}

template <class F>
typename F::Bits soft_sqrt(typename F::Bits a, Rm rm, uint8_t& flags) {
  if (any_nan<F>(flags, a)) return F::kCanonicalNan;
  if (F::is_zero(a)) return a;  // sqrt(-0) = -0
  if (F::sign(a)) {
    flags |= kNV;
    return F::kCanonicalNan;
  }
  if (F::is_inf(a)) return a;
  const Term x = unpack<F>(a);
  // Scale to about 2^120 with an even exponent: the root then has ~60 bits.
  int shift = 120 - F::kFrac;
  if (((x.exp - shift) & 1) != 0) ++shift;
  const u128 n = x.sig << shift;
  u128 root = 0;
  for (int bit = 63; bit >= 0; --bit) {
    const u128 candidate = root | (u128{1} << bit);
    if (candidate * candidate <= n) root = candidate;
  }
  return round_pack<F>(false, (x.exp - shift) / 2, root, root * root != n, rm, flags);
}

// a * b + c with a single rounding.
template <class F>
typename F::Bits soft_fma(typename F::Bits a, typename F::Bits b, typename F::Bits c, Rm rm,
                          uint8_t& flags) {
  // spec 11.6: inf * 0 raises NV even when c is a quiet NaN; IEEE 754 leaves
  // that case to the implementation.
  if (inf_times_zero<F>(a, b)) flags |= kNV;
  if (any_nan<F>(flags, a, b, c) || inf_times_zero<F>(a, b)) return F::kCanonicalNan;
  const bool product_sign = F::sign(a) != F::sign(b);
  if (F::is_inf(a) || F::is_inf(b)) {
    if (F::is_inf(c) && F::sign(c) != product_sign) {
      flags |= kNV;
      return F::kCanonicalNan;
    }
    return F::inf(product_sign);
  }
  if (F::is_inf(c)) return c;
  if (F::is_zero(a) || F::is_zero(b)) {
    if (!F::is_zero(c)) return c;
    return product_sign == F::sign(c) ? c : F::zero(rm == Rm::kRdn);
  }
  const Term x = unpack<F>(a);
  const Term y = unpack<F>(b);
  const Term product{product_sign, x.exp + y.exp, x.sig * y.sig};
  if (F::is_zero(c)) return round_pack<F>(product.sign, product.exp, product.sig, false, rm, flags);
  return sum_terms<F>(product, unpack<F>(c), rm, flags);
}

template <class F>
typename F::Bits soft_arith(Arith op, typename F::Bits a, typename F::Bits b, typename F::Bits c,
                            Rm rm, uint8_t& flags) {
  switch (op) {
    case Arith::kAdd:
      return soft_add<F>(a, b, rm, flags);
    case Arith::kSub:
      return soft_add<F>(a, b ^ F::kSign, rm, flags);
    case Arith::kMul:
      return soft_mul<F>(a, b, rm, flags);
    case Arith::kDiv:
      return soft_div<F>(a, b, rm, flags);
    case Arith::kSqrt:
      return soft_sqrt<F>(a, rm, flags);
    case Arith::kFma:
      return soft_fma<F>(a, b, c, rm, flags);
  }
  return F::kCanonicalNan;
}

// Conversion between the two formats (fcvt.s.d, fcvt.d.s).
template <class To, class From>
typename To::Bits soft_convert(typename From::Bits a, Rm rm, uint8_t& flags) {
  if (any_nan<From>(flags, a)) return To::kCanonicalNan;
  if (From::is_inf(a)) return To::inf(From::sign(a));
  if (From::is_zero(a)) return To::zero(From::sign(a));
  const Term t = unpack<From>(a);
  return round_pack<To>(t.sign, t.exp, t.sig, false, rm, flags);
}

// ---------------------------------------------------------------------------
// Host arithmetic for the four modes the host has.

// Passes v through a register the compiler cannot see into, so that the FP
// operation between two of these can neither be folded nor moved across the
// switch of the host rounding mode (-frounding-math alone does not promise it).
template <class T>
T opaque(T v) {
#if defined(__x86_64__)
  asm volatile("" : "+x"(v)::"memory");
#elif defined(__aarch64__)
  asm volatile("" : "+w"(v)::"memory");
#else
  asm volatile("" : "+m"(v)::"memory");
#endif
  return v;
}

#if defined(VESSEL_FPU_MXCSR)
// Sets MXCSR (Intel SDM vol. 1, 10.2.3) for one operation: rounding control in
// bits 13-14, all exceptions masked, flush-to-zero and denormals-are-zero off
// (the guest needs IEEE subnormals whatever the host process chose), flags
// clear. The previous MXCSR, host flags included, comes back on destruction.
// LDMXCSR is slow, so it is skipped when MXCSR already holds the wanted value:
// in the common case (host in RNE with clear flags, guest op in RNE raising
// nothing) no write happens at all.
class HostRounding {
 public:
  explicit HostRounding(Rm rm) : saved_(_mm_getcsr()) {
    static constexpr uint32_t kControl[] = {0x0000, 0x6000, 0x2000, 0x4000};  // RNE RTZ RDN RUP
    const uint32_t wanted = 0x1f80u | kControl[static_cast<unsigned>(rm)];
    if (saved_ != wanted) _mm_setcsr(wanted);
  }
  ~HostRounding() {
    if (after_ != saved_) _mm_setcsr(saved_);
  }
  HostRounding(const HostRounding&) = delete;
  HostRounding& operator=(const HostRounding&) = delete;

  // Reads the flags raised since construction; call once, after the operation.
  uint8_t flags() {
    after_ = _mm_getcsr();  // IE DE ZE OE UE PE = bits 0..5; DE is not IEEE
    const uint32_t s = after_;
    return static_cast<uint8_t>(((s & 0x01) != 0 ? kNV : 0) | ((s & 0x04) != 0 ? kDZ : 0) |
                                ((s & 0x08) != 0 ? kOF : 0) | ((s & 0x10) != 0 ? kUF : 0) |
                                ((s & 0x20) != 0 ? kNX : 0));
  }

 private:
  uint32_t saved_;
  uint32_t after_ = ~0u;  // forces the restore if flags() was not called
};
#else
// The same through <cfenv>, restoring the host's mode and flags afterwards.
class HostRounding {
 public:
  explicit HostRounding(Rm rm) : saved_mode_(std::fegetround()) {
    static constexpr int kModes[] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};
    std::fegetexceptflag(&saved_flags_, FE_ALL_EXCEPT);
    std::fesetround(kModes[static_cast<unsigned>(rm)]);
    std::feclearexcept(FE_ALL_EXCEPT);
  }
  ~HostRounding() {
    std::fesetexceptflag(&saved_flags_, FE_ALL_EXCEPT);
    std::fesetround(saved_mode_);
  }
  HostRounding(const HostRounding&) = delete;
  HostRounding& operator=(const HostRounding&) = delete;

  uint8_t flags() {
    const int s = std::fetestexcept(FE_ALL_EXCEPT);
    return static_cast<uint8_t>(
        ((s & FE_INVALID) != 0 ? kNV : 0) | ((s & FE_DIVBYZERO) != 0 ? kDZ : 0) |
        ((s & FE_OVERFLOW) != 0 ? kOF : 0) | ((s & FE_UNDERFLOW) != 0 ? kUF : 0) |
        ((s & FE_INEXACT) != 0 ? kNX : 0));
  }

 private:
  int saved_mode_;
  std::fexcept_t saved_flags_;
};
#endif

template <class F>
typename F::Bits host_arith(Arith op, typename F::Bits a, typename F::Bits b, typename F::Bits c,
                            Rm rm, uint8_t& flags) {
  using T = typename F::Float;
  typename F::Bits out;
  {
    HostRounding host(rm);
    const T x = opaque(std::bit_cast<T>(a));
    const T y = opaque(std::bit_cast<T>(b));
    T r{};
    switch (op) {
      case Arith::kAdd:
        r = x + y;
        break;
      case Arith::kSub:
        r = x - y;
        break;
      case Arith::kMul:
        r = x * y;
        break;
      case Arith::kDiv:
        r = x / y;
        break;
      case Arith::kSqrt:
        r = std::sqrt(x);
        break;
      case Arith::kFma:
        r = std::fma(x, y, opaque(std::bit_cast<T>(c)));
        break;
    }
    r = opaque(r);
    flags |= host.flags();
    out = std::bit_cast<typename F::Bits>(r);
  }
  return F::is_nan(out) ? F::kCanonicalNan : out;  // spec 11.3: no NaN payload propagation
}

template <class F>
typename F::Bits arith(Arith op, typename F::Bits a, typename F::Bits b, typename F::Bits c, Rm rm,
                       uint8_t& flags) {
  // Host FMA units differ on inf * 0 + qNaN; see soft_fma.
  if (op == Arith::kFma && inf_times_zero<F>(a, b)) flags |= kNV;
  if (rm == Rm::kRmm) return soft_arith<F>(op, a, b, c, rm, flags);
  return host_arith<F>(op, a, b, c, rm, flags);
}

uint32_t narrow(uint64_t a, Rm rm, uint8_t& flags) {
  if (rm == Rm::kRmm) return soft_convert<Single, Double>(a, rm, flags);
  uint32_t out;
  {
    HostRounding host(rm);
    const float r = opaque(static_cast<float>(opaque(std::bit_cast<double>(a))));
    flags |= host.flags();
    out = std::bit_cast<uint32_t>(r);
  }
  return Single::is_nan(out) ? Single::kCanonicalNan : out;
}

// ---------------------------------------------------------------------------
// Conversions with integers (spec 11.7, table 11.4 for invalid inputs).

enum class IntKind : uint8_t { kW, kWu, kL, kLu };  // = rs2 of the fcvt encodings

struct IntLimits {
  uint64_t max_positive;   // largest magnitude of a positive result
  uint64_t max_negative;   // largest magnitude of a negative result
  uint64_t saturate_high;  // result for +inf, too large, NaN (as written to rd)
  uint64_t saturate_low;   // result for -inf, too small
};
constexpr IntLimits kIntLimits[] = {
    {0x7fffffff, 0x80000000, 0x7fffffff, 0xffffffff80000000},
    {0xffffffff, 0, ~uint64_t{0}, 0},  // fcvt.wu sign-extends its 32-bit result
    {0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000},
    {~uint64_t{0}, 0, ~uint64_t{0}, 0},
};

template <class F>
uint64_t to_int(typename F::Bits a, IntKind kind, Rm rm, uint8_t& flags) {
  const IntLimits& lim = kIntLimits[static_cast<unsigned>(kind)];
  if (F::is_nan(a)) {
    flags |= kNV;
    return lim.saturate_high;
  }
  const bool sign = F::sign(a);
  if (F::is_zero(a)) return 0;
  bool in_range = false;
  Rounded r{0, false};
  if (!F::is_inf(a)) {
    const Term t = unpack<F>(a);
    if (t.exp + msb(t.sig) < 64) {  // below 2^64: the rounded magnitude fits 65 bits
      r = round_shift(t.sig, false, -t.exp, sign, rm);
      in_range = r.value <= (sign ? lim.max_negative : lim.max_positive);
    }
  }
  if (!in_range) {
    flags |= kNV;  // invalid, not inexact
    return sign ? lim.saturate_low : lim.saturate_high;
  }
  if (r.inexact) flags |= kNX;
  const uint64_t magnitude = static_cast<uint64_t>(r.value);
  const uint64_t value = sign ? ~magnitude + 1 : magnitude;
  return kind == IntKind::kWu ? sign_extend_32(value) : value;
}

template <class F>
typename F::Bits from_int(uint64_t x, IntKind kind, Rm rm, uint8_t& flags) {
  bool negative = false;
  uint64_t magnitude = x;
  switch (kind) {
    case IntKind::kW:
      magnitude = sign_extend_32(x);
      [[fallthrough]];
    case IntKind::kL:
      negative = static_cast<int64_t>(magnitude) < 0;
      if (negative) magnitude = ~magnitude + 1;
      break;
    case IntKind::kWu:
      magnitude = static_cast<uint32_t>(x);
      break;
    case IntKind::kLu:
      break;
  }
  if (magnitude == 0) return 0;
  return round_pack<F>(negative, 0, magnitude, false, rm, flags);
}

// ---------------------------------------------------------------------------
// Non-arithmetic operations.

// Orders non-NaN values as integers; +0 and -0 get the same key.
template <class F>
int64_t order_key(typename F::Bits v) {
  const auto magnitude = static_cast<int64_t>(v & ~F::kSign);
  return F::sign(v) ? -magnitude : magnitude;
}

// spec 11.6 (version 2.2): fmin/fmax are IEEE 754-2019 minimumNumber and
// maximumNumber, with -0 < +0; a single NaN operand yields the other one.
template <class F>
typename F::Bits min_max(typename F::Bits a, typename F::Bits b, bool want_max, uint8_t& flags) {
  any_nan<F>(flags, a, b);
  if (F::is_nan(a)) return F::is_nan(b) ? F::kCanonicalNan : b;
  if (F::is_nan(b)) return a;
  const int64_t ka = order_key<F>(a);
  const int64_t kb = order_key<F>(b);
  const bool a_below = ka < kb || (ka == kb && F::sign(a) && !F::sign(b));
  return a_below != want_max ? a : b;
}

// spec 11.8: feq is a quiet comparison, flt and fle signaling ones.
enum class Compare : uint8_t { kLe = 0, kLt = 1, kEq = 2 };  // = rm field

template <class F>
uint64_t compare(typename F::Bits a, typename F::Bits b, Compare how, uint8_t& flags) {
  if (F::is_nan(a) || F::is_nan(b)) {
    if (how != Compare::kEq || F::is_snan(a) || F::is_snan(b)) flags |= kNV;
    return 0;
  }
  const int64_t ka = order_key<F>(a);
  const int64_t kb = order_key<F>(b);
  switch (how) {
    case Compare::kLe:
      return ka <= kb;
    case Compare::kLt:
      return ka < kb;
    case Compare::kEq:
      return ka == kb;
  }
  return 0;
}

// spec 11.9, table 11.5.
template <class F>
uint64_t classify(typename F::Bits v) {
  const bool negative = F::sign(v);
  if (F::is_nan(v)) return F::is_snan(v) ? 1u << 8 : 1u << 9;
  if (F::is_inf(v)) return negative ? 1u << 0 : 1u << 7;
  if (F::is_zero(v)) return negative ? 1u << 3 : 1u << 4;
  if ((v & F::kInf) == 0) return negative ? 1u << 2 : 1u << 5;
  return negative ? 1u << 1 : 1u << 6;
}

// ---------------------------------------------------------------------------
// Decoding (spec ch. 24 instruction listings; R-type and R4-type formats).

struct Fields {
  uint32_t raw;
  unsigned opcode() const { return raw & 0x7f; }
  unsigned rd() const { return (raw >> 7) & 31; }
  unsigned rm() const { return (raw >> 12) & 7; }
  unsigned rs1() const { return (raw >> 15) & 31; }
  unsigned rs2() const { return (raw >> 20) & 31; }
  unsigned fmt() const { return (raw >> 25) & 3; }
  unsigned funct5() const { return raw >> 27; }  // rs3 in R4-type
};

// OP-FP funct5 values.
enum Funct5 : unsigned {
  kFadd = 0x00,
  kFsub = 0x01,
  kFmul = 0x02,
  kFdiv = 0x03,
  kFsgnj = 0x04,
  kFminmax = 0x05,
  kFcvtFF = 0x08,
  kFsqrt = 0x0b,
  kFcmp = 0x14,
  kFcvtIntF = 0x18,
  kFcvtFInt = 0x1a,
  kFmvXF = 0x1c,
  kFmvFX = 0x1e,
};

constexpr unsigned kOpMadd = 0x43;
constexpr unsigned kOpMsub = 0x47;
constexpr unsigned kOpNmsub = 0x4b;
constexpr unsigned kOpNmadd = 0x4f;
constexpr unsigned kOpFp = 0x53;

// Executes an OP-FP instruction of format F (fmt field).
template <class F>
Outcome op_fp(Fields in, Context& ctx) {
  using Bits = typename F::Bits;
  const Bits a = read_f<F>(ctx, in.rs1());
  const Bits b = read_f<F>(ctx, in.rs2());
  const std::optional<Rm> rm = resolve_rm(in.rm(), ctx.frm);
  uint8_t flags = 0;
  switch (in.funct5()) {
    case kFadd:
    case kFsub:
    case kFmul:
    case kFdiv: {
      if (!rm) return Outcome::kIllegal;
      static constexpr Arith kOps[] = {Arith::kAdd, Arith::kSub, Arith::kMul, Arith::kDiv};
      write_f<F>(ctx, in.rd(), arith<F>(kOps[in.funct5()], a, b, 0, *rm, flags));
      break;
    }
    case kFsqrt:
      if (!rm || in.rs2() != 0) return Outcome::kIllegal;
      write_f<F>(ctx, in.rd(), arith<F>(Arith::kSqrt, a, 0, 0, *rm, flags));
      break;
    case kFsgnj: {
      Bits sign;
      switch (in.rm()) {
        case 0:
          sign = b & F::kSign;
          break;
        case 1:
          sign = ~b & F::kSign;
          break;
        case 2:
          sign = (a ^ b) & F::kSign;
          break;
        default:
          return Outcome::kIllegal;
      }
      write_f<F>(ctx, in.rd(), (a & ~F::kSign) | sign);
      break;
    }
    case kFminmax:
      if (in.rm() > 1) return Outcome::kIllegal;
      write_f<F>(ctx, in.rd(), min_max<F>(a, b, in.rm() == 1, flags));
      break;
    case kFcvtFF:
      // fcvt.s.d has fmt S and rs2 = 1 (D); fcvt.d.s has fmt D and rs2 = 0 (S).
      if (!rm || in.rs2() != (F::kWidth == 32 ? 1u : 0u)) return Outcome::kIllegal;
      if constexpr (F::kWidth == 32) {
        write_f<F>(ctx, in.rd(), narrow(read_f<Double>(ctx, in.rs1()), *rm, flags));
      } else {
        write_f<F>(ctx, in.rd(),
                   soft_convert<Double, Single>(read_f<Single>(ctx, in.rs1()), *rm, flags));
      }
      break;
    case kFcmp:
      if (in.rm() > 2) return Outcome::kIllegal;
      write_x(ctx, in.rd(), compare<F>(a, b, static_cast<Compare>(in.rm()), flags));
      break;
    case kFcvtIntF:
      if (!rm || in.rs2() > 3) return Outcome::kIllegal;
      write_x(ctx, in.rd(), to_int<F>(a, static_cast<IntKind>(in.rs2()), *rm, flags));
      break;
    case kFcvtFInt:
      if (!rm || in.rs2() > 3) return Outcome::kIllegal;
      write_f<F>(ctx, in.rd(),
                 from_int<F>(ctx.x[in.rs1()], static_cast<IntKind>(in.rs2()), *rm, flags));
      break;
    case kFmvXF:
      if (in.rs2() != 0) return Outcome::kIllegal;
      if (in.rm() == 0) {
        // spec 12.2: moves out of the f registers ignore NaN boxing; fmv.x.w
        // sign-extends the raw low 32 bits.
        const uint64_t raw = ctx.f[in.rs1()];
        write_x(ctx, in.rd(), F::kWidth == 32 ? sign_extend_32(raw) : raw);
      } else if (in.rm() == 1) {
        write_x(ctx, in.rd(), classify<F>(a));
      } else {
        return Outcome::kIllegal;
      }
      break;
    case kFmvFX:
      if (in.rs2() != 0 || in.rm() != 0) return Outcome::kIllegal;
      write_f<F>(ctx, in.rd(), static_cast<Bits>(ctx.x[in.rs1()]));
      break;
    default:
      return Outcome::kIllegal;
  }
  ctx.fflags |= flags;
  return Outcome::kOk;
}

// spec 11.6: fmadd = a*b+c, fmsub = a*b-c, fnmsub = -(a*b)+c, fnmadd = -(a*b)-c,
// each rounded once. Negating an operand's sign is exact, also for zeros.
template <class F>
Outcome fused(Fields in, Context& ctx) {
  const std::optional<Rm> rm = resolve_rm(in.rm(), ctx.frm);
  if (!rm) return Outcome::kIllegal;
  typename F::Bits a = read_f<F>(ctx, in.rs1());
  const typename F::Bits b = read_f<F>(ctx, in.rs2());
  typename F::Bits c = read_f<F>(ctx, in.funct5());
  if (in.opcode() == kOpNmsub || in.opcode() == kOpNmadd) a ^= F::kSign;
  if (in.opcode() == kOpMsub || in.opcode() == kOpNmadd) c ^= F::kSign;
  uint8_t flags = 0;
  write_f<F>(ctx, in.rd(), arith<F>(Arith::kFma, a, b, c, *rm, flags));
  ctx.fflags |= flags;
  return Outcome::kOk;
}

template <template <class> class Op>
Outcome by_format(Fields in, Context& ctx) {
  switch (in.fmt()) {
    case 0:
      return Op<Single>::run(in, ctx);
    case 1:
      return Op<Double>::run(in, ctx);
    default:
      return Outcome::kIllegal;  // H (Zfh) and Q are not implemented
  }
}

template <class F>
struct OpFp {
  static Outcome run(Fields in, Context& ctx) { return op_fp<F>(in, ctx); }
};
template <class F>
struct Fused {
  static Outcome run(Fields in, Context& ctx) { return fused<F>(in, ctx); }
};

}  // namespace

Outcome execute(uint32_t insn, Context& ctx) {
  const Fields in{insn};
  switch (in.opcode()) {
    case kOpFp:
      return by_format<OpFp>(in, ctx);
    case kOpMadd:
    case kOpMsub:
    case kOpNmsub:
    case kOpNmadd:
      return by_format<Fused>(in, ctx);
    default:
      return Outcome::kIllegal;
  }
}

}  // namespace vessel::cpu::riscv::fpu
