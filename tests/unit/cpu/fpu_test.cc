// RISC-V F/D computation: rounding modes, flags, NaN boxing, canonical NaNs,
// min/max, conversions, fclass, fused multiply-add and encodings, each checked
// against values worked out from the unprivileged spec (ch. 11, 12) and IEEE 754.
#include "cpu/riscv/fpu.h"

#include <gtest/gtest.h>

#include <bit>
#include <cfenv>
#include <cstdint>
#include <limits>

namespace vessel::cpu::riscv::fpu {
namespace {

// fflags bits.
constexpr unsigned kNX = 1, kUF = 2, kOF = 4, kDZ = 8, kNV = 16;
// rm field values.
constexpr uint32_t kRne = 0, kRtz = 1, kRdn = 2, kRup = 3, kRmm = 4, kDyn = 7;
// fmt field values.
constexpr uint32_t kS = 0, kD = 1, kH = 2, kQ = 3;
// OP-FP funct5 values.
constexpr uint32_t kAdd = 0x00, kSub = 0x01, kMul = 0x02, kDiv = 0x03, kSgnj = 0x04, kMinMax = 0x05,
                   kCvtFF = 0x08, kSqrt = 0x0b, kCmp = 0x14, kCvtToInt = 0x18, kCvtFromInt = 0x1a,
                   kMvXF = 0x1c, kMvFX = 0x1e;
// fcvt integer kinds (rs2).
constexpr uint32_t kW = 0, kWu = 1, kL = 2, kLu = 3;
// R4 opcodes.
constexpr uint32_t kMadd = 0x43, kMsub = 0x47, kNmsub = 0x4b, kNmadd = 0x4f;

constexpr uint32_t op_fp(uint32_t funct5, uint32_t fmt, uint32_t rs2, uint32_t rs1, uint32_t rm,
                         uint32_t rd) {
  return funct5 << 27 | fmt << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | 0x53;
}
constexpr uint32_t r4(uint32_t opcode, uint32_t fmt, uint32_t rs3, uint32_t rs2, uint32_t rs1,
                      uint32_t rm, uint32_t rd) {
  return rs3 << 27 | fmt << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | opcode;
}

constexpr double kInfinity = std::numeric_limits<double>::infinity();

uint64_t D(double v) {
  return std::bit_cast<uint64_t>(v);
}
uint32_t S(float v) {
  return std::bit_cast<uint32_t>(v);
}
uint64_t box(uint32_t v) {
  return 0xffffffff00000000u | v;
}

constexpr uint64_t kDQNan = 0x7ff8000000000000, kDSNan = 0x7ff0000000000001;
constexpr uint64_t kDInf = 0x7ff0000000000000, kDNegInf = 0xfff0000000000000;
constexpr uint64_t kDMax = 0x7fefffffffffffff, kDMinNormal = 0x0010000000000000;
constexpr uint64_t kDNegZero = 0x8000000000000000;
constexpr uint32_t kSQNan = 0x7fc00000, kSSNan = 0x7f800001, kSInf = 0x7f800000;
constexpr uint32_t kSNegInf = 0xff800000, kSMax = 0x7f7fffff, kSMinNormal = 0x00800000;
constexpr uint32_t kSNegZero = 0x80000000;

struct Result {
  uint64_t value;
  unsigned flags;
  bool operator==(const Result&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Result& r) {
  return os << "{0x" << std::hex << r.value << ", flags 0x" << r.flags << std::dec << "}";
}

class FpuTest : public ::testing::Test {
 protected:
  // Runs one instruction with clear fflags; the instruction must be legal.
  void run(uint32_t insn) {
    ctx_.fflags = 0;
    ASSERT_EQ(execute(insn, ctx_), Outcome::kOk) << std::hex << insn;
  }
  // f3 = f1 op f2 in double.
  Result d(uint32_t funct5, uint64_t a, uint64_t b, uint32_t rm = kRne) {
    f_[1] = a;
    f_[2] = b;
    run(op_fp(funct5, kD, 2, 1, rm, 3));
    return {f_[3], ctx_.fflags};
  }
  // f3 = f1 op f2 in single; the result must be NaN-boxed.
  Result s(uint32_t funct5, uint32_t a, uint32_t b, uint32_t rm = kRne) {
    f_[1] = box(a);
    f_[2] = box(b);
    run(op_fp(funct5, kS, 2, 1, rm, 3));
    EXPECT_EQ(f_[3] >> 32, 0xffffffffu) << "single result not NaN-boxed";
    return {static_cast<uint32_t>(f_[3]), ctx_.fflags};
  }
  // Unary op: rs2 field carries `rs2`, source f1, destination f3.
  Result d1(uint32_t funct5, uint32_t rs2, uint64_t a, uint32_t rm = kRne) {
    f_[1] = a;
    run(op_fp(funct5, kD, rs2, 1, rm, 3));
    return {f_[3], ctx_.fflags};
  }
  Result s1(uint32_t funct5, uint32_t rs2, uint32_t a, uint32_t rm = kRne) {
    f_[1] = box(a);
    run(op_fp(funct5, kS, rs2, 1, rm, 3));
    EXPECT_EQ(f_[3] >> 32, 0xffffffffu) << "single result not NaN-boxed";
    return {static_cast<uint32_t>(f_[3]), ctx_.fflags};
  }
  // x5 = fcvt.<kind>.<fmt> f1.
  Result to_int(uint32_t fmt, uint32_t kind, uint64_t reg, uint32_t rm = kRtz) {
    f_[1] = reg;
    run(op_fp(kCvtToInt, fmt, kind, 1, rm, 5));
    return {x_[5], ctx_.fflags};
  }
  // f3 = fcvt.<fmt>.<kind> x5.
  Result from_int(uint32_t fmt, uint32_t kind, uint64_t value, uint32_t rm = kRne) {
    x_[5] = value;
    run(op_fp(kCvtFromInt, fmt, kind, 5, rm, 3));
    return {fmt == kS ? static_cast<uint32_t>(f_[3]) : f_[3], ctx_.fflags};
  }
  // f4 = fused op (f1, f2, f3).
  Result fma_d(uint32_t opcode, uint64_t a, uint64_t b, uint64_t c, uint32_t rm = kRne) {
    f_[1] = a;
    f_[2] = b;
    f_[3] = c;
    run(r4(opcode, kD, 3, 2, 1, rm, 4));
    return {f_[4], ctx_.fflags};
  }
  Result fma_s(uint32_t opcode, uint32_t a, uint32_t b, uint32_t c, uint32_t rm = kRne) {
    f_[1] = box(a);
    f_[2] = box(b);
    f_[3] = box(c);
    run(r4(opcode, kS, 3, 2, 1, rm, 4));
    EXPECT_EQ(f_[4] >> 32, 0xffffffffu) << "single result not NaN-boxed";
    return {static_cast<uint32_t>(f_[4]), ctx_.fflags};
  }
  // Executes an encoding that must be reserved; nothing may change.
  void expect_illegal(uint32_t insn) {
    for (int i = 0; i < 32; ++i) {
      f_[i] = box(S(1.0f + static_cast<float>(i)));
      x_[i] = i == 0 ? 0 : 0x1000 + i;
    }
    ctx_.fflags = 0x15;
    uint64_t fs[32], xs[32];
    for (int i = 0; i < 32; ++i) {
      fs[i] = f_[i];
      xs[i] = x_[i];
    }
    EXPECT_EQ(execute(insn, ctx_), Outcome::kIllegal) << std::hex << insn;
    for (int i = 0; i < 32; ++i) {
      EXPECT_EQ(f_[i], fs[i]) << "f" << i;
      EXPECT_EQ(x_[i], xs[i]) << "x" << i;
    }
    EXPECT_EQ(ctx_.fflags, 0x15);
  }

  uint64_t x_[32] = {};
  uint64_t f_[32] = {};
  Context ctx_{x_, f_, 0, 0};
};

// --- rounding modes --------------------------------------------------------

// 1 + 0.75 ulp (not a tie) and 1 + 0.5 ulp (a tie), both signs, every mode.
TEST_F(FpuTest, DoubleRoundingModesOnInexactSums) {
  const uint64_t one = D(1.0), one_ulp = D(1.0) + 1;
  const uint64_t three_quarter = D(0x1.8p-53), half = D(0x1p-53);
  struct Case {
    uint32_t rm;
    uint64_t above, tie;  // results of 1 + 0.75 ulp and 1 + 0.5 ulp
  } cases[] = {
      {kRne, one_ulp, one},     {kRtz, one, one},         {kRdn, one, one},
      {kRup, one_ulp, one_ulp}, {kRmm, one_ulp, one_ulp},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(d(kAdd, one, three_quarter, c.rm), (Result{c.above, kNX})) << c.rm;
    EXPECT_EQ(d(kAdd, one, half, c.rm), (Result{c.tie, kNX})) << c.rm;
  }
  // Negative: RDN and RUP swap roles, RMM still rounds away from zero.
  const uint64_t neg = 1ull << 63;
  EXPECT_EQ(d(kSub, one | neg, half, kRne), (Result{one | neg, kNX}));
  EXPECT_EQ(d(kSub, one | neg, half, kRmm), (Result{one_ulp | neg, kNX}));
  EXPECT_EQ(d(kSub, one | neg, half, kRdn), (Result{one_ulp | neg, kNX}));
  EXPECT_EQ(d(kSub, one | neg, half, kRup), (Result{one | neg, kNX}));
  EXPECT_EQ(d(kSub, one | neg, half, kRtz), (Result{one | neg, kNX}));
  // A tie whose lower neighbour is odd: RNE rounds up as RMM does.
  EXPECT_EQ(d(kAdd, one_ulp, half, kRne), (Result{one_ulp + 1, kNX}));
  EXPECT_EQ(d(kAdd, one_ulp, half, kRmm), (Result{one_ulp + 1, kNX}));
}

TEST_F(FpuTest, SingleRoundingModesOnTies) {
  const uint32_t one = S(1.0f), half = S(0x1p-24f);
  EXPECT_EQ(s(kAdd, one, half, kRne), (Result{one, kNX}));
  EXPECT_EQ(s(kAdd, one, half, kRmm), (Result{one + 1, kNX}));
  EXPECT_EQ(s(kAdd, one, half, kRtz), (Result{one, kNX}));
  EXPECT_EQ(s(kAdd, one, half, kRdn), (Result{one, kNX}));
  EXPECT_EQ(s(kAdd, one, half, kRup), (Result{one + 1, kNX}));
  EXPECT_EQ(s(kSub, S(-1.0f), half, kRmm), (Result{S(-1.0f) + 1, kNX}));
  EXPECT_EQ(s(kSub, S(-1.0f), half, kRdn), (Result{S(-1.0f) + 1, kNX}));
  EXPECT_EQ(s(kSub, S(-1.0f), half, kRup), (Result{S(-1.0f), kNX}));
}

// RMM ties reached through every rounding operation that can produce one.
TEST_F(FpuTest, RmmTiesInMulFmaAndConversions) {
  // 3 * (1 + 3 ulp) = 3 + 4.5 ulp(3): RNE keeps the even 3 + 4 ulp, RMM goes to 5.
  const uint64_t b = D(1.0) + 3, lo = D(3.0) + 4, hi = D(3.0) + 5;
  EXPECT_EQ(d(kMul, D(3.0), b, kRne), (Result{lo, kNX}));
  EXPECT_EQ(d(kMul, D(3.0), b, kRmm), (Result{hi, kNX}));
  EXPECT_EQ(d(kMul, D(-3.0), b, kRmm), (Result{hi | 1ull << 63, kNX}));
  EXPECT_EQ(fma_d(kMadd, D(3.0), b, 0, kRmm), (Result{hi, kNX}));
  EXPECT_EQ(fma_d(kMadd, D(3.0), b, 0, kRne), (Result{lo, kNX}));
  // Single: 3 * (1 + 3 ulp).
  EXPECT_EQ(s(kMul, S(3.0f), S(1.0f) + 3, kRne), (Result{S(3.0f) + 4, kNX}));
  EXPECT_EQ(s(kMul, S(3.0f), S(1.0f) + 3, kRmm), (Result{S(3.0f) + 5, kNX}));
  EXPECT_EQ(fma_s(kMadd, S(3.0f), S(1.0f) + 3, S(-0.0f), kRmm), (Result{S(3.0f) + 5, kNX}));
  // fcvt.s.d of 1 + 2^-24.
  f_[1] = D(1.0 + 0x1p-24);
  run(op_fp(kCvtFF, kS, 1, 1, kRmm, 3));
  EXPECT_EQ(f_[3], box(S(1.0f) + 1));
  EXPECT_EQ(ctx_.fflags, kNX);
  run(op_fp(kCvtFF, kS, 1, 1, kRne, 3));
  EXPECT_EQ(f_[3], box(S(1.0f)));
  // fcvt.d.l of 2^53 + 1 and fcvt.s.w of 2^24 + 1.
  EXPECT_EQ(from_int(kD, kL, (1ull << 53) + 1, kRne), (Result{D(0x1p53), kNX}));
  EXPECT_EQ(from_int(kD, kL, (1ull << 53) + 1, kRmm), (Result{D(0x1p53 + 2), kNX}));
  EXPECT_EQ(from_int(kS, kW, (1u << 24) + 1, kRmm), (Result{S(0x1p24f + 2), kNX}));
  EXPECT_EQ(from_int(kS, kW, -((1ll << 24) + 1), kRmm), (Result{S(-0x1p24f - 2), kNX}));
  // fcvt.l.d of +-2.5.
  EXPECT_EQ(to_int(kD, kL, D(2.5), kRne), (Result{2, kNX}));
  EXPECT_EQ(to_int(kD, kL, D(2.5), kRmm), (Result{3, kNX}));
  EXPECT_EQ(to_int(kD, kL, D(-2.5), kRmm), (Result{static_cast<uint64_t>(-3), kNX}));
}

TEST_F(FpuTest, DivAndSqrtRoundPerMode) {
  // 1/3 = 0x1.5555...p-2: RNE and RDN/RTZ round down, RUP up.
  const uint64_t third_down = 0x3fd5555555555555;
  EXPECT_EQ(d(kDiv, D(1.0), D(3.0), kRne), (Result{third_down, kNX}));
  EXPECT_EQ(d(kDiv, D(1.0), D(3.0), kRmm), (Result{third_down, kNX}));
  EXPECT_EQ(d(kDiv, D(1.0), D(3.0), kRtz), (Result{third_down, kNX}));
  EXPECT_EQ(d(kDiv, D(1.0), D(3.0), kRup), (Result{third_down + 1, kNX}));
  EXPECT_EQ(d(kDiv, D(-1.0), D(3.0), kRdn), (Result{(third_down + 1) | 1ull << 63, kNX}));
  // sqrt(2) = 0x1.6a09e667f3bcc908...p0
  const uint64_t root2 = 0x3ff6a09e667f3bcc;
  EXPECT_EQ(d1(kSqrt, 0, D(2.0), kRne), (Result{root2 + 1, kNX}));
  EXPECT_EQ(d1(kSqrt, 0, D(2.0), kRmm), (Result{root2 + 1, kNX}));
  EXPECT_EQ(d1(kSqrt, 0, D(2.0), kRtz), (Result{root2, kNX}));
  EXPECT_EQ(d1(kSqrt, 0, D(2.0), kRdn), (Result{root2, kNX}));
  EXPECT_EQ(d1(kSqrt, 0, D(4.0), kRmm), (Result{D(2.0), 0}));
  EXPECT_EQ(s1(kSqrt, 0, S(2.0f), kRup), (Result{S(1.41421366f), kNX}));
  EXPECT_EQ(s1(kSqrt, 0, S(2.0f), kRmm), (Result{S(1.41421354f), kNX}));
}

TEST_F(FpuTest, DynamicRoundingModeUsesFrm) {
  ctx_.frm = kRup;
  EXPECT_EQ(d(kAdd, D(1.0), D(0x1p-60), kDyn), (Result{D(1.0) + 1, kNX}));
  ctx_.frm = kRmm;
  EXPECT_EQ(s(kAdd, S(1.0f), S(0x1p-24f), kDyn), (Result{S(1.0f) + 1, kNX}));
  ctx_.frm = kRdn;
  EXPECT_EQ(d(kSub, D(1.0), D(1.0), kDyn), (Result{kDNegZero, 0}));  // exact zero is -0 in RDN
  EXPECT_EQ(d(kSub, D(1.0), D(1.0), kRne), (Result{0, 0}));
}

TEST_F(FpuTest, InvalidRoundingModesAreIllegal) {
  expect_illegal(op_fp(kAdd, kD, 2, 1, 5, 3));
  expect_illegal(op_fp(kMul, kS, 2, 1, 6, 3));
  expect_illegal(r4(kMadd, kD, 3, 2, 1, 5, 4));
  expect_illegal(op_fp(kCvtToInt, kD, kW, 1, 6, 5));
  expect_illegal(op_fp(kCvtFromInt, kS, kL, 5, 5, 3));
  expect_illegal(op_fp(kCvtFF, kD, 0, 1, 5, 3));  // fcvt.d.s is exact, rm is still checked
  for (uint8_t frm : {5, 6, 7}) {
    ctx_.frm = frm;
    expect_illegal(op_fp(kAdd, kD, 2, 1, kDyn, 3));
    expect_illegal(op_fp(kSqrt, kS, 0, 1, kDyn, 3));
    expect_illegal(r4(kNmadd, kS, 3, 2, 1, kDyn, 4));
    expect_illegal(op_fp(kCvtFromInt, kD, kWu, 5, kDyn, 3));
  }
  // Instructions without a rounding mode do not care about frm.
  ctx_.frm = 7;
  f_[1] = D(1.0);
  f_[2] = D(2.0);
  run(op_fp(kMinMax, kD, 2, 1, 0, 3));
  EXPECT_EQ(f_[3], D(1.0));
}

// The host's own rounding mode and flags survive guest FP work.
TEST_F(FpuTest, HostFloatingPointEnvironmentIsRestored) {
  std::feclearexcept(FE_ALL_EXCEPT);
  const int mode = std::fegetround();
  d(kDiv, D(1.0), D(0.0), kRup);
  d(kMul, D(1e300), D(1e300), kRtz);
  s(kAdd, S(1.0f), S(0x1p-30f), kRdn);
  EXPECT_EQ(std::fegetround(), mode);
  EXPECT_EQ(std::fetestexcept(FE_ALL_EXCEPT), 0);
}

// --- flags -------------------------------------------------------------------

TEST_F(FpuTest, EachFlag) {
  EXPECT_EQ(d(kSub, kDInf, kDInf), (Result{kDQNan, kNV}));
  EXPECT_EQ(d(kMul, kDInf, 0), (Result{kDQNan, kNV}));
  EXPECT_EQ(d(kDiv, 0, 0), (Result{kDQNan, kNV}));
  EXPECT_EQ(d(kDiv, kDInf, kDInf), (Result{kDQNan, kNV}));
  EXPECT_EQ(d(kDiv, D(1.0), 0), (Result{kDInf, kDZ}));
  EXPECT_EQ(d(kDiv, D(-1.0), 0), (Result{kDNegInf, kDZ}));
  EXPECT_EQ(d(kDiv, D(1.0), kDNegZero), (Result{kDNegInf, kDZ}));
  EXPECT_EQ(d(kDiv, kDInf, 0), (Result{kDInf, 0}));  // not a division by zero
  EXPECT_EQ(s(kDiv, S(2.0f), 0), (Result{kSInf, kDZ}));
  EXPECT_EQ(d(kMul, kDMax, D(2.0)), (Result{kDInf, kOF | kNX}));
  EXPECT_EQ(d(kMul, kDMinNormal, D(0x1p-10)), (Result{kDMinNormal >> 10, 0}));  // exact
  EXPECT_EQ(d(kMul, 1, D(0.5)), (Result{0, kUF | kNX}));                        // tie to even zero
  EXPECT_EQ(d(kMul, 1, D(0.75)), (Result{1, kUF | kNX}));
  EXPECT_EQ(d(kAdd, D(1.0), D(0x1p-60)), (Result{D(1.0), kNX}));
  EXPECT_EQ(d(kAdd, D(1.0), D(2.0)), (Result{D(3.0), 0}));
  // New flags are OR-ed into the accrued ones.
  ctx_.fflags = kDZ;
  f_[1] = D(1.0);
  f_[2] = D(3.0);
  ASSERT_EQ(execute(op_fp(kDiv, kD, 2, 1, kRne, 3), ctx_), Outcome::kOk);
  EXPECT_EQ(ctx_.fflags, kDZ | kNX);
}

TEST_F(FpuTest, SqrtOfNegative) {
  EXPECT_EQ(d1(kSqrt, 0, D(-1.0)), (Result{kDQNan, kNV}));
  EXPECT_EQ(d1(kSqrt, 0, kDNegInf), (Result{kDQNan, kNV}));
  EXPECT_EQ(d1(kSqrt, 0, kDNegZero), (Result{kDNegZero, 0}));
  EXPECT_EQ(d1(kSqrt, 0, kDInf), (Result{kDInf, 0}));
  EXPECT_EQ(s1(kSqrt, 0, S(-4.0f)), (Result{kSQNan, kNV}));
  EXPECT_EQ(s1(kSqrt, 0, S(-4.0f), kRmm), (Result{kSQNan, kNV}));
  EXPECT_EQ(s1(kSqrt, 0, kSNegZero, kRmm), (Result{kSNegZero, 0}));
}

// IEEE 754 7.4: the overflow result depends on the rounding direction.
TEST_F(FpuTest, OverflowToInfinityOrMaxFinitePerMode) {
  struct Case {
    uint32_t rm;
    uint64_t pos, neg;
  } cases[] = {
      {kRne, kDInf, kDNegInf}, {kRmm, kDInf, kDNegInf},           {kRtz, kDMax, kDMax | 1ull << 63},
      {kRdn, kDMax, kDNegInf}, {kRup, kDInf, kDMax | 1ull << 63},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(d(kMul, kDMax, D(2.0), c.rm), (Result{c.pos, kOF | kNX})) << c.rm;
    EXPECT_EQ(d(kMul, kDMax, D(-2.0), c.rm), (Result{c.neg, kOF | kNX})) << c.rm;
    const uint32_t spos = static_cast<uint32_t>(c.pos == kDInf ? kSInf : kSMax);
    EXPECT_EQ(s(kAdd, kSMax, kSMax, c.rm), (Result{spos, kOF | kNX})) << c.rm;
    // fcvt.s.d overflows too.
    f_[1] = D(1e300);
    run(op_fp(kCvtFF, kS, 1, 1, c.rm, 3));
    EXPECT_EQ(f_[3], box(spos)) << c.rm;
    EXPECT_EQ(ctx_.fflags, kOF | kNX);
  }
  // Rounding up to just past the largest finite value overflows as well.
  EXPECT_EQ(d(kAdd, kDMax, D(0x1p970), kRne), (Result{kDInf, kOF | kNX}));
  EXPECT_EQ(d(kAdd, kDMax, D(0x1p969), kRne), (Result{kDMax, kNX}));  // below the halfway point
}

// spec 11.2: tininess is detected after rounding (with an unbounded exponent).
TEST_F(FpuTest, UnderflowIsDetectedAfterRounding) {
  // (1 - 2^-27) * 2^-1022 (1 + 2^-27) = 2^-1022 (1 - 2^-54): rounds to 2^-1022
  // whether the exponent is bounded or not, so it is not tiny: NX only.
  const uint64_t a = D(1.0 - 0x1p-27), b = kDMinNormal + (1ull << 25);
  EXPECT_EQ(d(kMul, a, b, kRne), (Result{kDMinNormal, kNX}));
  // Toward zero it stays below 2^-1022: tiny and inexact.
  EXPECT_EQ(d(kMul, a, b, kRtz), (Result{kDMinNormal - 1, kUF | kNX}));
  // (1 - 2^-53) * 2^-1022 is exact at 53 bits below 2^-1022, so tiny, yet the
  // subnormal rounding (a tie) gives 2^-1022: UF is raised with a normal result.
  EXPECT_EQ(d(kMul, D(1.0 - 0x1p-53), kDMinNormal, kRne), (Result{kDMinNormal, kUF | kNX}));
  EXPECT_EQ(d(kMul, D(1.0 - 0x1p-53), kDMinNormal, kRmm), (Result{kDMinNormal, kUF | kNX}));
  // The same for single.
  const uint32_t sa = S(1.0f - 0x1p-13f), sb = kSMinNormal + (1u << 10);
  EXPECT_EQ(s(kMul, sa, sb, kRne), (Result{kSMinNormal, kNX}));
  EXPECT_EQ(s(kMul, sa, sb, kRmm), (Result{kSMinNormal, kNX}));
  EXPECT_EQ(s(kMul, sa, sb, kRtz), (Result{kSMinNormal - 1, kUF | kNX}));
  EXPECT_EQ(s(kMul, S(1.0f - 0x1p-24f), kSMinNormal, kRne), (Result{kSMinNormal, kUF | kNX}));
  EXPECT_EQ(fma_s(kMadd, S(1.0f - 0x1p-24f), kSMinNormal, 0, kRmm),
            (Result{kSMinNormal, kUF | kNX}));
  // fcvt.s.d underflow.
  f_[1] = D(0x1p-140 + 0x1p-170);
  run(op_fp(kCvtFF, kS, 1, 1, kRne, 3));
  EXPECT_EQ(f_[3], box(1u << 9));
  EXPECT_EQ(ctx_.fflags, kUF | kNX);
}

TEST_F(FpuTest, SubnormalResults) {
  // Exact subnormal results raise nothing.
  EXPECT_EQ(d(kDiv, kDMinNormal, D(4.0)), (Result{kDMinNormal >> 2, 0}));
  EXPECT_EQ(d(kSub, kDMinNormal, kDMinNormal - 1), (Result{1, 0}));
  EXPECT_EQ(s(kAdd, 1, 1), (Result{2, 0}));
  // The smallest subnormal halved: 0 (RNE), itself (RUP), both UF.
  EXPECT_EQ(s(kMul, 1, S(0.5f), kRne), (Result{0, kUF | kNX}));
  EXPECT_EQ(s(kMul, 1, S(0.5f), kRup), (Result{1, kUF | kNX}));
  EXPECT_EQ(s(kMul, 1, S(0.5f), kRmm), (Result{1, kUF | kNX}));
  EXPECT_EQ(s(kMul, 1, S(-0.5f), kRdn), (Result{kSNegZero | 1, kUF | kNX}));
  EXPECT_EQ(s(kMul, 1, S(-0.5f), kRmm), (Result{kSNegZero | 1, kUF | kNX}));
  EXPECT_EQ(s(kMul, 1, S(-0.5f), kRtz), (Result{kSNegZero, kUF | kNX}));
  EXPECT_EQ(d(kMul, 3, D(0.5), kRmm), (Result{2, kUF | kNX}));
  EXPECT_EQ(d(kMul, 3, D(0.5), kRne), (Result{2, kUF | kNX}));
  EXPECT_EQ(d(kMul, 5, D(0.5), kRne), (Result{2, kUF | kNX}));
  EXPECT_EQ(d(kMul, 5, D(0.5), kRmm), (Result{3, kUF | kNX}));
  // Subnormal operands are full values (no flush to zero).
  EXPECT_EQ(d(kMul, 1, D(0x1p52)), (Result{D(0x1p-1022), 0}));
  EXPECT_EQ(d1(kSqrt, 0, 1, kRmm), (Result{D(0x1p-537), 0}));
}

// --- NaNs --------------------------------------------------------------------

TEST_F(FpuTest, ArithmeticReturnsCanonicalNan) {
  const uint64_t payload = 0xfff8000000001234;
  EXPECT_EQ(d(kAdd, payload, D(1.0)), (Result{kDQNan, 0}));
  EXPECT_EQ(d(kMul, D(1.0), kDSNan), (Result{kDQNan, kNV}));
  EXPECT_EQ(d(kMul, D(1.0), kDSNan, kRmm), (Result{kDQNan, kNV}));
  EXPECT_EQ(d1(kSqrt, 0, kDSNan), (Result{kDQNan, kNV}));
  EXPECT_EQ(s(kAdd, 0xffc01234, S(1.0f)), (Result{kSQNan, 0}));
  EXPECT_EQ(s(kDiv, kSSNan, S(1.0f), kRmm), (Result{kSQNan, kNV}));
  EXPECT_EQ(fma_d(kNmadd, D(1.0), D(1.0), payload), (Result{kDQNan, 0}));
  // Conversions between formats also canonicalize.
  f_[1] = payload;
  run(op_fp(kCvtFF, kS, 1, 1, kRne, 3));
  EXPECT_EQ(f_[3], box(kSQNan));
  EXPECT_EQ(ctx_.fflags, 0u);
  f_[1] = box(kSSNan);
  run(op_fp(kCvtFF, kD, 0, 1, kRne, 3));
  EXPECT_EQ(f_[3], kDQNan);
  EXPECT_EQ(ctx_.fflags, kNV);
  // Sign injection and moves are not arithmetic: payloads survive.
  EXPECT_EQ(d(kSgnj, payload, 0), (Result{payload & ~(1ull << 63), 0}));
  EXPECT_EQ(d(kSgnj, kDSNan, 0), (Result{kDSNan, 0}));
}

// spec 12.2: singles in 64-bit registers must be NaN-boxed.
TEST_F(FpuTest, NanBoxing) {
  // An unboxed operand reads as the canonical NaN (a quiet one: no NV).
  f_[1] = S(1.0f);  // upper half zero
  f_[2] = box(S(2.0f));
  run(op_fp(kAdd, kS, 2, 1, kRne, 3));
  EXPECT_EQ(f_[3], box(kSQNan));
  EXPECT_EQ(ctx_.fflags, 0u);
  f_[1] = 0xfffffffe3f800000;  // one bit short of a box
  run(op_fp(kMinMax, kS, 2, 1, 0, 3));
  EXPECT_EQ(f_[3], box(S(2.0f)));  // fmin with a NaN returns the other operand
  // fsgnj.s: the canonical NaN gets rs2's sign.
  f_[1] = D(1.0);
  f_[2] = box(S(-2.0f));
  run(op_fp(kSgnj, kS, 2, 1, 0, 3));
  EXPECT_EQ(f_[3], box(0xffc00000));
  // fclass.s of an unboxed value: quiet NaN.
  run(op_fp(kMvXF, kS, 0, 1, 1, 5));
  EXPECT_EQ(x_[5], 1u << 9);
  // fcvt.d.s of an unboxed value: canonical double NaN without NV.
  run(op_fp(kCvtFF, kD, 0, 1, kRne, 3));
  EXPECT_EQ(f_[3], kDQNan);
  EXPECT_EQ(ctx_.fflags, 0u);
  // fcvt.w.s of an unboxed value: NaN saturates to the maximum.
  run(op_fp(kCvtToInt, kS, kW, 1, kRtz, 5));
  EXPECT_EQ(x_[5], 0x7fffffffu);
  EXPECT_EQ(ctx_.fflags, kNV);
  // fmv.x.w ignores boxing and sign-extends the low 32 bits.
  f_[1] = 0x00000000bf800000;
  run(op_fp(kMvXF, kS, 0, 1, 0, 5));
  EXPECT_EQ(x_[5], 0xffffffffbf800000);
  f_[1] = box(0x3f800000);
  run(op_fp(kMvXF, kS, 0, 1, 0, 5));
  EXPECT_EQ(x_[5], 0x3f800000u);
  // fmv.w.x boxes; every single-precision result is boxed.
  x_[5] = 0x123456789abcdef0;
  run(op_fp(kMvFX, kS, 0, 5, 0, 3));
  EXPECT_EQ(f_[3], box(0x9abcdef0));
  EXPECT_EQ(from_int(kS, kW, 7).value, S(7.0f));
  EXPECT_EQ(f_[3], box(S(7.0f)));
  // Double moves are raw.
  x_[5] = 0x123456789abcdef0;
  run(op_fp(kMvFX, kD, 0, 5, 0, 3));
  EXPECT_EQ(f_[3], 0x123456789abcdef0u);
  run(op_fp(kMvXF, kD, 0, 3, 0, 6));
  EXPECT_EQ(x_[6], 0x123456789abcdef0u);
}

// --- min / max ---------------------------------------------------------------

TEST_F(FpuTest, MinMaxSignedZerosAndNans) {
  const uint32_t kMin = 0, kMax = 1;
  EXPECT_EQ(d(kMinMax, kDNegZero, 0, kMin), (Result{kDNegZero, 0}));
  EXPECT_EQ(d(kMinMax, 0, kDNegZero, kMin), (Result{kDNegZero, 0}));
  EXPECT_EQ(d(kMinMax, kDNegZero, 0, kMax), (Result{0, 0}));
  EXPECT_EQ(d(kMinMax, 0, kDNegZero, kMax), (Result{0, 0}));
  EXPECT_EQ(d(kMinMax, D(-1.0), D(2.0), kMin), (Result{D(-1.0), 0}));
  EXPECT_EQ(d(kMinMax, D(-1.0), D(2.0), kMax), (Result{D(2.0), 0}));
  EXPECT_EQ(d(kMinMax, kDNegInf, D(-1e308), kMin), (Result{kDNegInf, 0}));
  // One quiet NaN: the other operand, no flag.
  EXPECT_EQ(d(kMinMax, kDQNan, D(3.0), kMin), (Result{D(3.0), 0}));
  EXPECT_EQ(d(kMinMax, D(3.0), 0xfff8000000000042, kMax), (Result{D(3.0), 0}));
  // One signaling NaN: the other operand, NV.
  EXPECT_EQ(d(kMinMax, kDSNan, D(3.0), kMax), (Result{D(3.0), kNV}));
  EXPECT_EQ(s(kMinMax, S(3.0f), kSSNan, kMin), (Result{S(3.0f), kNV}));
  // Two NaNs: the canonical NaN.
  EXPECT_EQ(d(kMinMax, 0xfff8000000000042, kDQNan + 7, kMin), (Result{kDQNan, 0}));
  EXPECT_EQ(s(kMinMax, kSSNan, kSQNan + 3, kMax), (Result{kSQNan, kNV}));
  EXPECT_EQ(s(kMinMax, kSNegZero, 0, kMin), (Result{kSNegZero, 0}));
  EXPECT_EQ(s(kMinMax, kSNegZero, 0, kMax), (Result{0, 0}));
}

TEST_F(FpuTest, SignInjection) {
  EXPECT_EQ(d(kSgnj, D(1.5), D(-2.0), 0).value, D(-1.5));
  EXPECT_EQ(d(kSgnj, D(-1.5), D(-2.0), 1).value, D(1.5));
  EXPECT_EQ(d(kSgnj, D(-1.5), D(-2.0), 2).value, D(1.5));
  EXPECT_EQ(d(kSgnj, D(-1.5), D(2.0), 2).value, D(-1.5));
  EXPECT_EQ(s(kSgnj, S(1.5f), S(-2.0f), 0).value, S(-1.5f));
  EXPECT_EQ(s(kSgnj, S(1.5f), S(1.5f), 1).value, S(-1.5f));   // fneg.s
  EXPECT_EQ(s(kSgnj, S(-1.5f), S(-1.5f), 2).value, S(1.5f));  // fabs.s
}

// --- comparisons -------------------------------------------------------------

TEST_F(FpuTest, Comparisons) {
  const uint32_t kLe = 0, kLt = 1, kEq = 2;
  auto cmp = [&](uint32_t fmt, uint32_t how, uint64_t a, uint64_t b) {
    f_[1] = a;
    f_[2] = b;
    run(op_fp(kCmp, fmt, 2, 1, how, 5));
    return Result{x_[5], ctx_.fflags};
  };
  EXPECT_EQ(cmp(kD, kEq, 0, kDNegZero), (Result{1, 0}));
  EXPECT_EQ(cmp(kD, kLt, kDNegZero, 0), (Result{0, 0}));
  EXPECT_EQ(cmp(kD, kLe, kDNegZero, 0), (Result{1, 0}));
  EXPECT_EQ(cmp(kD, kLt, D(-2.0), D(-1.0)), (Result{1, 0}));
  EXPECT_EQ(cmp(kD, kLt, D(-1.0), D(-2.0)), (Result{0, 0}));
  EXPECT_EQ(cmp(kD, kLe, kDNegInf, kDInf), (Result{1, 0}));
  EXPECT_EQ(cmp(kD, kEq, D(1.0), D(1.0)), (Result{1, 0}));
  // feq is quiet: NV only for a signaling NaN; flt and fle signal on any NaN.
  EXPECT_EQ(cmp(kD, kEq, kDQNan, kDQNan), (Result{0, 0}));
  EXPECT_EQ(cmp(kD, kEq, kDSNan, D(1.0)), (Result{0, kNV}));
  EXPECT_EQ(cmp(kD, kLt, kDQNan, D(1.0)), (Result{0, kNV}));
  EXPECT_EQ(cmp(kD, kLe, D(1.0), kDQNan), (Result{0, kNV}));
  EXPECT_EQ(cmp(kS, kEq, box(kSQNan), box(kSQNan)), (Result{0, 0}));
  EXPECT_EQ(cmp(kS, kEq, box(kSSNan), box(kSQNan)), (Result{0, kNV}));
  EXPECT_EQ(cmp(kS, kLt, box(S(1.0f)), box(S(2.0f))), (Result{1, 0}));
  EXPECT_EQ(cmp(kS, kLe, box(S(1.0f)), S(2.0f)), (Result{0, kNV}));  // unboxed: NaN
}

TEST_F(FpuTest, WritesToX0AreDiscarded) {
  f_[1] = D(1.0);
  f_[2] = D(1.0);
  run(op_fp(kCmp, kD, 2, 1, 2, 0));
  run(op_fp(kMvXF, kD, 0, 1, 1, 0));
  run(op_fp(kMvXF, kD, 0, 1, 0, 0));
  f_[1] = kDQNan;
  run(op_fp(kCvtToInt, kD, kL, 1, kRtz, 0));
  EXPECT_EQ(x_[0], 0u);
  EXPECT_EQ(ctx_.fflags, kNV);  // flags still accrue
}

// --- fclass ------------------------------------------------------------------

TEST_F(FpuTest, ClassifiesEveryClass) {
  auto cls = [&](uint32_t fmt, uint64_t v) {
    f_[1] = v;
    run(op_fp(kMvXF, fmt, 0, 1, 1, 5));
    EXPECT_EQ(ctx_.fflags, 0u);
    return x_[5];
  };
  EXPECT_EQ(cls(kD, kDNegInf), 1u << 0);
  EXPECT_EQ(cls(kD, D(-1.0)), 1u << 1);
  EXPECT_EQ(cls(kD, kDNegZero | 1), 1u << 2);
  EXPECT_EQ(cls(kD, kDNegZero), 1u << 3);
  EXPECT_EQ(cls(kD, 0), 1u << 4);
  EXPECT_EQ(cls(kD, kDMinNormal - 1), 1u << 5);
  EXPECT_EQ(cls(kD, kDMinNormal), 1u << 6);
  EXPECT_EQ(cls(kD, kDInf), 1u << 7);
  EXPECT_EQ(cls(kD, kDSNan), 1u << 8);
  EXPECT_EQ(cls(kD, kDQNan | 1ull << 63), 1u << 9);
  EXPECT_EQ(cls(kS, box(kSNegInf)), 1u << 0);
  EXPECT_EQ(cls(kS, box(S(-1e30f))), 1u << 1);
  EXPECT_EQ(cls(kS, box(kSNegZero | 0x7fffff)), 1u << 2);
  EXPECT_EQ(cls(kS, box(kSNegZero)), 1u << 3);
  EXPECT_EQ(cls(kS, box(0)), 1u << 4);
  EXPECT_EQ(cls(kS, box(1)), 1u << 5);
  EXPECT_EQ(cls(kS, box(kSMax)), 1u << 6);
  EXPECT_EQ(cls(kS, box(kSInf)), 1u << 7);
  EXPECT_EQ(cls(kS, box(0xffbfffff)), 1u << 8);
  EXPECT_EQ(cls(kS, box(kSQNan)), 1u << 9);
}

// --- conversions to integers (spec 11.7, table 11.4) -------------------------

TEST_F(FpuTest, ConvertToWordSaturates) {
  for (uint32_t fmt : {kS, kD}) {
    auto v = [fmt](double x) { return fmt == kS ? box(S(static_cast<float>(x))) : D(x); };
    const uint64_t nan = fmt == kS ? box(kSQNan) : kDQNan;
    const uint64_t snan = fmt == kS ? box(kSSNan) : kDSNan;
    // fcvt.w: results are sign-extended to 64 bits.
    EXPECT_EQ(to_int(fmt, kW, nan), (Result{0x7fffffff, kNV}));
    EXPECT_EQ(to_int(fmt, kW, snan), (Result{0x7fffffff, kNV}));
    EXPECT_EQ(to_int(fmt, kW, v(kInfinity)), (Result{0x7fffffff, kNV}));
    EXPECT_EQ(to_int(fmt, kW, v(-kInfinity)), (Result{0xffffffff80000000, kNV}));
    EXPECT_EQ(to_int(fmt, kW, v(0x1p31)), (Result{0x7fffffff, kNV}));
    EXPECT_EQ(to_int(fmt, kW, v(-0x1p31)), (Result{0xffffffff80000000, 0}));
    EXPECT_EQ(to_int(fmt, kW, v(-0x1p32)), (Result{0xffffffff80000000, kNV}));
    EXPECT_EQ(to_int(fmt, kW, v(-1.5)), (Result{0xffffffffffffffff, kNX}));
    EXPECT_EQ(to_int(fmt, kW, v(-1.5), kRdn), (Result{0xfffffffffffffffe, kNX}));
    // fcvt.wu: negative values below -1 (after rounding) are invalid.
    EXPECT_EQ(to_int(fmt, kWu, nan), (Result{0xffffffffffffffff, kNV}));
    EXPECT_EQ(to_int(fmt, kWu, v(kInfinity)), (Result{0xffffffffffffffff, kNV}));
    EXPECT_EQ(to_int(fmt, kWu, v(-kInfinity)), (Result{0, kNV}));
    EXPECT_EQ(to_int(fmt, kWu, v(0x1p32)), (Result{0xffffffffffffffff, kNV}));
    EXPECT_EQ(to_int(fmt, kWu, v(-1.0)), (Result{0, kNV}));
    EXPECT_EQ(to_int(fmt, kWu, v(-0.5), kRne), (Result{0, kNX}));          // rounds to -0: fine
    EXPECT_EQ(to_int(fmt, kWu, v(-0.5), kRdn), (Result{0, kNV}));          // rounds to -1
    EXPECT_EQ(to_int(fmt, kWu, v(3e9)), (Result{0xffffffffb2d05e00, 0}));  // sign-extended
    EXPECT_EQ(to_int(fmt, kW, v(-0.0)), (Result{0, 0}));
  }
  EXPECT_EQ(to_int(kD, kW, D(2147483647.0)), (Result{0x7fffffff, 0}));
  EXPECT_EQ(to_int(kD, kW, D(2147483647.5), kRtz), (Result{0x7fffffff, kNX}));
  EXPECT_EQ(to_int(kD, kW, D(2147483647.5), kRne), (Result{0x7fffffff, kNV}));
  EXPECT_EQ(to_int(kD, kW, D(-2147483648.5), kRne), (Result{0xffffffff80000000, kNX}));
  EXPECT_EQ(to_int(kD, kW, D(-2147483648.5), kRmm), (Result{0xffffffff80000000, kNV}));
  EXPECT_EQ(to_int(kD, kWu, D(4294967295.0)), (Result{0xffffffffffffffff, 0}));
  EXPECT_EQ(to_int(kD, kWu, D(4294967295.5), kRup), (Result{0xffffffffffffffff, kNV}));
}

TEST_F(FpuTest, ConvertToLongSaturates) {
  for (uint32_t fmt : {kS, kD}) {
    auto v = [fmt](double x) { return fmt == kS ? box(S(static_cast<float>(x))) : D(x); };
    const uint64_t nan = fmt == kS ? box(kSQNan) : kDQNan;
    EXPECT_EQ(to_int(fmt, kL, nan), (Result{0x7fffffffffffffff, kNV}));
    EXPECT_EQ(to_int(fmt, kL, v(kInfinity)), (Result{0x7fffffffffffffff, kNV}));
    EXPECT_EQ(to_int(fmt, kL, v(-kInfinity)), (Result{0x8000000000000000, kNV}));
    EXPECT_EQ(to_int(fmt, kL, v(0x1p63)), (Result{0x7fffffffffffffff, kNV}));
    EXPECT_EQ(to_int(fmt, kL, v(-0x1p63)), (Result{0x8000000000000000, 0}));
    EXPECT_EQ(to_int(fmt, kL, v(-0x1p64)), (Result{0x8000000000000000, kNV}));
    EXPECT_EQ(to_int(fmt, kLu, nan), (Result{0xffffffffffffffff, kNV}));
    EXPECT_EQ(to_int(fmt, kLu, v(kInfinity)), (Result{0xffffffffffffffff, kNV}));
    EXPECT_EQ(to_int(fmt, kLu, v(-kInfinity)), (Result{0, kNV}));
    EXPECT_EQ(to_int(fmt, kLu, v(0x1p64)), (Result{0xffffffffffffffff, kNV}));
    EXPECT_EQ(to_int(fmt, kLu, v(0x1p63)), (Result{0x8000000000000000, 0}));
    EXPECT_EQ(to_int(fmt, kLu, v(-1.0)), (Result{0, kNV}));
    EXPECT_EQ(to_int(fmt, kLu, v(-0.25), kRup), (Result{0, kNX}));
    EXPECT_EQ(to_int(fmt, kL, v(1e-30), kRup), (Result{1, kNX}));
    EXPECT_EQ(to_int(fmt, kL, v(-1e-30), kRup), (Result{0, kNX}));
    EXPECT_EQ(to_int(fmt, kL, v(-1e-30), kRdn), (Result{0xffffffffffffffff, kNX}));
  }
  EXPECT_EQ(to_int(kD, kLu, D(0x1p64 - 0x1p11)), (Result{0xfffffffffffff800, 0}));
  EXPECT_EQ(to_int(kD, kL, D(0x1p63 - 0x1p10)), (Result{0x7ffffffffffffc00, 0}));
  EXPECT_EQ(to_int(kD, kL, D(-123456789.75), kRne),
            (Result{static_cast<uint64_t>(-123456790), kNX}));
  EXPECT_EQ(to_int(kD, kL, D(-123456789.75), kRtz),
            (Result{static_cast<uint64_t>(-123456789), kNX}));
  EXPECT_EQ(to_int(kD, kL, D(-123456789.75), kRup),
            (Result{static_cast<uint64_t>(-123456789), kNX}));
  EXPECT_EQ(to_int(kD, kL, D(-123456789.25), kRmm),
            (Result{static_cast<uint64_t>(-123456789), kNX}));
}

// --- conversions from integers -----------------------------------------------

TEST_F(FpuTest, ConvertFromIntegers) {
  // fcvt.d.w reads the low 32 bits as signed, fcvt.d.wu as unsigned.
  EXPECT_EQ(from_int(kD, kW, 0x00000000ffffffff), (Result{D(-1.0), 0}));
  EXPECT_EQ(from_int(kD, kWu, 0xffffffff00000003), (Result{D(3.0), 0}));
  EXPECT_EQ(from_int(kD, kWu, 0xffffffff), (Result{D(4294967295.0), 0}));
  EXPECT_EQ(from_int(kD, kL, 0x8000000000000000), (Result{D(-0x1p63), 0}));
  EXPECT_EQ(from_int(kD, kLu, 0xffffffffffffffff), (Result{D(0x1p64), kNX}));
  EXPECT_EQ(from_int(kD, kLu, 0xffffffffffffffff, kRtz), (Result{D(0x1p64 - 0x1p11), kNX}));
  EXPECT_EQ(from_int(kD, kL, 0, kRdn), (Result{0, 0}));  // +0 in every mode
  EXPECT_EQ(from_int(kS, kW, (1u << 24) + 1, kRne), (Result{S(0x1p24f), kNX}));
  EXPECT_EQ(from_int(kS, kW, (1u << 24) + 1, kRup), (Result{S(0x1p24f + 2), kNX}));
  EXPECT_EQ(from_int(kS, kW, (1u << 24) + 3, kRne), (Result{S(0x1p24f + 4), kNX}));
  EXPECT_EQ(from_int(kS, kW, -((1ll << 24) + 1), kRdn), (Result{S(-0x1p24f - 2), kNX}));
  EXPECT_EQ(from_int(kS, kW, -((1ll << 24) + 1), kRup), (Result{S(-0x1p24f), kNX}));
  EXPECT_EQ(from_int(kS, kLu, 0xffffffffffffffff, kRtz), (Result{S(0x1p64f - 0x1p40f), kNX}));
  EXPECT_EQ(from_int(kS, kL, 0x7fffffffffffffff, kRne), (Result{S(0x1p63f), kNX}));
  EXPECT_EQ(from_int(kS, kWu, 0x80000000), (Result{S(0x1p31f), 0}));
}

TEST_F(FpuTest, ConvertBetweenFormats) {
  // fcvt.d.s is exact, including subnormal singles.
  f_[1] = box(1);
  run(op_fp(kCvtFF, kD, 0, 1, kRne, 3));
  EXPECT_EQ(f_[3], D(0x1p-149));
  EXPECT_EQ(ctx_.fflags, 0u);
  f_[1] = box(kSNegInf);
  run(op_fp(kCvtFF, kD, 0, 1, kRmm, 3));
  EXPECT_EQ(f_[3], kDNegInf);
  // fcvt.s.d rounds.
  f_[1] = D(0.1);
  run(op_fp(kCvtFF, kS, 1, 1, kRtz, 3));
  EXPECT_EQ(f_[3], box(0x3dcccccc));
  EXPECT_EQ(ctx_.fflags, kNX);
  run(op_fp(kCvtFF, kS, 1, 1, kRne, 3));
  EXPECT_EQ(f_[3], box(0x3dcccccd));
  f_[1] = kDNegZero;
  run(op_fp(kCvtFF, kS, 1, 1, kRmm, 3));
  EXPECT_EQ(f_[3], box(kSNegZero));
  EXPECT_EQ(ctx_.fflags, 0u);
}

// --- fused multiply-add ------------------------------------------------------

TEST_F(FpuTest, FusedMultiplyAdd) {
  // Single rounding: (1 + 2^-30)(1 - 2^-30) - 1 = -2^-60 exactly.
  EXPECT_EQ(fma_d(kMadd, D(1.0 + 0x1p-30), D(1.0 - 0x1p-30), D(-1.0)), (Result{D(-0x1p-60), 0}));
  EXPECT_EQ(fma_d(kMsub, D(1.0 + 0x1p-30), D(1.0 - 0x1p-30), D(1.0)), (Result{D(-0x1p-60), 0}));
  EXPECT_EQ(fma_d(kNmsub, D(1.0 + 0x1p-30), D(1.0 - 0x1p-30), D(1.0)), (Result{D(0x1p-60), 0}));
  EXPECT_EQ(fma_d(kNmadd, D(1.0 + 0x1p-30), D(1.0 - 0x1p-30), D(-1.0)), (Result{D(0x1p-60), 0}));
  EXPECT_EQ(fma_s(kMadd, S(1.0f + 0x1p-12f), S(1.0f - 0x1p-12f), S(-1.0f), kRmm),
            (Result{S(-0x1p-24f), 0}));
  // Signs: 2*3+1, 2*3-1, -(2*3)+1, -(2*3)-1.
  EXPECT_EQ(fma_d(kMadd, D(2.0), D(3.0), D(1.0)).value, D(7.0));
  EXPECT_EQ(fma_d(kMsub, D(2.0), D(3.0), D(1.0)).value, D(5.0));
  EXPECT_EQ(fma_d(kNmsub, D(2.0), D(3.0), D(1.0)).value, D(-5.0));
  EXPECT_EQ(fma_d(kNmadd, D(2.0), D(3.0), D(1.0)).value, D(-7.0));
  EXPECT_EQ(fma_s(kNmadd, S(2.0f), S(3.0f), S(1.0f), kRmm).value, S(-7.0f));
  // Zero signs: -(0*1) - 0 = -0; 0*1 - 0 = +0 (RNE) and -0 (RDN).
  EXPECT_EQ(fma_d(kNmadd, 0, D(1.0), 0), (Result{kDNegZero, 0}));
  EXPECT_EQ(fma_d(kMsub, 0, D(1.0), 0), (Result{0, 0}));
  EXPECT_EQ(fma_d(kMsub, 0, D(1.0), 0, kRdn), (Result{kDNegZero, 0}));
  EXPECT_EQ(fma_d(kMsub, 0, D(1.0), 0, kRmm), (Result{0, 0}));
  EXPECT_EQ(fma_d(kMadd, D(1.0), D(1.0), D(-1.0), kRdn), (Result{kDNegZero, 0}));
  EXPECT_EQ(fma_d(kMadd, D(1.0), D(1.0), D(-1.0), kRmm), (Result{0, 0}));
  // A tiny addend only matters for the rounding direction.
  EXPECT_EQ(fma_d(kMadd, D(1.0), D(1.0), 1, kRup), (Result{D(1.0) + 1, kNX}));
  EXPECT_EQ(fma_d(kMadd, D(1.0), D(1.0), 1, kRmm), (Result{D(1.0), kNX}));
  EXPECT_EQ(fma_d(kMsub, D(1.0), D(1.0), 1, kRtz), (Result{D(1.0) - 1, kNX}));
  EXPECT_EQ(fma_d(kMsub, D(1.0), D(1.0), 1, kRmm), (Result{D(1.0), kNX}));
  // Overflowing product brought back by the addend is not an overflow.
  EXPECT_EQ(fma_d(kMadd, kDMax, D(2.0), kDNegInf), (Result{kDNegInf, 0}));
  EXPECT_EQ(fma_d(kMadd, kDMax, D(2.0), kDMax | 1ull << 63), (Result{kDMax, 0}));
  EXPECT_EQ(fma_d(kMadd, kDMax, D(2.0), kDMax | 1ull << 63, kRmm), (Result{kDMax, 0}));
}

// spec 11.6: inf * 0 + c raises NV even when c is a quiet NaN.
TEST_F(FpuTest, FusedInfTimesZeroIsInvalid) {
  for (uint32_t rm : {kRne, kRmm}) {
    EXPECT_EQ(fma_d(kMadd, kDInf, 0, kDQNan, rm), (Result{kDQNan, kNV}));
    EXPECT_EQ(fma_d(kNmadd, 0, kDNegInf, kDQNan, rm), (Result{kDQNan, kNV}));
    EXPECT_EQ(fma_d(kMadd, kDInf, 0, D(1.0), rm), (Result{kDQNan, kNV}));
    EXPECT_EQ(fma_s(kMsub, kSInf, 0, kSQNan, rm), (Result{kSQNan, kNV}));
    EXPECT_EQ(fma_s(kMadd, 0, kSInf, S(1.0f), rm), (Result{kSQNan, kNV}));
    // Other NaN cases: quiet NaN addend alone raises nothing.
    EXPECT_EQ(fma_d(kMadd, D(1.0), D(2.0), kDQNan, rm), (Result{kDQNan, 0}));
    EXPECT_EQ(fma_d(kMadd, D(1.0), kDSNan, D(2.0), rm), (Result{kDQNan, kNV}));
    // inf - inf.
    EXPECT_EQ(fma_d(kMadd, kDInf, D(1.0), kDNegInf, rm), (Result{kDQNan, kNV}));
    EXPECT_EQ(fma_d(kMsub, kDInf, D(1.0), kDNegInf, rm), (Result{kDInf, 0}));
  }
}

// --- reserved encodings ------------------------------------------------------

TEST_F(FpuTest, ReservedEncodingsAreIllegal) {
  // Half and quad formats are not implemented.
  for (uint32_t fmt : {kH, kQ}) {
    expect_illegal(op_fp(kAdd, fmt, 2, 1, kRne, 3));
    expect_illegal(op_fp(kMvXF, fmt, 0, 1, 0, 5));
    expect_illegal(r4(kMadd, fmt, 3, 2, 1, kRne, 4));
  }
  expect_illegal(op_fp(kSqrt, kD, 1, 1, kRne, 3));      // rs2 must be 0
  expect_illegal(op_fp(kCvtFF, kS, 0, 1, kRne, 3));     // fcvt.s.s
  expect_illegal(op_fp(kCvtFF, kS, 2, 1, kRne, 3));     // fcvt.s.h
  expect_illegal(op_fp(kCvtFF, kD, 1, 1, kRne, 3));     // fcvt.d.d
  expect_illegal(op_fp(kCvtToInt, kD, 4, 1, kRne, 5));  // no such integer kind
  expect_illegal(op_fp(kCvtToInt, kS, 8, 1, kRtz, 5));
  expect_illegal(op_fp(kCvtFromInt, kS, 4, 5, kRne, 3));
  expect_illegal(op_fp(kMvXF, kS, 1, 1, 0, 5));  // rs2 must be 0
  expect_illegal(op_fp(kMvXF, kD, 0, 1, 2, 5));  // neither fmv nor fclass
  expect_illegal(op_fp(kMvFX, kD, 0, 5, 1, 3));  // rm must be 0
  expect_illegal(op_fp(kMvFX, kS, 3, 5, 0, 3));
  expect_illegal(op_fp(kSgnj, kD, 2, 1, 3, 3));
  expect_illegal(op_fp(kMinMax, kS, 2, 1, 2, 3));
  expect_illegal(op_fp(kCmp, kD, 2, 1, 3, 5));
  for (uint32_t funct5 : {0x06u, 0x07u, 0x09u, 0x0cu, 0x10u, 0x11u, 0x1bu, 0x1du, 0x1fu}) {
    expect_illegal(op_fp(funct5, kD, 0, 1, 0, 3));
  }
  expect_illegal(0x00000013);  // addi: not an FP instruction
}

}  // namespace
}  // namespace vessel::cpu::riscv::fpu
