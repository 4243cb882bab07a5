// SiFive GPIO controller ("sifive,gpio0", as on the FU540/FU740): up to 32
// pins, each a bit of the 32-bit registers below (SiFive FU540-C000 manual,
// chapter "General Purpose Input/Output Controller"; Linux's gpio-sifive
// driver). Each pin has its own interrupt line, raised while any of its
// rise/fall/high/low pending bits is set together with the matching enable
// bit; pending bits latch until the guest writes 1 to clear them (a level
// condition that still holds sets its bit again at once).
//
// A pin's level comes from outside when the host drives it (set_input), else
// from its output driver when output_en is set (output_val ^ out_xor), else
// from its pull-up (pue). input_val reads the pin levels of the pins whose
// input_en is set. The hardware I/O functions (iof_en/iof_sel) and drive
// strength (ds) are stored but drive nothing: this board has no peripheral
// behind them.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <vector>

#include "base/log.h"
#include "base/result.h"
#include "base/state.h"
#include "devices/irq.h"
#include "memory/mmio.h"

namespace vessel::devices {

class SifiveGpio : public memory::MmioHandler {
 public:
  static constexpr unsigned kMaxPins = 32;
  static constexpr uint64_t kWindowSize = 0x1000;

  // One line per pin: irqs.size() pins (1..kMaxPins), pin i drives irqs[i].
  // Lines are called with the controller's lock held and must not call back
  // into it.
  explicit SifiveGpio(std::vector<IrqLine> irqs);

  unsigned pins() const { return pins_; }

  // Host side: an external device drives `pin` to `level`. Thread-safe.
  // Pins out of range are ignored.
  void set_input(unsigned pin, bool level);
  // The level the controller's output driver puts on `pin`: output_val ^
  // out_xor while output_en is set, false otherwise. Thread-safe.
  bool output_level(unsigned pin) const;

  bool mmio_read(uint64_t offset, unsigned size, uint64_t& value) override;
  bool mmio_write(uint64_t offset, unsigned size, uint64_t value) override;

  // Machine reset: every register 0; pins the host drives stay as driven.
  void reset();

  void save(StateWriter& out) const;
  Result<void> load(StateReader& in);

 private:
  uint32_t read_reg(uint64_t offset) const;
  void write_reg(uint64_t offset, uint32_t value);
  // Samples the pins into input_val, latches the pending bits and drives the
  // interrupt lines that changed (or all of them). Called after every
  // change, with the lock held.
  void update_locked(bool drive_all_lines = false);
  // The registers a saved state holds, in their order.
  template <typename Self>
  static auto saved_registers(Self& self) {
    return std::array{&self.input_val_, &self.input_en_, &self.output_en_, &self.output_val_,
                      &self.pue_,       &self.ds_,       &self.rise_ie_,   &self.rise_ip_,
                      &self.fall_ie_,   &self.fall_ip_,  &self.high_ie_,   &self.high_ip_,
                      &self.low_ie_,    &self.low_ip_,   &self.iof_en_,    &self.iof_sel_,
                      &self.out_xor_,   &self.driven_,   &self.external_};
  }

  std::vector<IrqLine> irqs_;
  unsigned pins_;
  uint32_t mask_;  // the implemented pins' bits
  log::GuestErrorLog guest_errors_;

  mutable std::mutex mutex_;
  uint32_t input_val_ = 0;
  uint32_t input_en_ = 0;
  uint32_t output_en_ = 0;
  uint32_t output_val_ = 0;
  uint32_t pue_ = 0;
  uint32_t ds_ = 0;
  uint32_t rise_ie_ = 0;
  uint32_t rise_ip_ = 0;
  uint32_t fall_ie_ = 0;
  uint32_t fall_ip_ = 0;
  uint32_t high_ie_ = 0;
  uint32_t high_ip_ = 0;
  uint32_t low_ie_ = 0;
  uint32_t low_ip_ = 0;
  uint32_t iof_en_ = 0;
  uint32_t iof_sel_ = 0;
  uint32_t out_xor_ = 0;
  uint32_t driven_ = 0;    // pins the host drives
  uint32_t external_ = 0;  // the levels it drives them to
  uint32_t lines_ = 0;     // the levels last driven on the interrupt lines
};

}  // namespace vessel::devices
