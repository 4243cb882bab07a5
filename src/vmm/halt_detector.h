// Recognises a machine that can never run again: every hart waits for an
// interrupt (WFI) and none can arrive. A waiting hart can be woken only by
// interrupts enabled in its mie (priv spec 3.3.3: WFI ignores mstatus.MIE).
// If mie enables nothing but software interrupts, only another hart can wake
// it — through the CLINT's MSIP (SSIP is set by the hart itself) — so when
// all harts wait like that and no IPI is pending, nothing ever will be.
// Timer and external interrupts always count as possible wake-ups.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace vessel::vmm {

class HaltDetector {
 public:
  enum class Wait : uint8_t {
    kAnyInterrupt,  // a timer or device may wake the hart
    kIpiOnly,       // only another hart's IPI (MSIP) can
    kForever,       // nothing can (mie has no interrupt that could arrive)
  };
  // mie bits 3 (MSIP) and 1 (SSIP) (priv spec 3.1.9).
  static Wait classify(uint64_t mie);

  // `ipi_pending(h)`: whether hart h's MSIP is raised.
  HaltDetector(unsigned harts, std::function<bool(unsigned hart)> ipi_pending);

  // Hart `hart` is about to sleep in WFI. Returns true if, with it, the whole
  // machine is halted. Thread-safe.
  bool waiting(unsigned hart, Wait how);
  // Hart `hart` woke up and runs again.
  void running(unsigned hart);
  void reset();

 private:
  std::mutex mutex_;
  std::vector<Wait> state_;  // kAnyInterrupt also stands for "running"
  std::function<bool(unsigned)> ipi_pending_;
};

}  // namespace vessel::vmm
