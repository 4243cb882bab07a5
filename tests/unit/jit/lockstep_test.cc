// Lockstep differential testing of the JIT against the interpreter: the
// same program on two harts with identical RAM, one interpreting and one
// running translated blocks, both stepped by the same random budgets; their
// architectural state (pc, x registers, instret, privilege, data memory)
// must be equal after every step. The programs are random instructions of
// every RV64G row of the ISA table, with operands steered so that they keep
// running (branches stay in the program, loads and stores mostly hit a data
// area, some fault on purpose), and a trap handler that skips whatever trapped.
#include <gtest/gtest.h>

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
