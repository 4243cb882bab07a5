#include "devices/goldfish_rtc.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace vessel::devices {
namespace {

// Register map (Android goldfish virtual hardware, "goldfish-rtc").
enum Reg : uint64_t {
  kTimeLow = 0x00,        // R: current time, low half; latches the high half. W: set low half
  kTimeHigh = 0x04,       // R: high half latched by the last TIME_LOW read. W: set high half
  kAlarmLow = 0x08,       // R/W: alarm low half; a write arms the alarm
  kAlarmHigh = 0x0c,      // R/W: alarm high half
  kIrqEnabled = 0x10,     // R/W: bit 0 lets a fired alarm raise the interrupt
  kClearAlarm = 0x14,     // W: disarm
  kAlarmStatus = 0x18,    // R: 1 while armed
  kClearInterrupt = 0x1c  // W: acknowledge a fired alarm
};

// While an alarm is armed the thread looks at the clock at least this often,
// so a step of the host's wall clock delays an alarm by no more than this.
constexpr auto kMaxSleep = std::chrono::seconds(1);

constexpr uint32_t kStateVersion = 1;

uint64_t host_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

uint64_t with_low(uint64_t v, uint32_t low) {
  return (v & ~uint64_t{0xffffffff}) | low;
}
uint64_t with_high(uint64_t v, uint32_t high) {
  return (v & 0xffffffff) | (uint64_t{high} << 32);
}

}  // namespace

GoldfishRtc::GoldfishRtc(IrqLine irq) : irq_(std::move(irq)) {
  thread_ = std::thread([this] { alarm_thread(); });
}

GoldfishRtc::~GoldfishRtc() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

uint64_t GoldfishRtc::now_locked() const {
  return host_ns() + offset_ns_;
}

void GoldfishRtc::check_alarm_locked() {
  if (alarm_armed_ && now_locked() >= alarm_ns_) {
    alarm_armed_ = false;
    irq_pending_ = true;
  }
  update_irq();
}

void GoldfishRtc::update_irq() {
  bool level = irq_pending_ && irq_enabled_;
  if (level == irq_level_) return;
  irq_level_ = level;
  if (irq_) irq_(level);
}

void GoldfishRtc::alarm_thread() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    check_alarm_locked();
    if (!alarm_armed_) {
      wake_.wait(lock);
      continue;
    }
    uint64_t remaining = alarm_ns_ - now_locked();  // > 0: check_alarm_locked did not fire
    uint64_t cap = std::chrono::nanoseconds(kMaxSleep).count();
    wake_.wait_for(lock, std::chrono::nanoseconds(std::min(remaining, cap)));
  }
}

bool GoldfishRtc::mmio_read(uint64_t offset, unsigned size, uint64_t& value) {
  if (size != 4) {
    guest_errors_.warn("goldfish-rtc: %u-byte read at 0x%llx (registers are 32-bit)", size,
                       static_cast<unsigned long long>(offset));
    return false;
  }
  std::lock_guard lock(mutex_);
  check_alarm_locked();
  switch (offset) {
    case kTimeLow: {
      uint64_t now = now_locked();
      time_high_latch_ = static_cast<uint32_t>(now >> 32);
      value = static_cast<uint32_t>(now);
      break;
    }
    case kTimeHigh:
      value = time_high_latch_;
      break;
    case kAlarmLow:
      value = static_cast<uint32_t>(alarm_ns_);
      break;
    case kAlarmHigh:
      value = static_cast<uint32_t>(alarm_ns_ >> 32);
      break;
    case kIrqEnabled:
      value = irq_enabled_ ? 1 : 0;
      break;
    case kAlarmStatus:
      value = alarm_armed_ ? 1 : 0;
      break;
    default:
      value = 0;
      break;
  }
  return true;
}

bool GoldfishRtc::mmio_write(uint64_t offset, unsigned size, uint64_t value) {
  if (size != 4) {
    guest_errors_.warn("goldfish-rtc: %u-byte write at 0x%llx (registers are 32-bit)", size,
                       static_cast<unsigned long long>(offset));
    return false;
  }
  auto v = static_cast<uint32_t>(value);
  {
    std::lock_guard lock(mutex_);
    switch (offset) {
      case kTimeLow: {
        // Setting one half keeps the other half of the current time.
        uint64_t now = now_locked();
        offset_ns_ += with_low(now, v) - now;
        break;
      }
      case kTimeHigh: {
        uint64_t now = now_locked();
        offset_ns_ += with_high(now, v) - now;
        break;
      }
      case kAlarmLow:
        alarm_ns_ = with_low(alarm_ns_, v);
        alarm_armed_ = true;
        break;
      case kAlarmHigh:
        alarm_ns_ = with_high(alarm_ns_, v);
        break;
      case kIrqEnabled:
        irq_enabled_ = v & 1;
        break;
      case kClearAlarm:
        alarm_armed_ = false;
        break;
      case kClearInterrupt:
        irq_pending_ = false;
        break;
      default:
        guest_errors_.warn("goldfish-rtc: write to offset 0x%llx ignored",
                           static_cast<unsigned long long>(offset));
        break;
    }
    check_alarm_locked();
  }
  wake_.notify_all();  // the alarm or the time may have moved
  return true;
}

// As QEMU's goldfish_rtc_reset: the time follows the host's wall clock again
// (a time the guest set is forgotten), no alarm, interrupts off.
void GoldfishRtc::reset() {
  {
    std::lock_guard lock(mutex_);
    offset_ns_ = 0;
    alarm_ns_ = 0;
    time_high_latch_ = 0;
    alarm_armed_ = false;
    irq_enabled_ = false;
    irq_pending_ = false;
    update_irq();
  }
  wake_.notify_all();  // the alarm thread goes back to waiting for an alarm
}

void GoldfishRtc::save(StateWriter& out) const {
  std::lock_guard lock(mutex_);
  out.begin_section("goldfish-rtc", kStateVersion);
  out.u64(offset_ns_);
  out.u64(alarm_ns_);
  out.u32(time_high_latch_);
  out.boolean(alarm_armed_);
  out.boolean(irq_enabled_);
  out.boolean(irq_pending_);
  out.end_section();
}

Result<void> GoldfishRtc::load(StateReader& in) {
  TRY(in.begin_section("goldfish-rtc", kStateVersion));
  uint64_t offset_ns = in.u64();
  uint64_t alarm_ns = in.u64();
  uint32_t time_high_latch = in.u32();
  bool alarm_armed = in.boolean();
  bool irq_enabled = in.boolean();
  bool irq_pending = in.boolean();
  TRY(in.end_section());
  {
    std::lock_guard lock(mutex_);
    offset_ns_ = offset_ns;
    alarm_ns_ = alarm_ns;
    time_high_latch_ = time_high_latch;
    alarm_armed_ = alarm_armed;
    irq_enabled_ = irq_enabled;
    irq_pending_ = irq_pending;
    irq_level_ = irq_pending && irq_enabled;
    if (irq_) irq_(irq_level_);
    check_alarm_locked();
  }
  wake_.notify_all();
  return Ok();
}

}  // namespace vessel::devices
