// A hart on 16 MiB of RAM at 0x80000000, with helpers to place code and data.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>

#include "cpu/riscv/hart.h"

namespace vessel::cpu::riscv {

constexpr uint64_t kRamBase = 0x80000000;
constexpr uint64_t kRamSize = 16 << 20;

class HartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(bus.map_ram(kRamBase, kRamSize).ok());
    hart.reset(kRamBase);
  }
  // Writes instructions at `addr` (32-bit encodings).
  void code(uint64_t addr, std::initializer_list<uint32_t> insns) {
    for (uint32_t insn : insns) {
      std::memcpy(bus.ram_ptr(addr, 4), &insn, 4);
      addr += 4;
    }
  }
  void poke64(uint64_t addr, uint64_t value) { std::memcpy(bus.ram_ptr(addr, 8), &value, 8); }
  uint64_t peek64(uint64_t addr) {
    uint64_t v;
    std::memcpy(&v, bus.ram_ptr(addr, 8), 8);
    return v;
  }

  memory::AddressSpace bus;
  GuestClock clock;
  Hart hart{bus, clock, 0};
};

}  // namespace vessel::cpu::riscv
