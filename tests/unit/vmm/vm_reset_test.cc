// Resets in place: a reset request (the guest's, or the host's as QMP
// system_reset makes it) resets the machine within run() and the guest boots
// again; under RebootAction::kShutdown it ends run() instead.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "../cpu/rv_asm.h"
#include "cpu/riscv/hart.h"
#include "vm_fixture.h"

namespace vessel::vmm {
namespace {

namespace as = cpu::riscv::test_asm;

constexpr unsigned zero = 0, t4 = 29, t5 = 30, t6 = 31, s0 = 8, a0 = 10;
constexpr uint64_t kBoots = 0x8001'0000;  // RAM beyond the firmware: a reset keeps it

// Hart 0 counts its boots at kBoots; the first boot asks the test device
// for a reset, the second powers off. The other harts sleep in WFI with
// nothing enabled in mie: only the reset gets them out.
std::vector<uint32_t> reboot_once() {
  return {
      as::bne(a0, zero, 4 * 19),  // other harts: to the WFI loop at the end
      as::addi(s0, zero, 1),
      as::slli(s0, s0, 31),
      as::lui(t6, 0x10),
      as::add(s0, s0, t6),  // s0 = kBoots
      as::ld(t5, s0, 0),
      as::addi(t5, t5, 1),
      as::sd(t5, s0, 0),
      as::lui(t6, 0x100),  // the test device
      as::addi(t4, zero, 1),
      as::bne(t5, t4, 4 * 5),  // a later boot: power off
      as::lui(t5, 7),
      as::addi(t5, t5, 0x777),
      as::sw(t5, t6, 0),  // reset
      as::jal(zero, 0),
      as::lui(t5, 5),
      as::addi(t5, t5, 0x555),
      as::sw(t5, t6, 0),  // power off
      as::jal(zero, 0),
      as::kWfi,
      as::jal(zero, -4),
  };
}

// Every hart spins for ever.
std::vector<uint32_t> spin() {
  return {as::jal(zero, 0)};
}

uint64_t boots(Vm& vm) {
  uint64_t value = 0;
  EXPECT_TRUE(vm.board().bus().read(kBoots, 8, value));
  return value;
}

class VmResetTest : public VmFixture {};

TEST_F(VmResetTest, GuestResetBootsAgainWithinRun) {
  set_firmware(reboot_once());
  std::unique_ptr<Vm> vm = make(4);
  ASSERT_NE(vm, nullptr);
  std::vector<VmExit> resets;
  vm->on_reset([&resets](const VmExit& cause) { resets.push_back(cause); });
  Result<VmExit> exit = vm->run();
  ASSERT_TRUE(exit.ok()) << exit.error().message();
  EXPECT_EQ(exit->reason, VmExit::Reason::kPowerOff);
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(resets[0].reason, VmExit::Reason::kReset);
  EXPECT_EQ(boots(*vm), 2u);
}

TEST_F(VmResetTest, NoRebootEndsRunWithTheRequest) {
  set_firmware(reboot_once());
  VmConfig c = config();
  c.reboot = RebootAction::kShutdown;
  std::unique_ptr<Vm> vm = make(c);
  ASSERT_NE(vm, nullptr);
  bool reset = false;
  vm->on_reset([&reset](const VmExit&) { reset = true; });
  Result<VmExit> exit = vm->run();
  ASSERT_TRUE(exit.ok()) << exit.error().message();
  EXPECT_EQ(exit->reason, VmExit::Reason::kReset);
  EXPECT_FALSE(reset);
  EXPECT_EQ(boots(*vm), 1u);
}

// QMP stop, then system_reset: the machine resets, the VM stays paused (and
// can be saved), the vCPU threads are the ones it had.
TEST_F(VmResetTest, HostResetOfAPausedVmLeavesItPaused) {
  set_firmware(spin());
  std::unique_ptr<Vm> vm = make(2);
  ASSERT_NE(vm, nullptr);
  std::mutex mutex;
  std::condition_variable cv;
  int resets = 0;
  vm->on_reset([&](const VmExit& cause) {
    EXPECT_EQ(cause.reason, VmExit::Reason::kHostReset);
    std::lock_guard lock(mutex);
    ++resets;
    cv.notify_all();
  });
  Result<VmExit> exit = Error("not run");
  std::thread runner([&] { exit = vm->run(); });
  std::vector<int> threads;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    threads = vm->vcpu_thread_ids();
  } while (std::find(threads.begin(), threads.end(), 0) != threads.end());

  vm->pause();
  vm->board().hart(0).set_pc(vm->board().boot_info().entry() + 0x100);
  vm->request_stop({VmExit::Reason::kHostReset, 0});
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return resets == 1; }));
  }
  EXPECT_TRUE(vm->paused());
  EXPECT_EQ(vm->board().hart(0).pc(), vm->board().boot_info().entry());
  StateWriter state;
  EXPECT_TRUE(vm->save(state).ok());
  EXPECT_EQ(vm->vcpu_thread_ids(), threads);

  vm->resume();
  vm->request_stop({VmExit::Reason::kQuit, 0});
  runner.join();
  ASSERT_TRUE(exit.ok()) << exit.error().message();
  EXPECT_EQ(exit->reason, VmExit::Reason::kQuit);
}

// A stop wins over a reset still pending: run() ends.
TEST_F(VmResetTest, StopWinsOverAPendingReset) {
  set_firmware(spin());
  std::unique_ptr<Vm> vm = make(2);
  ASSERT_NE(vm, nullptr);
  vm->request_stop({VmExit::Reason::kHostReset, 0});
  vm->request_stop({VmExit::Reason::kQuit, 0});
  Result<VmExit> exit = vm->run();
  ASSERT_TRUE(exit.ok()) << exit.error().message();
  EXPECT_EQ(exit->reason, VmExit::Reason::kQuit);
}

}  // namespace
}  // namespace vessel::vmm
