// Stores into code that has already run are seen without FENCE.I, by both
// engines: the next time the code runs, it is the new code (see
// memory::CodePages).
#include <gtest/gtest.h>

#include "../cpu/rv_asm.h"
#include "lockstep_harness.h"

namespace vessel::cpu::riscv {
namespace {

using namespace test_asm;
using lockstep::kRamBase;
using lockstep::load_address;
using lockstep::Machine;

constexpr uint64_t kMain = kRamBase;
constexpr uint64_t kNewInsn = kRamBase + 0x3000;  // a data word: the replacement instruction
constexpr unsigned kA0 = 10, kRa = 1, kT1 = 6, kT2 = 7, kT3 = 28;

// main calls `target` (a0 += 1) three times, replaces its first instruction with
// `a0 += 100` by a plain store, calls it again and spins. `scribble`: it
// first stores into the target's page elsewhere (data next to code), after
// the calls.
std::vector<uint32_t> main_program(uint64_t target, bool scribble) {
  std::vector<uint32_t> p = load_address(kT2, target);
  for (uint32_t insn : load_address(kT3, kNewInsn)) p.push_back(insn);
  p.push_back(addi(kA0, 0, 0));
  auto call = [&] {  // jalr ra, t2
    p.push_back(i(0x67, 0, kRa, kT2, 0));
  };
  for (int n = 0; n < 3; ++n) call();  // decoded, translated and linked by now
  if (scribble) p.push_back(sw(kA0, kT2, 0x800));
  p.push_back(lw(kT1, kT3, 0));
  p.push_back(sw(kT1, kT2, 0));  // no FENCE.I follows
  call();
  p.push_back(jal(0, 0));
  return p;
}

std::vector<uint32_t> target_function() {
  return {addi(kA0, kA0, 1), i(0x67, 0, 0, kRa, 0)};  // ret
}

void run(bool jit, uint64_t target, bool scribble) {
  SCOPED_TRACE(std::string(jit ? "jit" : "interpreter") + (scribble ? ", data on the page" : ""));
  Machine m(jit);
  m.code(kMain, main_program(target, scribble));
  m.code(target, target_function());
  const uint32_t replacement = addi(kA0, kA0, 100);
  m.write(kNewInsn, &replacement, 4);
  m.hart.run(1000);
  EXPECT_EQ(m.hart.reg(kA0), 103u) << "the last call ran the old code";
}

TEST(SelfModifyingCode, StoreIntoCodeOnAnotherPageIsSeen) {
  for (bool jit : {false, true}) {
    for (bool scribble : {false, true}) run(jit, kRamBase + 0x2000, scribble);
  }
}

TEST(SelfModifyingCode, StoreIntoCodeOnTheSamePageIsSeen) {
  for (bool jit : {false, true}) run(jit, kMain + 0x100, false);
}

}  // namespace
}  // namespace vessel::cpu::riscv
