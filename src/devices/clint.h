// SiFive CLINT as on QEMU's `virt` board (the ACLINT MSWI + MTIMER layout):
// msip[h] at 0x0 + 4h, mtimecmp[h] at 0x4000 + 8h, mtime at 0xbff8. mtime is
// the board's GuestClock, so it always agrees with the harts' `time` CSR.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "base/result.h"
#include "base/state.h"
#include "devices/irq.h"
#include "memory/mmio.h"

namespace vessel::devices {

class Clint : public memory::MmioHandler {
 public:
  static constexpr uint64_t kWindowSize = 0x10000;

  // msip[h] / mtip[h] drive hart h's MSIP / MTIP bits; retime(h) says that
  // hart h's timer deadline moved (mtimecmp[h] or mtime written), so a hart
  // asleep until the old deadline must look again. They are called with the
  // CLINT's lock held and must not call back into the CLINT.
  Clint(unsigned num_harts, GuestClock& clock, std::vector<IrqLine> msip, std::vector<IrqLine> mtip,
        std::function<void(unsigned hart)> retime);

  // Compares mtime with mtimecmp[hart] and drives mtip[hart]. vCPU loops call
  // it when time has passed (e.g. on reaching timer_deadline()).
  void update_timer(unsigned hart);
  // mtimecmp[hart]: the tick at which the hart's timer interrupt becomes pending.
  uint64_t timer_deadline(unsigned hart) const;

  bool mmio_read(uint64_t offset, unsigned size, uint64_t& value) override;
  bool mmio_write(uint64_t offset, unsigned size, uint64_t value) override;

  // Machine reset: mtime (the GuestClock) back to 0, no software or timer
  // interrupt pending, no deadline armed.
  void reset();

  // The section holds mtime too: loading it sets the GuestClock.
  void save(StateWriter& out) const;
  Result<void> load(StateReader& in);

 private:
  struct Hart {
    std::atomic<uint64_t> mtimecmp{UINT64_MAX};
    bool msip = false;
    bool mtip = false;  // last level driven
  };

  void update_timer_locked(unsigned hart, uint64_t now);
  void set_msip(unsigned hart, bool level);

  GuestClock& clock_;
  std::vector<IrqLine> msip_out_;
  std::vector<IrqLine> mtip_out_;
  std::function<void(unsigned)> retime_;
  log::GuestErrorLog guest_errors_;

  mutable std::mutex mutex_;
  std::unique_ptr<Hart[]> harts_;
  unsigned num_harts_;
};

}  // namespace vessel::devices
