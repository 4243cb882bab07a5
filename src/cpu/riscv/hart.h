// One RV64GC hardware thread: registers, CSRs, privilege levels, traps, the
// MMU and an interpreter loop. The hart reaches memory only through
// memory::AddressSpace and devices only through interrupt pins
// (set_interrupt_pending), so it knows nothing of the board around it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "base/clock.h"
#include "base/result.h"
#include "base/state.h"
#include "memory/address_space.h"

namespace vessel::cpu::riscv {

enum class Priv : uint8_t { kUser = 0, kSupervisor = 1, kMachine = 3 };

// mip/mie bit numbers (priv spec 3.1.9).
enum InterruptBit : unsigned {
  kSsip = 1, kMsip = 3, kStip = 5, kMtip = 7, kSeip = 9, kMeip = 11,
};

enum class RunExit : uint8_t {
  kBudgetSpent,       // ran the requested number of instructions, or was kicked
  kWaitForInterrupt,  // executed WFI and nothing is pending: call wait_for_interrupt()
};

class Hart {
 public:
  Hart(memory::AddressSpace& bus, const GuestClock& clock, unsigned hart_id);
  ~Hart();
  Hart(const Hart&) = delete;
  Hart& operator=(const Hart&) = delete;

  // Power-on state: M-mode, registers zero, CSRs at reset values, pc = `pc`.
  void reset(uint64_t pc);

  unsigned id() const { return hart_id_; }
  uint64_t pc() const { return pc_; }
  void set_pc(uint64_t pc) { pc_ = pc; }
  uint64_t reg(unsigned index) const { return x_[index & 31]; }
  void set_reg(unsigned index, uint64_t value) {
    if ((index & 31) != 0) x_[index & 31] = value;
  }
  Priv privilege() const { return priv_; }
  uint64_t instret() const { return instret_; }

  // Executes up to `budget` instructions on the calling (vCPU) thread.
  RunExit run(uint64_t budget);

  // Thread-safe interrupt pins driven by the interrupt controllers.
  void set_interrupt_pending(unsigned bit, bool level);
  // Thread-safe: make run() and wait_for_interrupt() return promptly.
  void kick();
  // Sleeps until an interrupt is pending and enabled in mie, kick() is
  // called, or the guest clock reaches `deadline_ticks`. An idle guest
  // therefore costs no host CPU.
  void wait_for_interrupt(const GuestClock& clock, uint64_t deadline_ticks);
  // The Sstc supervisor timer deadline (stimecmp) in guest ticks, or UINT64_MAX.
  uint64_t supervisor_timer_deadline() const;

  void save(StateWriter& out) const;
  Result<void> load(StateReader& in);

 private:
  friend class HartTestAccess;
  // (state and helpers: filled in by the CPU implementation)
  memory::AddressSpace& bus_;
  const GuestClock& clock_;
  unsigned hart_id_;
  uint64_t x_[32] = {};
  uint64_t pc_ = 0;
  Priv priv_ = Priv::kMachine;
  uint64_t instret_ = 0;
};

}  // namespace vessel::cpu::riscv
