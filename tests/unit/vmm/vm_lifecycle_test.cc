// Vm::run(), request_stop() and ~Vm under concurrency: stop requests racing
// each other, a signal arriving while the VM is destroyed, and a hart
// asleep in WFI whose timer another hart moves.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "../cpu/rv_asm.h"
#include "cpu/riscv/csr_numbers.h"
#include "vm_fixture.h"

namespace vessel::vmm {
namespace {

namespace as = cpu::riscv::test_asm;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr unsigned zero = 0, t0 = 5, t1 = 6, t2 = 7, s0 = 8, s1 = 9, a0 = 10, t3 = 28, t4 = 29,
                   t5 = 30, t6 = 31;
constexpr uint64_t kFlag = 0x8001'0000;  // a word of RAM the harts share

// rd = 0x80010000 (lui alone would sign-extend bit 31).
void load_flag_address(std::vector<uint32_t>& code, unsigned rd) {
  // One push_back each: GCC 12 at -O3 warns falsely on a range insert into
  // an empty vector (stringop-overflow).
  for (uint32_t insn :
       {as::addi(rd, zero, 1), as::slli(rd, rd, 31), as::lui(t6, 0x10), as::add(rd, rd, t6)}) {
    code.push_back(insn);
  }
}

// Patches the placeholder at `from` into `bne a0, zero, <end of code>`: the
// harts other than hart 0 continue with what is appended next.
void other_harts_continue_here(std::vector<uint32_t>& code, size_t from) {
  code[from] = as::bne(a0, zero, static_cast<int32_t>((code.size() - from) * 4));
}

// Calls vm.request_stop(kQuit) after `limit` unless cancelled first: a test
// whose guest never stops fails instead of hanging.
class Watchdog {
 public:
  Watchdog(Vm& vm, std::chrono::milliseconds limit)
      : thread_([this, &vm, limit] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, limit, [this] { return cancelled_; })) {
            vm.request_stop({VmExit::Reason::kQuit, 0});
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool cancelled_ = false;
  std::thread thread_;
};

enum class Move { kMtimecmp, kMtime };

// Hart 0 arms its timer 100 s ahead, raises a flag and sleeps in WFI until
// MTIP; then it passes through the test device. Hart 1 waits for the flag,
// lets hart 0 fall asleep, and brings the deadline to 10 ms from now by
// writing mtimecmp[0] or mtime.
std::vector<uint32_t> timer_mover(Move move) {
  std::vector<uint32_t> code;
  size_t to_hart1 = code.size();
  code.push_back(0);
  code.insert(code.end(), {
                              as::lui(t0, 0x200c),  // mtime at t0 - 8
                              as::ld(t1, t0, -8),
                              as::lui(t2, 0x3b9ad),  // 10^9 ticks: 100 s
                              as::add(t1, t1, t2),
                              as::lui(t3, 0x2004),  // mtimecmp[0]
                              as::sd(t1, t3, 0),
                              as::addi(t4, zero, 1 << 7),  // MTIE
                              as::csrrw(zero, cpu::riscv::csr::kMie, t4),
                          });
  load_flag_address(code, s0);
  code.insert(code.end(), {as::addi(t5, zero, 1), as::sd(t5, s0, 0)});
  size_t wait = code.size();
  code.insert(code.end(), {
                              as::kWfi,
                              as::csrrs(t5, cpu::riscv::csr::kMip, zero),
                              as::andi(t5, t5, 1 << 7),
                          });
  code.push_back(as::beq(t5, zero, -static_cast<int32_t>((code.size() - wait) * 4)));
  code.insert(code.end(), {
                              as::lui(t6, 0x100),  // test device: pass
                              as::lui(t5, 5),
                              as::addi(t5, t5, 0x555),
                              as::sw(t5, t6, 0),
                              as::jal(zero, 0),
                          });
  other_harts_continue_here(code, to_hart1);
  load_flag_address(code, s0);
  size_t spin = code.size();
  code.push_back(as::ld(t5, s0, 0));
  code.push_back(as::beq(t5, zero, -static_cast<int32_t>((code.size() - spin) * 4)));
  code.push_back(as::lui(t4, 0x100));  // 2^20 turns of a delay loop
  code.push_back(as::addi(t4, t4, -1));
  code.push_back(as::bne(t4, zero, -4));
  code.insert(code.end(), {as::lui(t0, 0x200c), as::lui(t3, 0x2004), as::lui(t2, 0x18)});
  if (move == Move::kMtimecmp) {  // mtimecmp[0] = mtime + 10 ms
    code.insert(code.end(), {as::ld(t1, t0, -8), as::add(t1, t1, t2), as::sd(t1, t3, 0)});
  } else {  // mtime = mtimecmp[0] - 10 ms
    code.insert(code.end(), {as::ld(t1, t3, 0), as::sub(t1, t1, t2), as::sd(t1, t0, -8)});
  }
  code.push_back(as::jal(zero, 0));
  return code;
}

class VmLifecycleTest : public VmFixture {};

TEST_F(VmLifecycleTest, SleepingHartWakesWhenAnotherHartMovesItsTimerEarlier) {
  for (Move move : {Move::kMtimecmp, Move::kMtime}) {
    set_firmware(timer_mover(move));
    std::unique_ptr<Vm> vm = make();
    ASSERT_NE(vm, nullptr);
    auto start = std::chrono::steady_clock::now();
    Result<VmExit> exit = Error("not run");
    {
      Watchdog watchdog(*vm, seconds(20));
      exit = vm->run();
    }
    ASSERT_TRUE(exit.ok()) << exit.error().message();
    EXPECT_EQ(exit->reason, VmExit::Reason::kPowerOff)
        << (move == Move::kMtime ? "mtime" : "mtimecmp")
        << " write did not wake the hart (stopped by the watchdog)";
    EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(20));
  }
}

// Both harts count in RAM for ever.
std::vector<uint32_t> counter_loop() {
  std::vector<uint32_t> code;
  load_flag_address(code, s0);
  code.insert(code.end(),
              {as::ld(s1, s0, 0), as::addi(s1, s1, 1), as::sd(s1, s0, 0), as::jal(zero, -12)});
  return code;
}

uint64_t guest_counter(Vm& vm) {
  uint64_t value = 0;
  EXPECT_TRUE(vm.board().bus().read(kFlag, 8, value));
  return value;
}

// Two stop requests race each other at the end of every run. A request
// that lands after run() returned is kept for the next run, which then
// returns at once with its reason; otherwise the next run must execute the
// guest until it is stopped. What must never happen: a run that stops its
// harts at once but has no reason to return (it waits for a stop that was
// dropped).
TEST_F(VmLifecycleTest, RacingStopRequestsLeaveTheNextRunWorking) {
  set_firmware(counter_loop());
  std::unique_ptr<Vm> vm = make();
  ASSERT_NE(vm, nullptr);
  std::minstd_rand random(7);
  for (int round = 0; round < 100; ++round) {
    auto stopper = [&vm](unsigned delay_us) {
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
      vm->request_stop({VmExit::Reason::kSignal, 0});
    };
    std::thread a(stopper, random() % 300);
    std::thread b(stopper, random() % 300);
    ASSERT_TRUE(vm->run().ok());
    a.join();
    b.join();

    const uint64_t before = guest_counter(*vm);
    Result<VmExit> probe = Error("not run");
    {
      Watchdog watchdog(*vm, milliseconds(20));
      probe = vm->run();
    }
    ASSERT_TRUE(probe.ok()) << probe.error().message();
    if (probe->reason == VmExit::Reason::kSignal) continue;  // a late request
    ASSERT_NE(guest_counter(*vm), before) << "round " << round << ": run() executed no guest code";
  }
}

std::atomic<int> sigterms_delivered{0};

// SIGTERM arrives while the VM is being destroyed: the watcher thread's
// request_stop() must not touch a board or stop state that is gone.
TEST_F(VmLifecycleTest, SignalDuringDestructionIsHarmless) {
  set_firmware(counter_loop());
  // A SIGTERM the watcher never read is delivered once ~Vm unblocks it.
  struct sigaction count {
  }, previous{};
  count.sa_handler = [](int) { ++sigterms_delivered; };
  sigemptyset(&count.sa_mask);
  ASSERT_EQ(sigaction(SIGTERM, &count, &previous), 0);
  std::minstd_rand random(7);
  for (int round = 0; round < 100; ++round) {
    VmConfig c = config();
    c.handle_signals = true;
    std::unique_ptr<Vm> vm = make(c);
    ASSERT_NE(vm, nullptr);
    std::thread killer([delay_us = random() % 400] {
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
      kill(getpid(), SIGTERM);
    });
    vm.reset();
    killer.join();
  }
  sigaction(SIGTERM, &previous, nullptr);
}

}  // namespace
}  // namespace vessel::vmm

namespace vessel::vmm {
namespace {

uint64_t guest_u64(Vm& vm, uint64_t addr) {
  uint64_t v = 0;
  EXPECT_TRUE(vm.board().bus().read_bytes(addr, &v, sizeof v));
  return v;
}

// Waits up to 10 s for pred().
template <typename Pred>
bool eventually(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// QMP stop/cont: a paused VM runs no guest instruction and its clock stands
// still; cont goes on from there.
TEST_F(VmLifecycleTest, PauseStopsTheHartsAndTheClockAndResumeGoesOn) {
  std::vector<uint32_t> code;
  load_flag_address(code, s0);  // a counter the hart bumps forever
  code.insert(code.end(),
              {as::ld(t5, s0, 0), as::addi(t5, t5, 1), as::sd(t5, s0, 0), as::jal(zero, -12)});
  set_firmware(code);
  std::unique_ptr<Vm> vm = make(1);
  ASSERT_NE(vm, nullptr);
  constexpr uint64_t kCounter = 0x80010000;
  std::thread runner([&] { ASSERT_TRUE(vm->run().ok()); });
  Watchdog watchdog(*vm, std::chrono::seconds(30));

  ASSERT_TRUE(eventually([&] { return guest_u64(*vm, kCounter) > 1000; }));
  vm->pause();
  EXPECT_TRUE(vm->paused());
  uint64_t frozen = guest_u64(*vm, kCounter);
  uint64_t ticks = vm->board().clock().ticks();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(guest_u64(*vm, kCounter), frozen);

  vm->resume();
  EXPECT_FALSE(vm->paused());
  // 100 ms of pause did not count: far fewer than 10^6 ticks went by.
  EXPECT_LT(vm->board().clock().ticks() - ticks, uint64_t{GuestClock::kFrequency / 20});
  EXPECT_TRUE(eventually([&] { return guest_u64(*vm, kCounter) > frozen + 1000; }));
  EXPECT_NE(vm->vcpu_thread_ids()[0], 0);

  // A stop request ends a paused run too.
  vm->pause();
  vm->request_stop({VmExit::Reason::kQuit, 0});
  runner.join();
}

}  // namespace
}  // namespace vessel::vmm
