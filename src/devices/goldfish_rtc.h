// Goldfish RTC (Android emulator's "goldfish-rtc", as on QEMU's `virt`):
// nanoseconds since the Unix epoch from the host's wall clock plus a guest
// offset, with one alarm. Reading TIME_LOW latches TIME_HIGH so a 64-bit time
// is read consistently with two 32-bit loads.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "base/log.h"
#include "base/result.h"
#include "base/state.h"
#include "devices/irq.h"
#include "memory/mmio.h"

namespace vessel::devices {

class GoldfishRtc : public memory::MmioHandler {
 public:
  // `irq` is raised while an alarm has fired, interrupts are enabled and the
  // guest has not cleared it. An internal thread fires alarms on time; `irq`
  // may be called from it with the RTC's lock held.
  explicit GoldfishRtc(IrqLine irq);
  ~GoldfishRtc() override;
  GoldfishRtc(const GoldfishRtc&) = delete;
  GoldfishRtc& operator=(const GoldfishRtc&) = delete;

  bool mmio_read(uint64_t offset, unsigned size, uint64_t& value) override;
  bool mmio_write(uint64_t offset, unsigned size, uint64_t value) override;

  // Machine reset: the host's time, no alarm, interrupts disabled.
  void reset();

  // Saves the guest's offset from the host wall clock, so a restored guest
  // keeps its own notion of time (and follows the host clock from there).
  void save(StateWriter& out) const;
  Result<void> load(StateReader& in);

 private:
  uint64_t now_locked() const;
  void check_alarm_locked();
  void update_irq();
  void alarm_thread();

  IrqLine irq_;
  log::GuestErrorLog guest_errors_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  uint64_t offset_ns_ = 0;  // guest time - host time, modulo 2^64
  uint64_t alarm_ns_ = 0;
  uint32_t time_high_latch_ = 0;
  bool alarm_armed_ = false;
  bool irq_enabled_ = false;
  bool irq_pending_ = false;
  bool irq_level_ = false;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after every field above is initialised
};

}  // namespace vessel::devices
