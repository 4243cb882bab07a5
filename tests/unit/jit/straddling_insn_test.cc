// A 4-byte instruction whose halves lie in two pages is translated as a
// block of its own, which checks at run time that its second half is still
// what it was translated from (a store into the next page, or a remapping of
// it, must be seen).
#include <gtest/gtest.h>

#include "../cpu/rv_asm.h"
#include "lockstep_harness.h"

namespace vessel::cpu::riscv {
namespace {

using namespace test_asm;
using lockstep::kRamBase;
using lockstep::load_address;
using lockstep::Machine;

constexpr unsigned kA0 = 10, kA1 = 11, kA2 = 12, kS0 = 8, kT1 = 6, kT2 = 7;
constexpr uint64_t kLoop = kRamBase + 0x1ffa;  // the instruction at 0x1ffe straddles

// Bytes of 4-byte instructions placed back to back from `address`, which
// need not be 4-aligned.
void place(Machine& m, uint64_t address, const std::vector<uint32_t>& insns) {
  m.write(address, insns.data(), insns.size() * 4);
}

// The loop, five passes: a0 += 1; a2 += 3 (straddling); a1 -= 1. After the
// first five passes it rewrites the upper half of `a2 += 3` into `a2 += 5`
// by a plain store (no FENCE.I) and runs five more.
void load_program(Machine& m) {
  std::vector<uint32_t> main = load_address(kT2, kLoop + 6);  // the straddling half
  const uint32_t add5 = addi(kA2, kA2, 5);
  main.push_back(addi(kT1, 0, static_cast<int32_t>(add5 >> 16)));  // 0x56: fits an addi
  main.push_back(addi(kA1, 0, 5));
  const uint64_t jump_at = kRamBase + 4 * main.size();
  main.push_back(jal(0, static_cast<int32_t>(kLoop - jump_at)));
  m.code(kRamBase, main);
  const uint64_t after = kLoop + 16;
  place(m, kLoop,
        {addi(kA0, kA0, 1), addi(kA2, kA2, 3), addi(kA1, kA1, -1), bne(kA1, 0, -12),
         bne(kS0, 0, 20), addi(kS0, 0, 1), s(0x23, 1, kT2, kT1, 0),  // sh t1, 0(t2)
         addi(kA1, 0, 5), jal(0, static_cast<int32_t>(kLoop - (after + 16))), jal(0, 0)});
}

void run(bool jit) {
  SCOPED_TRACE(jit ? "jit" : "interpreter");
  Machine m(jit);
  load_program(m);
  m.hart.run(200);
  EXPECT_EQ(m.hart.reg(kA0), 10u);
  EXPECT_EQ(m.hart.reg(kA2), 5u * 3 + 5u * 5) << "the rewritten second half was not seen";
  EXPECT_EQ(m.hart.reg(kS0), 1u);
}

TEST(StraddlingInstruction, RunsAndSeesItsSecondHalfRewritten) {
  for (bool jit : {false, true}) run(jit);
}

}  // namespace
}  // namespace vessel::cpu::riscv
