// Lockstep differential testing of the JIT against the interpreter: the
// same program on two harts with identical RAM, one interpreting and one
// running translated blocks, both stepped by the same random budgets; their
// architectural state (pc, x registers, instret, privilege, data memory)
// must be equal after every step. The programs are random instructions of
// every RV64G row of the ISA table, with operands steered so that they keep
// running (branches stay in the program, loads and stores mostly hit a data
// area, some fault on purpose), and a trap handler that skips whatever trapped.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <random>
#include <vector>

#include "lockstep_harness.h"

namespace vessel::cpu::riscv {
namespace {

using namespace test_asm;
using namespace lockstep;

void run_program(uint32_t seed, unsigned steps) {
  Generator<std::mt19937_64> gen(std::mt19937_64{seed});
  std::vector<uint32_t> code(kCodeInsns);
  for (unsigned n = 0; n < kCodeInsns; ++n) code[n] = gen.instruction(n);
  std::vector<uint64_t> data(kDataSize / 8);
  for (uint64_t& word : data) word = gen.next();
  Lockstep pair(code, data.data());
  for (unsigned step = 0; step < steps; ++step) {
    const uint64_t budget = 1 + gen.pick(step % 4 == 0 ? 2000 : 40);
    // Now and then a machine timer interrupt, raised between steps.
    const std::string difference = pair.step(budget, gen.pick(16) == 0);
    ASSERT_EQ(difference, "") << "seed " << seed << ", step " << step;
  }
}

TEST(JitLockstep, RandomProgramsMatchTheInterpreter) {
  for (uint32_t seed = 1; seed <= 400; ++seed) {
    run_program(seed, 200);
    if (HasFatalFailure()) return;
  }
}

// A loop long enough to run many passes inside one translated block, with
// instret read back: the counts must stay exact across passes and exits.
// Floating point where the JIT has fast paths: inexact accrued (their
// precondition), operands from a data area of special and ordinary values
// (zeros, denormals, the smallest normals, infinities, quiet and signaling
// NaNs, boxed and unboxed singles, random bits), every rounding mode.
TEST(JitLockstep, FloatingPointMatchesTheInterpreter) {
  const uint32_t fp_ops[] = {
      0x02000053, 0x00000053, 0x0a000053, 0x08000053, 0x12000053, 0x10000053,  // add, sub .d/.s
      0x1a000053, 0x18000053, 0x5a000053, 0x58000053,  // div, sqrt (rs2 = 0 below)
      0x22000053, 0x22001053, 0x22002053,              // fsgnj, fsgnjn, fsgnjx .d
      0xa2002053, 0xa2001053, 0xa2000053,              // feq, flt, fle .d
      0xa0002053, 0xa0001053, 0xa0000053,              // feq, flt, fle .s
      0xd2000053, 0xe2000053, 0xf2000053,              // fcvt.d.w, fmv.x.d, fmv.d.x
      0xd2100053, 0xd2200053,                          // fcvt.d.wu, fcvt.d.l
      0xd0000053, 0xd0100053, 0xd0200053,              // fcvt.s.w, fcvt.s.wu, fcvt.s.l
      0x02000043, 0x02000047, 0x0200004b, 0x0200004f,  // fmadd.. fnmadd .d
      0x00000043, 0x0000004f};                         // fmadd.s, fnmadd.s
  const uint64_t specials[] = {0,
                               uint64_t{1} << 63,
                               1,                    // the smallest denormal
                               uint64_t{1} << 52,    // the smallest normal
                               uint64_t{3} << 52,    // in the second binade
                               0x7ff0000000000000,   // +inf
                               0x7ff8000000000000,   // quiet NaN
                               0x7ff0000000000001,   // signaling NaN
                               0x3ff8000000000000,   // 1.5
                               0xc00a000000000000,   // -3.25
                               0x7fefffffffffffff,   // the largest double
                               0xffffffff3fc00000,   // 1.5f, boxed
                               0xffffffff00800000,   // the smallest normal float, boxed
                               0x000000003fc00000};  // 1.5f, not boxed
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    std::mt19937_64 rng(seed);
    std::vector<uint64_t> data(kDataSize / 8);
    for (uint64_t& v : data) {
      const uint64_t pick = rng() % 3;
      v = pick == 0   ? specials[rng() % std::size(specials)]
          : pick == 1 ? rng()
                      : std::bit_cast<uint64_t>(static_cast<double>(rng() % 100000) / 7.0);
    }
    std::vector<uint32_t> program;
    program.push_back(i(0x73, 6, 0, 1, 0x001));  // csrrsi fflags, NX
    for (unsigned r = 0; r < 32; ++r) program.push_back(i(0x07, 3, r, kDataBase, 8 * r));  // fld
    while (program.size() < kCodeInsns - 1) {
      uint32_t insn = fp_ops[rng() % std::size(fp_ops)];
      const unsigned opcode = insn & 0x7f;
      const bool no_rs2 = insn == 0x5a000053 || insn == 0x58000053 || (insn >> 25) >= 0x68;
      insn |= static_cast<uint32_t>(rng() % 32) << 7 | static_cast<uint32_t>(rng() % 32) << 15;
      if (!no_rs2) insn |= static_cast<uint32_t>(rng() % 32) << 20;
      if (opcode != 0x53) insn |= static_cast<uint32_t>(rng() % 32) << 27;  // rs3
      // rm: nearest, dynamic (frm 0) or toward zero, on the arithmetic.
      const uint32_t f7 = insn >> 25;
      if (opcode != 0x53 || f7 < 0x10 || f7 == 0x2c || f7 == 0x2d || f7 == 0x68 || f7 == 0x69) {
        const uint32_t modes[] = {0, 7, 1};
        insn |= modes[rng() % 3] << 12;
      }
      // fmv.x.d / feq.. write x registers: keep x28 and x29.
      if ((f7 == 0x71 || f7 == 0x51 || f7 == 0x50) && ((insn >> 7) & 31) >= 28) {
        insn &= ~(31u << 7);
      }
      program.push_back(insn);
    }
    program.push_back(jal(0, 0));
    Lockstep pair(program, data.data());
    for (unsigned step = 0; step < 40; ++step) {
      ASSERT_EQ(pair.step(1 + rng() % 100, false), "") << "seed " << seed << ", step " << step;
    }
  }
}

// A block of loads, stores and ALU instructions where one instruction
// faults, at every position in turn: pc, instret and every register must be
// exact at the trap (the handler skips the faulting instruction).
TEST(JitLockstep, FaultAtEveryPositionOfABlock) {
  constexpr unsigned kLength = 24;
  const std::vector<uint8_t> data(kDataSize, 0x5a);
  for (unsigned fault = 0; fault < kLength; ++fault) {
    std::vector<uint32_t> program;
    for (unsigned n = 0; n < kLength; ++n) {
      const unsigned rd = 1 + n % 20;
      if (n == fault) {
        // x0 + 8 is not RAM: a load or store access fault.
        program.push_back(n % 2 ? ld(rd, 0, 8) : sd(rd, 0, 8));
      } else if (n % 3 == 0) {
        program.push_back(ld(rd, kDataBase, static_cast<int32_t>(8 * n)));
      } else if (n % 3 == 1) {
        program.push_back(sd(rd, kDataBase, static_cast<int32_t>(8 * n + 256)));
      } else {
        program.push_back(addi(rd, rd, static_cast<int32_t>(n)));
      }
    }
    program.push_back(jal(0, 0));
    Lockstep pair(program, data.data());
    for (unsigned step = 0; step < 12; ++step) {
      ASSERT_EQ(pair.step(1 + step * 7, false), "") << "fault at " << fault << ", step " << step;
    }
  }
}

TEST(JitLockstep, CountedLoopKeepsInstretExact) {
  const std::vector<uint32_t> loop = {
      addi(5, 0, 1000),             // t0 = 1000
      addi(6, 6, 3),                // loop: t1 += 3
      addi(5, 5, -1),               // t0 -= 1
      bne(5, 0, -8),                // while t0 != 0
      csrrs(7, csr::kMinstret, 0),  // t2 = instret
      jal(0, 0),                    // spin
  };
  const std::vector<uint8_t> data(kDataSize);
  Lockstep pair(loop, data.data());
  for (unsigned step = 0; step < 50; ++step) ASSERT_EQ(pair.step(97, false), "") << "step " << step;
  EXPECT_EQ(pair.translated().reg(6), 3000u);
  // Retired before the csrr: the boot code, the first addi, 1000 passes of three.
  EXPECT_EQ(pair.translated().reg(7), boot_code().size() + 3001);
}

}  // namespace
}  // namespace vessel::cpu::riscv
