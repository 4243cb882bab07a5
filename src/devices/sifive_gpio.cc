#include "devices/sifive_gpio.h"

#include <algorithm>
#include <string>
#include <utility>

namespace vessel::devices {
namespace {

// Register map (FU540-C000 manual, GPIO memory map): one bit per pin.
enum Reg : uint64_t {
  kInputVal = 0x00,   // R: pin levels of the input-enabled pins
  kInputEn = 0x04,    // R/W
  kOutputEn = 0x08,   // R/W
  kOutputVal = 0x0c,  // R/W
  kPue = 0x10,        // R/W: internal pull-up
  kDs = 0x14,         // R/W: drive strength
  kRiseIe = 0x18,
  kRiseIp = 0x1c,  // write 1 to clear
  kFallIe = 0x20,
  kFallIp = 0x24,
  kHighIe = 0x28,
  kHighIp = 0x2c,
  kLowIe = 0x30,
  kLowIp = 0x34,
  kIofEn = 0x38,   // R/W: hardware I/O function enable
  kIofSel = 0x3c,  // R/W: hardware I/O function select
  kOutXor = 0x40,  // R/W: output inversion
};

constexpr uint32_t kStateVersion = 1;

uint32_t pin_mask(size_t pins) {
  return pins >= 32 ? 0xffff'ffffu : (uint32_t{1} << pins) - 1;
}

}  // namespace

SifiveGpio::SifiveGpio(std::vector<IrqLine> irqs)
    : irqs_(std::move(irqs)),
      pins_(static_cast<unsigned>(std::min<size_t>(irqs_.size(), kMaxPins))),
      mask_(pin_mask(pins_)) {
  irqs_.resize(pins_);
  std::lock_guard lock(mutex_);
  update_locked();
}

void SifiveGpio::set_input(unsigned pin, bool level) {
  if (pin >= pins_) return;
  const uint32_t bit = uint32_t{1} << pin;
  std::lock_guard lock(mutex_);
  driven_ |= bit;
  external_ = level ? external_ | bit : external_ & ~bit;
  update_locked();
}

bool SifiveGpio::output_level(unsigned pin) const {
  if (pin >= pins_) return false;
  std::lock_guard lock(mutex_);
  return ((output_en_ & (output_val_ ^ out_xor_)) >> pin) & 1;
}

void SifiveGpio::update_locked(bool drive_all_lines) {
  // Each pin: the host's level if it drives it, else its output driver's,
  // else its pull-up's.
  const uint32_t own_level = (output_en_ & (output_val_ ^ out_xor_)) | (~output_en_ & pue_);
  const uint32_t level = (driven_ & external_) | (~driven_ & own_level);
  const uint32_t previous = input_val_;
  input_val_ = level & input_en_ & mask_;
  rise_ip_ |= input_val_ & ~previous;
  fall_ip_ |= ~input_val_ & previous;
  high_ip_ |= input_val_;
  low_ip_ |= ~input_val_ & mask_;

  const uint32_t lines =
      (rise_ip_ & rise_ie_) | (fall_ip_ & fall_ie_) | (high_ip_ & high_ie_) | (low_ip_ & low_ie_);
  const uint32_t changed = drive_all_lines ? mask_ : lines ^ lines_;
  lines_ = lines;
  for (unsigned pin = 0; pin < pins_; ++pin) {
    if (((changed >> pin) & 1) != 0 && irqs_[pin]) irqs_[pin](((lines >> pin) & 1) != 0);
  }
}

uint32_t SifiveGpio::read_reg(uint64_t offset) const {
  switch (offset) {
    case kInputVal:
      return input_val_;
    case kInputEn:
      return input_en_;
    case kOutputEn:
      return output_en_;
    case kOutputVal:
      return output_val_;
    case kPue:
      return pue_;
    case kDs:
      return ds_;
    case kRiseIe:
      return rise_ie_;
    case kRiseIp:
      return rise_ip_;
    case kFallIe:
      return fall_ie_;
    case kFallIp:
      return fall_ip_;
    case kHighIe:
      return high_ie_;
    case kHighIp:
      return high_ip_;
    case kLowIe:
      return low_ie_;
    case kLowIp:
      return low_ip_;
    case kIofEn:
      return iof_en_;
    case kIofSel:
      return iof_sel_;
    case kOutXor:
      return out_xor_;
    default:
      return 0;
  }
}

void SifiveGpio::write_reg(uint64_t offset, uint32_t value) {
  value &= mask_;  // the bits of pins that do not exist are hardwired to 0
  switch (offset) {
    case kInputEn:
      input_en_ = value;
      break;
    case kOutputEn:
      output_en_ = value;
      break;
    case kOutputVal:
      output_val_ = value;
      break;
    case kPue:
      pue_ = value;
      break;
    case kDs:
      ds_ = value;
      break;
    case kRiseIe:
      rise_ie_ = value;
      break;
    case kRiseIp:
      rise_ip_ &= ~value;
      break;
    case kFallIe:
      fall_ie_ = value;
      break;
    case kFallIp:
      fall_ip_ &= ~value;
      break;
    case kHighIe:
      high_ie_ = value;
      break;
    case kHighIp:
      high_ip_ &= ~value;
      break;
    case kLowIe:
      low_ie_ = value;
      break;
    case kLowIp:
      low_ip_ &= ~value;
      break;
    case kIofEn:
      iof_en_ = value;
      break;
    case kIofSel:
      iof_sel_ = value;
      break;
    case kOutXor:
      out_xor_ = value;
      break;
    case kInputVal:
      guest_errors_.warn("sifive-gpio: write to the read-only input_val ignored");
      return;
    default:
      guest_errors_.warn("sifive-gpio: write to offset 0x%llx ignored",
                         static_cast<unsigned long long>(offset));
      return;
  }
  update_locked();
}

bool SifiveGpio::mmio_read(uint64_t offset, unsigned size, uint64_t& value) {
  if (size != 4) {
    guest_errors_.warn("sifive-gpio: %u-byte read at 0x%llx (registers are 32-bit)", size,
                       static_cast<unsigned long long>(offset));
    return false;
  }
  std::lock_guard lock(mutex_);
  value = read_reg(offset);
  return true;
}

bool SifiveGpio::mmio_write(uint64_t offset, unsigned size, uint64_t value) {
  if (size != 4) {
    guest_errors_.warn("sifive-gpio: %u-byte write at 0x%llx (registers are 32-bit)", size,
                       static_cast<unsigned long long>(offset));
    return false;
  }
  std::lock_guard lock(mutex_);
  write_reg(offset, static_cast<uint32_t>(value));
  return true;
}

// FU540-C000 manual: every register resets to 0. The pins the host drives
// stay driven: what is wired to the board does not change with a reset.
void SifiveGpio::reset() {
  std::lock_guard lock(mutex_);
  auto registers = saved_registers(*this);
  for (uint32_t* reg : registers) {
    if (reg != &driven_ && reg != &external_) *reg = 0;
  }
  update_locked(/*drive_all_lines=*/true);
}

void SifiveGpio::save(StateWriter& out) const {
  std::lock_guard lock(mutex_);
  out.begin_section("sifive-gpio", kStateVersion);
  out.u32(pins_);
  for (const uint32_t* reg : saved_registers(*this)) out.u32(*reg);
  out.end_section();
}

Result<void> SifiveGpio::load(StateReader& in) {
  TRY(in.begin_section("sifive-gpio", kStateVersion));
  const uint32_t pins = in.u32();
  std::array<uint32_t, std::tuple_size_v<decltype(saved_registers(*this))>> values{};
  for (uint32_t& value : values) value = in.u32() & mask_;
  TRY(in.end_section());
  if (pins != pins_) {
    return Error("saved state: sifive-gpio has " + std::to_string(pins) + " pins, this one " +
                 std::to_string(pins_));
  }
  std::lock_guard lock(mutex_);
  auto registers = saved_registers(*this);
  for (size_t i = 0; i < values.size(); ++i) *registers[i] = values[i];
  // The saved input_val is the last sample, so only a change of the pins
  // since then latches new edges; every line is driven, whatever it was.
  update_locked(/*drive_all_lines=*/true);
  return Ok();
}

}  // namespace vessel::devices
