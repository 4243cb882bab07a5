// Translated code and other threads: an interrupt raised while a hart spins
// in a loop that never leaves its block is taken promptly, and two harts
// incrementing one counter with LR/SC lose no increment.
#include <gtest/gtest.h>

#include <thread>

#include "../cpu/rv_asm.h"
#include "lockstep_harness.h"

namespace vessel::cpu::riscv {
namespace {

using namespace test_asm;
using lockstep::kRamBase;
using lockstep::load_address;
using lockstep::Machine;

constexpr uint64_t kHandlerAddress = kRamBase + 0x1000;
constexpr uint64_t kCounter = kRamBase + 0x3000;

TEST(TranslatedCode, InterruptEndsAnEndlessLoop) {
  Machine m(true);
  std::vector<uint32_t> boot = load_address(5, kHandlerAddress);
  boot.push_back(csrrw(0, csr::kMtvec, 5));
  boot.push_back(addi(5, 0, 1 << kMtip));
  boot.push_back(csrrw(0, csr::kMie, 5));
  boot.push_back(i(0x73, 6, 0, 8, csr::kMstatus));  // csrrsi mstatus, MIE (uimm 8)
  boot.push_back(addi(6, 6, 1));                    // loop: t1 += 1
  boot.push_back(jal(0, -4));                       //       forever
  m.code(kRamBase, boot);
  // The handler: a0 = 1, mie = 0, then WFI, which ends run().
  m.code(kHandlerAddress, {addi(10, 0, 1), csrrw(0, csr::kMie, 0), kWfi, jal(0, 0)});

  std::thread raiser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    m.hart.set_interrupt_pending(kMtip, true);
  });
  constexpr uint64_t kBudget = uint64_t{20} << 30;  // minutes of work if the interrupt is missed
  const RunExit exit = m.hart.run(kBudget);
  raiser.join();
  EXPECT_EQ(exit, RunExit::kWaitForInterrupt);
  EXPECT_EQ(m.hart.reg(10), 1u) << "the handler did not run";
  EXPECT_GT(m.hart.reg(6), 0u) << "the loop did not run";
  EXPECT_LT(m.hart.instret(), kBudget);
}

TEST(TranslatedCode, HartsRacingOnLrScLoseNoIncrement) {
  memory::AddressSpace bus;
  ASSERT_TRUE(bus.map_ram(kRamBase, lockstep::kRamSize).ok());
  GuestClock clock;
  constexpr int kIncrements = 1000000;
  // t0 = counter, t1 = increments left; loop: lr.w, addi, sc.w, retry on failure.
  std::vector<uint32_t> program = load_address(5, kCounter);
  program.push_back(lui(6, kIncrements >> 12));
  program.push_back(addi(6, 6, kIncrements & 0xfff));
  const std::vector<uint32_t> loop = {lr_w(7, 5),       // retry: t2 = lr.w (t0)
                                      addi(7, 7, 1),    //        t2 += 1
                                      sc_w(28, 5, 7),   //        t3 = sc.w t2, (t0)
                                      bne(28, 0, -12),  //        failed: retry
                                      addi(6, 6, -1),   //        t1 -= 1
                                      bne(6, 0, -20),   //        more: retry
                                      kWfi,
                                      jal(0, 0)};  // done
  program.insert(program.end(), loop.begin(), loop.end());
  std::memcpy(bus.ram_ptr(kRamBase, program.size() * 4), program.data(), program.size() * 4);

  std::vector<std::unique_ptr<Hart>> harts;
  for (unsigned h = 0; h < 2; ++h) {
    harts.push_back(std::make_unique<Hart>(bus, clock, h));
    auto compiler = jit::make_x86_compiler(harts.back()->jit_layout());
    ASSERT_TRUE(compiler.ok());
    harts.back()->set_compiler(std::move(compiler).value(), 0);  // every block translated
    harts.back()->reset(kRamBase);
  }
  std::vector<std::thread> threads;
  for (auto& hart : harts) {
    threads.emplace_back([&hart] {
      while (hart->run(100000) != RunExit::kWaitForInterrupt) {
      }
    });
  }
  for (auto& thread : threads) thread.join();
  uint32_t counter;
  std::memcpy(&counter, bus.ram_ptr(kCounter, 4), 4);
  EXPECT_EQ(counter, 2u * kIncrements);
}

}  // namespace
}  // namespace vessel::cpu::riscv
