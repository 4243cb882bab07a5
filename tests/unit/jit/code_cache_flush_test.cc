// A code cache too small for the code that runs is flushed whole, again
// and again, while blocks link to each other: the stubs it keeps must still
// work and the guest must compute what the interpreter computes.
#include <gtest/gtest.h>

#include <cstring>

#include "../cpu/rv_asm.h"
#include "cpu/riscv/hart.h"
#include "jit/x86_compiler.h"

namespace vessel::cpu::riscv {
namespace {

using namespace test_asm;

constexpr uint64_t kRamBase = 0x80000000;
constexpr unsigned kBlocks = 3000, kPasses = 3, kA0 = 10, kA1 = 11;

// kPasses passes through a chain of kBlocks blocks (a0 += 1, then a jump to
// the next), counted down in a1.
uint64_t run(bool jit) {
  memory::AddressSpace bus;
  EXPECT_TRUE(bus.map_ram(kRamBase, 1 << 20).ok());
  GuestClock clock;
  Hart hart(bus, clock, 0);
  if (jit) {
    jit::JitOptions options;
    options.code_cache_size = 64 << 10;  // far less than the chain's code
    auto compiler = jit::make_x86_compiler(hart.jit_layout(), options);
    EXPECT_TRUE(compiler.ok());
    hart.set_compiler(std::move(compiler).value(), 0);
  }
  std::vector<uint32_t> code = {addi(kA1, 0, kPasses)};
  const int32_t chain = 4 * static_cast<int32_t>(code.size());
  for (unsigned b = 0; b < kBlocks; ++b) code.insert(code.end(), {addi(kA0, kA0, 1), jal(0, 4)});
  const int32_t back = chain - 4 * static_cast<int32_t>(code.size() + 2);
  code.insert(code.end(), {addi(kA1, kA1, -1), beq(kA1, 0, 8), jal(0, back), jal(0, 0)});
  std::memcpy(bus.ram_ptr(kRamBase, code.size() * 4), code.data(), code.size() * 4);
  hart.reset(kRamBase);
  hart.run(1 + kPasses * (2 * kBlocks + 3));
  EXPECT_EQ(hart.reg(kA1), 0u);
  return hart.reg(kA0);
}

TEST(CodeCacheFlush, ChainedBlocksSurviveRepeatedFlushes) {
  const uint64_t expected = uint64_t{kPasses} * kBlocks;
  EXPECT_EQ(run(false), expected);
  EXPECT_EQ(run(true), expected);
}

}  // namespace
}  // namespace vessel::cpu::riscv
