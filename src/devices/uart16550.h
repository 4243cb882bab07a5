// NS16550A UART as on QEMU's `virt` board: eight byte-wide registers at
// offsets 0..7 (reg-shift 0). Transmission is instantaneous, so the
// transmitter is always empty from the guest's point of view; received bytes
// wait in a FIFO until the guest reads them. Both Linux's 8250 driver
// (interrupt driven) and OpenSBI's uart8250 driver (polled) run on it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include "base/log.h"
#include "base/result.h"
#include "base/state.h"
#include "devices/irq.h"
#include "memory/mmio.h"

namespace vessel::devices {

class Uart16550 : public memory::MmioHandler {
 public:
  // Host-side receive buffer. A real 16550A holds 16 bytes; a console paste
  // must not be cut off, so bytes beyond that wait here (overrun past it).
  static constexpr size_t kRxCapacity = 4096;

  // `output` receives every byte the guest transmits (outside loopback mode);
  // it is called on vCPU threads with the UART's lock held, so it must not
  // call back into the UART. `irq` likewise.
  Uart16550(IrqLine irq, std::function<void(uint8_t)> output);

  // Host → guest. Thread-safe. A byte that finds the buffer full is dropped
  // and reported to the guest as an overrun (LSR.OE).
  void receive(uint8_t byte);
  // Free space in the receive buffer, for callers that want to throttle input.
  size_t rx_space() const;

  bool mmio_read(uint64_t offset, unsigned size, uint64_t& value) override;
  bool mmio_write(uint64_t offset, unsigned size, uint64_t value) override;

  // Machine reset: the state after construction; unread input is dropped.
  void reset();

  void save(StateWriter& out) const;
  Result<void> load(StateReader& in);

 private:
  uint8_t read_reg(unsigned reg);
  void write_reg(unsigned reg, uint8_t value);
  uint8_t iir_locked() const;
  uint8_t lsr_locked() const;
  uint8_t modem_status_lines() const;
  void update_modem_status();
  void push_rx(uint8_t byte);
  void update_irq();
  void drive_irq(bool level);

  IrqLine irq_;
  std::function<void(uint8_t)> output_;
  log::GuestErrorLog guest_errors_;

  mutable std::mutex mutex_;
  std::deque<uint8_t> rx_;
  uint8_t ier_ = 0;
  uint8_t fcr_ = 0;  // as last written, minus the self-clearing reset bits
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;
  uint8_t scr_ = 0;
  uint8_t msr_ = 0;         // status lines (bits 7:4) and delta bits (3:0)
  uint8_t lsr_errors_ = 0;  // OE/PE/FE/BI, cleared by reading LSR
  uint16_t divisor_ = 0;
  bool thre_pending_ = false;  // THR-empty interrupt latched, cleared by IIR read or THR write
  bool irq_level_ = false;
};

}  // namespace vessel::devices
