#include "devices/clint.h"

#include <utility>

namespace vessel::devices {
namespace {

// Register map (RISC-V ACLINT spec 1.0: MSWI at 0x0, MTIMER with mtimecmp at
// +0x4000 and mtime at +0xbff8, as SiFive's CLINT lays them out).
constexpr uint64_t kMsipBase = 0x0000;
constexpr uint64_t kMtimecmpBase = 0x4000;
constexpr uint64_t kMtime = 0xbff8;

constexpr uint32_t kStateVersion = 1;

// Replaces the `size`-byte part of `old` at `byte_offset` (0 or 4) with `value`.
uint64_t merge(uint64_t old, unsigned size, unsigned byte_offset, uint64_t value) {
  if (size == 8) return value;
  unsigned shift = byte_offset * 8;
  uint64_t mask = uint64_t{0xffffffff} << shift;
  return (old & ~mask) | ((value & 0xffffffff) << shift);
}

}  // namespace

Clint::Clint(unsigned num_harts, GuestClock& clock, std::vector<IrqLine> msip,
             std::vector<IrqLine> mtip, std::function<void(unsigned hart)> retime)
    : clock_(clock),
      msip_out_(std::move(msip)),
      mtip_out_(std::move(mtip)),
      retime_(std::move(retime)),
      harts_(std::make_unique<Hart[]>(num_harts)),
      num_harts_(num_harts) {
  msip_out_.resize(num_harts);
  mtip_out_.resize(num_harts);
}

void Clint::update_timer(unsigned hart) {
  if (hart >= num_harts_) return;
  std::lock_guard lock(mutex_);
  update_timer_locked(hart, clock_.ticks());
}

uint64_t Clint::timer_deadline(unsigned hart) const {
  if (hart >= num_harts_) return UINT64_MAX;
  return harts_[hart].mtimecmp.load(std::memory_order_relaxed);
}

// Privileged spec 3.2.1: MTIP is pending while mtime >= mtimecmp.
void Clint::update_timer_locked(unsigned hart, uint64_t now) {
  Hart& h = harts_[hart];
  bool level = now >= h.mtimecmp.load(std::memory_order_relaxed);
  if (level == h.mtip) return;
  h.mtip = level;
  if (mtip_out_[hart]) mtip_out_[hart](level);
}

void Clint::set_msip(unsigned hart, bool level) {
  harts_[hart].msip = level;
  if (msip_out_[hart]) msip_out_[hart](level);
}

bool Clint::mmio_read(uint64_t offset, unsigned size, uint64_t& value) {
  if (size != 4 && size != 8) {
    guest_errors_.warn("clint: %u-byte read at 0x%llx", size,
                       static_cast<unsigned long long>(offset));
    return false;
  }
  std::lock_guard lock(mutex_);
  if (offset >= kMsipBase && offset < kMsipBase + 4 * uint64_t{num_harts_} && size == 4) {
    value = harts_[(offset - kMsipBase) / 4].msip ? 1 : 0;
    return true;
  }
  uint64_t full;
  unsigned byte_offset;
  if (offset >= kMtimecmpBase && offset < kMtimecmpBase + 8 * uint64_t{num_harts_}) {
    full = harts_[(offset - kMtimecmpBase) / 8].mtimecmp.load(std::memory_order_relaxed);
    byte_offset = static_cast<unsigned>((offset - kMtimecmpBase) % 8);
  } else if (offset >= kMtime && offset < kMtime + 8) {
    full = clock_.ticks();
    byte_offset = static_cast<unsigned>(offset - kMtime);
  } else {
    value = 0;  // reserved space reads as zero
    return true;
  }
  value = size == 8 ? full : (full >> (byte_offset * 8)) & 0xffffffff;
  return true;
}

bool Clint::mmio_write(uint64_t offset, unsigned size, uint64_t value) {
  if (size != 4 && size != 8) {
    guest_errors_.warn("clint: %u-byte write at 0x%llx", size,
                       static_cast<unsigned long long>(offset));
    return false;
  }
  std::lock_guard lock(mutex_);
  if (offset >= kMsipBase && offset < kMsipBase + 4 * uint64_t{num_harts_}) {
    // A 64-bit access here covers two harts' registers; only 32-bit ones are defined.
    if (size == 4) set_msip(static_cast<unsigned>((offset - kMsipBase) / 4), value & 1);
    return true;
  }
  if (offset >= kMtimecmpBase && offset < kMtimecmpBase + 8 * uint64_t{num_harts_}) {
    unsigned hart = static_cast<unsigned>((offset - kMtimecmpBase) / 8);
    unsigned byte_offset = static_cast<unsigned>((offset - kMtimecmpBase) % 8);
    Hart& h = harts_[hart];
    h.mtimecmp.store(merge(h.mtimecmp.load(std::memory_order_relaxed), size, byte_offset, value),
                     std::memory_order_relaxed);
    update_timer_locked(hart, clock_.ticks());
    if (retime_) retime_(hart);
    return true;
  }
  if (offset >= kMtime && offset < kMtime + 8) {
    uint64_t now = merge(clock_.ticks(), size, static_cast<unsigned>(offset - kMtime), value);
    clock_.set_ticks(now);
    for (unsigned hart = 0; hart < num_harts_; ++hart) {
      update_timer_locked(hart, now);
      if (retime_) retime_(hart);
    }
    return true;
  }
  guest_errors_.warn("clint: write to reserved offset 0x%llx ignored",
                     static_cast<unsigned long long>(offset));
  return true;
}

// ACLINT spec 1.0: a reset clears mtime and every msip; mtimecmp is
// unknown after reset, so it goes back to its power-on "never".
void Clint::reset() {
  std::lock_guard lock(mutex_);
  clock_.set_ticks(0);
  for (unsigned i = 0; i < num_harts_; ++i) {
    harts_[i].mtimecmp.store(UINT64_MAX, std::memory_order_relaxed);
    set_msip(i, false);
    harts_[i].mtip = true;  // drive MTIP low whatever it was
    update_timer_locked(i, 0);
    if (retime_) retime_(i);
  }
}

void Clint::save(StateWriter& out) const {
  std::lock_guard lock(mutex_);
  out.begin_section("clint", kStateVersion);
  out.u64(clock_.ticks());
  out.u32(num_harts_);
  for (unsigned i = 0; i < num_harts_; ++i) {
    out.boolean(harts_[i].msip);
    out.u64(harts_[i].mtimecmp.load(std::memory_order_relaxed));
  }
  out.end_section();
}

Result<void> Clint::load(StateReader& in) {
  TRY(in.begin_section("clint", kStateVersion));
  uint64_t mtime = in.u64();
  uint32_t count = in.u32();
  if (!in.failed() && count != num_harts_) {
    return Error("saved state: clint has " + std::to_string(count) + " harts, this board has " +
                 std::to_string(num_harts_));
  }
  std::vector<std::pair<bool, uint64_t>> harts(num_harts_);
  for (auto& [msip, mtimecmp] : harts) {
    msip = in.boolean();
    mtimecmp = in.u64();
  }
  TRY(in.end_section());

  std::lock_guard lock(mutex_);
  clock_.set_ticks(mtime);
  for (unsigned i = 0; i < num_harts_; ++i) {
    harts_[i].mtimecmp.store(harts[i].second, std::memory_order_relaxed);
    set_msip(i, harts[i].first);
    // Drive MTIP unconditionally: the pin may hold anything before a restore.
    harts_[i].mtip = !(mtime >= harts[i].second);
    update_timer_locked(i, mtime);
  }
  return Ok();
}

}  // namespace vessel::devices
