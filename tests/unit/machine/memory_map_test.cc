// The board's memory map against QEMU's `virt` (hw/riscv/virt.c, virt_memmap).
#include "machine/memory_map.h"

#include <gtest/gtest.h>

#include <vector>

namespace vessel::machine {
namespace {

TEST(MemoryMapTest, QemuAddressesAndInterrupts) {
  EXPECT_EQ(map_entry(Region::kTest).base, 0x100000u);
  EXPECT_EQ(map_entry(Region::kTest).size, 0x1000u);
  EXPECT_EQ(map_entry(Region::kRtc).base, 0x101000u);
  EXPECT_EQ(map_entry(Region::kRtc).irq, 11u);
  EXPECT_EQ(map_entry(Region::kClint).base, 0x2000000u);
  EXPECT_EQ(map_entry(Region::kClint).size, 0x10000u);
  EXPECT_EQ(map_entry(Region::kPlic).base, 0xc000000u);
  EXPECT_EQ(map_entry(Region::kPlic).size, 0x600000u);
  EXPECT_EQ(map_entry(Region::kUart0).base, 0x10000000u);
  EXPECT_EQ(map_entry(Region::kUart0).size, 0x100u);
  EXPECT_EQ(map_entry(Region::kUart0).irq, 10u);
  EXPECT_EQ(map_entry(Region::kRam).base, 0x80000000u);
}

// Vessel's own: where QEMU's `virt` has neither an address nor a source.
TEST(MemoryMapTest, GpioController) {
  EXPECT_EQ(map_entry(Region::kGpio).base, 0x10060000u);
  EXPECT_EQ(map_entry(Region::kGpio).size, 0x1000u);
  EXPECT_EQ(kGpioPins, 8u);
  for (unsigned pin = 0; pin < kGpioPins; ++pin) EXPECT_EQ(gpio_pin_irq(pin), 12 + pin);
  EXPECT_EQ(kPowerButtonPin, 0u);
}

TEST(MemoryMapTest, VirtioSlots) {
  EXPECT_EQ(kVirtioSlots, 8u);
  for (unsigned i = 0; i < kVirtioSlots; ++i) {
    EXPECT_EQ(virtio_slot_base(i), 0x10001000u + 0x1000u * i);
    EXPECT_EQ(virtio_slot_irq(i), 1 + i);
  }
}

TEST(MemoryMapTest, RegionsDoNotOverlapAndIrqsAreDistinct) {
  struct Range {
    uint64_t base, size;
  };
  std::vector<Range> ranges;
  std::vector<unsigned> irqs;
  for (const MemoryMapEntry& e : kMemoryMap) {
    if (e.region == Region::kVirtio) {
      for (unsigned i = 0; i < kVirtioSlots; ++i) {
        ranges.push_back({virtio_slot_base(i), e.size});
        irqs.push_back(virtio_slot_irq(i));
      }
    } else if (e.region == Region::kGpio) {
      ranges.push_back({e.base, e.size});
      for (unsigned pin = 0; pin < kGpioPins; ++pin) irqs.push_back(gpio_pin_irq(pin));
    } else if (e.region != Region::kRam) {
      ranges.push_back({e.base, e.size});
      if (e.irq != 0) irqs.push_back(e.irq);
    }
  }
  ranges.push_back({map_entry(Region::kRam).base, kMaxRamSize});
  for (size_t i = 0; i < ranges.size(); ++i) {
    for (size_t j = i + 1; j < ranges.size(); ++j) {
      EXPECT_FALSE(ranges[i].base < ranges[j].base + ranges[j].size &&
                   ranges[j].base < ranges[i].base + ranges[i].size)
          << std::hex << ranges[i].base << " overlaps " << ranges[j].base;
    }
  }
  for (size_t i = 0; i < irqs.size(); ++i) {
    EXPECT_GT(irqs[i], 0u);
    EXPECT_LT(irqs[i], kPlicSourceCount);
    for (size_t j = i + 1; j < irqs.size(); ++j) EXPECT_NE(irqs[i], irqs[j]);
  }
}

}  // namespace
}  // namespace vessel::machine
