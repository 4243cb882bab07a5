#include "devices/uart16550.h"

#include <utility>
#include <vector>

namespace vessel::devices {
namespace {

// Register offsets (16550A datasheet, "Register Summary"); the pairs share an
// offset and are told apart by direction or by LCR.DLAB.
enum Reg : unsigned {
  kRbrThrDll = 0,
  kIerDlm = 1,
  kIirFcr = 2,
  kLcr = 3,
  kMcr = 4,
  kLsr = 5,
  kMsr = 6,
  kScr = 7,
};

constexpr uint8_t kIerRxData = 0x01;
constexpr uint8_t kIerThrEmpty = 0x02;
constexpr uint8_t kIerLineStatus = 0x04;
constexpr uint8_t kIerModemStatus = 0x08;

// IIR interrupt identification, highest priority first.
constexpr uint8_t kIirNoInterrupt = 0x01;
constexpr uint8_t kIirLineStatus = 0x06;
constexpr uint8_t kIirRxData = 0x04;
constexpr uint8_t kIirRxTimeout = 0x0c;
constexpr uint8_t kIirThrEmpty = 0x02;
constexpr uint8_t kIirModemStatus = 0x00;
constexpr uint8_t kIirFifosEnabled = 0xc0;

constexpr uint8_t kFcrEnable = 0x01;
constexpr uint8_t kFcrClearRx = 0x02;
constexpr uint8_t kFcrKeptBits = 0xc9;  // enable, DMA mode, RX trigger level

constexpr uint8_t kLcrDlab = 0x80;

constexpr uint8_t kMcrDtr = 0x01;
constexpr uint8_t kMcrRts = 0x02;
constexpr uint8_t kMcrOut1 = 0x04;
constexpr uint8_t kMcrOut2 = 0x08;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kMcrMask = 0x1f;

constexpr uint8_t kLsrDataReady = 0x01;
constexpr uint8_t kLsrOverrun = 0x02;
constexpr uint8_t kLsrErrorBits = 0x1e;  // OE, PE, FE, BI
constexpr uint8_t kLsrThrEmpty = 0x20;
constexpr uint8_t kLsrTxEmpty = 0x40;

constexpr uint8_t kMsrDcts = 0x01;
constexpr uint8_t kMsrDdsr = 0x02;
constexpr uint8_t kMsrTeri = 0x04;
constexpr uint8_t kMsrDdcd = 0x08;
constexpr uint8_t kMsrCts = 0x10;
constexpr uint8_t kMsrDsr = 0x20;
constexpr uint8_t kMsrRi = 0x40;
constexpr uint8_t kMsrDcd = 0x80;
constexpr uint8_t kMsrDeltas = 0x0f;
// Outside loopback the line looks like a connected terminal.
constexpr uint8_t kMsrIdleLines = kMsrCts | kMsrDsr | kMsrDcd;

constexpr uint32_t kStateVersion = 1;

size_t rx_trigger_level(uint8_t fcr) {
  if (!(fcr & kFcrEnable)) return 1;
  static constexpr size_t kLevels[4] = {1, 4, 8, 14};
  return kLevels[fcr >> 6];
}

}  // namespace

Uart16550::Uart16550(IrqLine irq, std::function<void(uint8_t)> output)
    : irq_(std::move(irq)), output_(std::move(output)), msr_(kMsrIdleLines) {}

void Uart16550::receive(uint8_t byte) {
  std::lock_guard lock(mutex_);
  push_rx(byte);
  update_irq();
}

size_t Uart16550::rx_space() const {
  std::lock_guard lock(mutex_);
  return kRxCapacity - rx_.size();
}

void Uart16550::push_rx(uint8_t byte) {
  if (rx_.size() >= kRxCapacity) {
    lsr_errors_ |= kLsrOverrun;
    return;
  }
  rx_.push_back(byte);
}

uint8_t Uart16550::lsr_locked() const {
  uint8_t lsr = kLsrThrEmpty | kLsrTxEmpty | lsr_errors_;
  if (!rx_.empty()) lsr |= kLsrDataReady;
  return lsr;
}

uint8_t Uart16550::iir_locked() const {
  uint8_t fifo_bits = (fcr_ & kFcrEnable) ? kIirFifosEnabled : 0;
  uint8_t id = kIirNoInterrupt;
  if ((ier_ & kIerLineStatus) && (lsr_errors_ & kLsrErrorBits)) {
    id = kIirLineStatus;
  } else if ((ier_ & kIerRxData) && !rx_.empty()) {
    // Below the trigger level a real UART reports a character timeout after
    // four character times; with no line timing we report it at once.
    id = rx_.size() >= rx_trigger_level(fcr_) ? kIirRxData : kIirRxTimeout;
  } else if ((ier_ & kIerThrEmpty) && thre_pending_) {
    id = kIirThrEmpty;
  } else if ((ier_ & kIerModemStatus) && (msr_ & kMsrDeltas)) {
    id = kIirModemStatus;
  }
  return fifo_bits | id;
}

uint8_t Uart16550::modem_status_lines() const {
  if (!(mcr_ & kMcrLoop)) return kMsrIdleLines;
  // Loopback wiring (16550A datasheet, MCR bit 4): RTS→CTS, DTR→DSR,
  // OUT1→RI, OUT2→DCD.
  uint8_t lines = 0;
  if (mcr_ & kMcrRts) lines |= kMsrCts;
  if (mcr_ & kMcrDtr) lines |= kMsrDsr;
  if (mcr_ & kMcrOut1) lines |= kMsrRi;
  if (mcr_ & kMcrOut2) lines |= kMsrDcd;
  return lines;
}

void Uart16550::update_modem_status() {
  uint8_t old_lines = msr_ & 0xf0;
  uint8_t new_lines = modem_status_lines();
  uint8_t changed = old_lines ^ new_lines;
  uint8_t deltas = msr_ & kMsrDeltas;
  if (changed & kMsrCts) deltas |= kMsrDcts;
  if (changed & kMsrDsr) deltas |= kMsrDdsr;
  if ((old_lines & kMsrRi) && !(new_lines & kMsrRi)) deltas |= kMsrTeri;  // trailing edge only
  if (changed & kMsrDcd) deltas |= kMsrDdcd;
  msr_ = static_cast<uint8_t>(new_lines | deltas);
}

void Uart16550::update_irq() {
  bool level = !(iir_locked() & kIirNoInterrupt);
  if (level != irq_level_) drive_irq(level);
}

void Uart16550::drive_irq(bool level) {
  irq_level_ = level;
  if (irq_) irq_(level);
}

uint8_t Uart16550::read_reg(unsigned reg) {
  switch (reg) {
    case kRbrThrDll: {
      if (lcr_ & kLcrDlab) return static_cast<uint8_t>(divisor_);
      if (rx_.empty()) return 0;
      uint8_t byte = rx_.front();
      rx_.pop_front();
      return byte;
    }
    case kIerDlm:
      return (lcr_ & kLcrDlab) ? static_cast<uint8_t>(divisor_ >> 8) : ier_;
    case kIirFcr: {
      uint8_t iir = iir_locked();
      // Reading IIR while it reports THR empty acknowledges that interrupt.
      if ((iir & 0x0f) == kIirThrEmpty) thre_pending_ = false;
      return iir;
    }
    case kLcr:
      return lcr_;
    case kMcr:
      return mcr_;
    case kLsr: {
      uint8_t lsr = lsr_locked();
      lsr_errors_ = 0;
      return lsr;
    }
    case kMsr: {
      uint8_t msr = msr_;
      msr_ &= static_cast<uint8_t>(~kMsrDeltas);
      return msr;
    }
    case kScr:
      return scr_;
  }
  return 0;
}

void Uart16550::write_reg(unsigned reg, uint8_t value) {
  switch (reg) {
    case kRbrThrDll:
      if (lcr_ & kLcrDlab) {
        divisor_ = static_cast<uint16_t>((divisor_ & 0xff00) | value);
        return;
      }
      if (mcr_ & kMcrLoop) {
        push_rx(value);
      } else if (output_) {
        output_(value);
      }
      // The byte leaves the holding register at once, which empties it again.
      thre_pending_ = true;
      return;
    case kIerDlm:
      if (lcr_ & kLcrDlab) {
        divisor_ = static_cast<uint16_t>((divisor_ & 0x00ff) | (value << 8));
        return;
      }
      // Enabling the THR-empty interrupt while THR is empty raises it; Linux's
      // 8250 driver probes for exactly this at startup.
      if ((value & kIerThrEmpty) && !(ier_ & kIerThrEmpty)) thre_pending_ = true;
      ier_ = value & 0x0f;
      return;
    case kIirFcr: {
      bool was_enabled = fcr_ & kFcrEnable;
      bool enable = value & kFcrEnable;
      if (was_enabled != enable || (value & kFcrClearRx)) {
        rx_.clear();
        lsr_errors_ = 0;
      }
      // Bit 0 gates every other FCR bit (16550A datasheet, FCR).
      fcr_ = enable ? static_cast<uint8_t>(value & kFcrKeptBits) : 0;
      return;
    }
    case kLcr:
      lcr_ = value;
      return;
    case kMcr:
      mcr_ = value & kMcrMask;
      update_modem_status();
      return;
    case kLsr:
    case kMsr:
      // Factory-test writes on real parts; nothing a driver relies on.
      guest_errors_.warn("uart16550: write 0x%02x to read-only register %u ignored", value, reg);
      return;
    case kScr:
      scr_ = value;
      return;
  }
}

// Back to the power-on state: registers cleared, the line idle, both FIFOs
// (and so any input not yet read) emptied, as a master reset does.
void Uart16550::reset() {
  std::lock_guard lock(mutex_);
  rx_.clear();
  ier_ = fcr_ = lcr_ = mcr_ = scr_ = lsr_errors_ = 0;
  msr_ = kMsrIdleLines;
  divisor_ = 0;
  thre_pending_ = false;
  update_irq();
}

bool Uart16550::mmio_read(uint64_t offset, unsigned /*size*/, uint64_t& value) {
  std::lock_guard lock(mutex_);
  value = offset < 8 ? read_reg(static_cast<unsigned>(offset)) : 0;
  update_irq();
  return true;
}

bool Uart16550::mmio_write(uint64_t offset, unsigned /*size*/, uint64_t value) {
  std::lock_guard lock(mutex_);
  if (offset < 8) write_reg(static_cast<unsigned>(offset), static_cast<uint8_t>(value));
  update_irq();
  return true;
}

void Uart16550::save(StateWriter& out) const {
  std::lock_guard lock(mutex_);
  out.begin_section("uart16550", kStateVersion);
  out.u8(ier_);
  out.u8(fcr_);
  out.u8(lcr_);
  out.u8(mcr_);
  out.u8(scr_);
  out.u8(msr_);
  out.u8(lsr_errors_);
  out.u16(divisor_);
  out.boolean(thre_pending_);
  std::vector<uint8_t> rx(rx_.begin(), rx_.end());
  out.bytes(rx);
  out.end_section();
}

Result<void> Uart16550::load(StateReader& in) {
  TRY(in.begin_section("uart16550", kStateVersion));
  uint8_t ier = in.u8();
  uint8_t fcr = in.u8();
  uint8_t lcr = in.u8();
  uint8_t mcr = in.u8();
  uint8_t scr = in.u8();
  uint8_t msr = in.u8();
  uint8_t lsr_errors = in.u8();
  uint16_t divisor = in.u16();
  bool thre_pending = in.boolean();
  std::vector<uint8_t> rx = in.bytes();
  TRY(in.end_section());
  if (rx.size() > kRxCapacity) return Error("saved state: uart16550 receive buffer too large");

  std::lock_guard lock(mutex_);
  ier_ = ier & 0x0f;
  fcr_ = (fcr & kFcrEnable) ? static_cast<uint8_t>(fcr & kFcrKeptBits) : 0;
  lcr_ = lcr;
  mcr_ = mcr & kMcrMask;
  scr_ = scr;
  msr_ = static_cast<uint8_t>(modem_status_lines() | (msr & kMsrDeltas));
  lsr_errors_ = lsr_errors & kLsrErrorBits;
  divisor_ = divisor;
  thre_pending_ = thre_pending;
  rx_.assign(rx.begin(), rx.end());
  drive_irq(!(iir_locked() & kIirNoInterrupt));  // the line may have been anywhere
  return Ok();
}

}  // namespace vessel::devices
