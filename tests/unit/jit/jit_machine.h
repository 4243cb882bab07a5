// A hart on 4 MiB of RAM at 0x80000000, interpreting or running
// translated blocks, for the JIT's tests.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "../cpu/rv_asm.h"
#include "cpu/riscv/hart.h"
#include "jit/x86_compiler.h"

namespace vessel::cpu::riscv {

constexpr uint64_t kRamBase = 0x80000000;
constexpr uint64_t kRamSize = 4 << 20;

// An address below 4 GiB whose low 12 bits are below 0x800 into rd: lui,
// shifts (lui alone sign-extends), addi.
inline std::vector<uint32_t> load_address(unsigned rd, uint64_t address) {
  EXPECT_LT(address & 0xfff, 0x800u);
  return {test_asm::lui(rd, static_cast<uint32_t>(address >> 12)), test_asm::slli(rd, rd, 32),
          test_asm::i(0x13, 5, rd, rd, 32),  // srli rd, rd, 32
          test_asm::addi(rd, rd, static_cast<int32_t>(address & 0xfff))};
}

class Machine {
 public:
  explicit Machine(bool jit) {
    EXPECT_TRUE(bus.map_ram(kRamBase, kRamSize).ok());
    if (jit) {
      auto compiler = jit::make_x86_compiler(hart.jit_layout());
      EXPECT_TRUE(compiler.ok());
      hart.set_compiler(std::move(compiler).value());
    }
    hart.reset(kRamBase);
  }
  void write(uint64_t address, const void* bytes, size_t size) {
    std::memcpy(bus.ram_ptr(address, size), bytes, size);
  }
  void code(uint64_t address, const std::vector<uint32_t>& insns) {
    write(address, insns.data(), insns.size() * 4);
  }
  const uint8_t* memory(uint64_t address, size_t size) { return bus.ram_ptr(address, size); }

  memory::AddressSpace bus;
  GuestClock clock;
  Hart hart{bus, clock, 0};
};

}  // namespace vessel::cpu::riscv
