// The `virt` board's physical memory map and interrupt numbers: one table,
// with QEMU's addresses (hw/riscv/virt.c), so firmware and kernels built for
// QEMU's `virt` machine run unchanged. The GPIO controller (the power button)
// is Vessel's own: it sits where QEMU's `virt` has nothing, so nothing of
// QEMU's map moves.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace vessel::machine {

enum class Region : uint8_t { kTest, kRtc, kClint, kPlic, kUart0, kVirtio, kGpio, kRam };

struct MemoryMapEntry {
  Region region;
  std::string_view name;  // device-tree node name
  uint64_t base;
  uint64_t size;  // for kVirtio: one slot; for kRam: 0 (set by the board config)
  unsigned irq;   // PLIC source, 0 = none; kVirtio: slot 0's; kGpio: pin 0's
};

inline constexpr unsigned kVirtioSlots = 8;

inline constexpr std::array<MemoryMapEntry, 8> kMemoryMap = {{
    {Region::kTest, "test", 0x0010'0000, 0x1000, 0},
    {Region::kRtc, "rtc", 0x0010'1000, 0x1000, 11},
    {Region::kClint, "clint", 0x0200'0000, 0x1'0000, 0},
    {Region::kPlic, "plic", 0x0c00'0000, 0x60'0000, 0},
    {Region::kUart0, "serial", 0x1000'0000, 0x100, 10},
    {Region::kVirtio, "virtio_mmio", 0x1000'1000, 0x1000,
     1},  // slot i at base + i * size, irq 1 + i
    // A SiFive GPIO controller at the FU540's GPIO address, in the hole QEMU's
    // `virt` leaves between the virtio slots and fw_cfg (0x10100000); pin i
    // on PLIC source 12 + i, sources QEMU's `virt` leaves unused (it has
    // virtio 1-8, UART 10, RTC 11, PCIe 32-35, platform bus 64-95).
    {Region::kGpio, "gpio", 0x1006'0000, 0x1000, 12},
    {Region::kRam, "memory", 0x8000'0000, 0, 0},
}};

constexpr const MemoryMapEntry& map_entry(Region region) {
  for (const MemoryMapEntry& e : kMemoryMap) {
    if (e.region == region) return e;
  }
  return kMemoryMap.back();  // unreachable: every Region has a row
}

constexpr uint64_t virtio_slot_base(unsigned slot) {
  return map_entry(Region::kVirtio).base + uint64_t{slot} * map_entry(Region::kVirtio).size;
}
constexpr unsigned virtio_slot_irq(unsigned slot) {
  return map_entry(Region::kVirtio).irq + slot;
}

// The GPIO controller's pins (one PLIC source each) and what they carry.
inline constexpr unsigned kGpioPins = 8;
inline constexpr unsigned kPowerButtonPin = 0;  // active high: pressed = 1
constexpr unsigned gpio_pin_irq(unsigned pin) {
  return map_entry(Region::kGpio).irq + pin;
}

// PLIC sources 1..kPlicSourceCount-1 exist (source 0 means "no interrupt");
// the device tree's riscv,ndev is the highest source number.
inline constexpr unsigned kPlicSourceCount = 96;
inline constexpr unsigned kPlicNdev = kPlicSourceCount - 1;

inline constexpr unsigned kMaxHarts = 8;
inline constexpr uint64_t kTimebaseFrequency = 10'000'000;

// Guest RAM limits: below the minimum no firmware fits, above the maximum the
// host reservation stops being reasonable for one VM process.
inline constexpr uint64_t kMinRamSize = uint64_t{2} << 20;
inline constexpr uint64_t kMaxRamSize = uint64_t{16} << 30;

static_assert(virtio_slot_base(kVirtioSlots - 1) + map_entry(Region::kVirtio).size <=
                  map_entry(Region::kRam).base,
              "virtio slots must not reach RAM");
static_assert(virtio_slot_base(kVirtioSlots - 1) + map_entry(Region::kVirtio).size <=
                      map_entry(Region::kGpio).base &&
                  map_entry(Region::kGpio).base + map_entry(Region::kGpio).size <=
                      map_entry(Region::kRam).base,
              "the GPIO controller sits between the virtio slots and RAM");
static_assert(gpio_pin_irq(kGpioPins - 1) < kPlicSourceCount && kPowerButtonPin < kGpioPins,
              "every GPIO pin needs a PLIC source");

}  // namespace vessel::machine
