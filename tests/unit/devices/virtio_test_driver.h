// A minimal virtio-mmio driver for tests: it talks to a VirtioMmio only
// through its registers and to the rings only through guest RAM, as a guest
// kernel would.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "devices/virtio/device.h"
#include "devices/virtio/virtio_mmio.h"
#include "memory/address_space.h"

namespace vessel::devices::virtio::testing {

// virtio 1.2 §4.2.2 register offsets.
namespace reg {
inline constexpr uint64_t kMagic = 0x000, kVersion = 0x004, kDeviceId = 0x008, kVendorId = 0x00c,
                          kDeviceFeatures = 0x010, kDeviceFeaturesSel = 0x014,
                          kDriverFeatures = 0x020, kDriverFeaturesSel = 0x024, kQueueSel = 0x030,
                          kQueueNumMax = 0x034, kQueueNum = 0x038, kQueueReady = 0x044,
                          kQueueNotify = 0x050, kInterruptStatus = 0x060, kInterruptAck = 0x064,
                          kStatus = 0x070, kQueueDescLow = 0x080, kQueueDescHigh = 0x084,
                          kQueueDriverLow = 0x090, kQueueDriverHigh = 0x094,
                          kQueueDeviceLow = 0x0a0, kQueueDeviceHigh = 0x0a4,
                          kConfigGeneration = 0x0fc, kConfig = 0x100;
}  // namespace reg

inline constexpr uint64_t kRamBase = 0x8000'0000;
// Large enough that a few hundred descriptors over the same buffer exceed
// 4 GiB; MAP_NORESERVE keeps untouched pages free.
inline constexpr uint64_t kRamSize = 32 << 20;
inline constexpr uint64_t kDescTable = kRamBase + 0x1000;
inline constexpr uint64_t kAvailRing = kRamBase + 0x5000;
inline constexpr uint64_t kUsedRing = kRamBase + 0x6000;
inline constexpr uint64_t kIndirectTable = kRamBase + 0x8000;
inline constexpr uint64_t kData = kRamBase + 0x10000;

class Driver {
 public:
  Driver(memory::AddressSpace& ram, VirtioMmio& dev) : ram_(ram), dev_(dev) {}

  uint32_t rd(uint64_t off) {
    uint64_t v = 0;
    EXPECT_TRUE(dev_.mmio_read(off, 4, v));
    return static_cast<uint32_t>(v);
  }
  void wr(uint64_t off, uint32_t v) { EXPECT_TRUE(dev_.mmio_write(off, 4, v)); }

  uint64_t device_features() {
    wr(reg::kDeviceFeaturesSel, 1);
    uint64_t high = rd(reg::kDeviceFeatures);
    wr(reg::kDeviceFeaturesSel, 0);
    return (high << 32) | rd(reg::kDeviceFeatures);
  }

  // virtio 1.2 §3.1.1 steps 1-6; returns whether FEATURES_OK stuck.
  bool negotiate(uint64_t features) {
    wr(reg::kStatus, 0);
    wr(reg::kStatus, status::kAcknowledge);
    wr(reg::kStatus, status::kAcknowledge | status::kDriver);
    wr(reg::kDriverFeaturesSel, 0);
    wr(reg::kDriverFeatures, static_cast<uint32_t>(features));
    wr(reg::kDriverFeaturesSel, 1);
    wr(reg::kDriverFeatures, static_cast<uint32_t>(features >> 32));
    wr(reg::kStatus, status::kAcknowledge | status::kDriver | status::kFeaturesOk);
    return rd(reg::kStatus) & status::kFeaturesOk;
  }

  // Step 7 for queue 0 at the fixed ring addresses, then DRIVER_OK.
  void setup_queue(uint16_t size, uint64_t desc = kDescTable, uint64_t avail = kAvailRing,
                   uint64_t used = kUsedRing) {
    std::vector<uint8_t> zero(0x8000 - 0x1000);
    ASSERT_TRUE(ram_.write_bytes(kDescTable, zero.data(), zero.size()));
    size_ = size;
    avail_idx_ = 0;
    wr(reg::kQueueSel, 0);
    wr(reg::kQueueNum, size);
    wr(reg::kQueueDescLow, static_cast<uint32_t>(desc));
    wr(reg::kQueueDescHigh, static_cast<uint32_t>(desc >> 32));
    wr(reg::kQueueDriverLow, static_cast<uint32_t>(avail));
    wr(reg::kQueueDriverHigh, static_cast<uint32_t>(avail >> 32));
    wr(reg::kQueueDeviceLow, static_cast<uint32_t>(used));
    wr(reg::kQueueDeviceHigh, static_cast<uint32_t>(used >> 32));
    wr(reg::kQueueReady, 1);
  }

  // Takes over a queue some other driver (or a restored device) set up.
  void adopt(uint16_t size, uint16_t avail_idx) {
    size_ = size;
    avail_idx_ = avail_idx;
  }

  void driver_ok() { wr(reg::kStatus, rd(reg::kStatus) | status::kDriverOk); }

  // Full bring-up with the device's own features (minus none).
  void init(uint64_t features, uint16_t queue_size) {
    ASSERT_TRUE(negotiate(features));
    setup_queue(queue_size);
    ASSERT_EQ(rd(reg::kQueueReady), 1u);
    driver_ok();
  }

  void set_desc(uint64_t table, uint16_t index, uint64_t addr, uint32_t len, uint16_t flags,
                uint16_t next = 0) {
    Descriptor d{addr, len, flags, next};
    ASSERT_TRUE(ram_.write_bytes(table + 16 * uint64_t{index}, &d, sizeof d));
  }
  void set_desc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
    set_desc(kDescTable, index, addr, len, flags, next);
  }

  void make_available(uint16_t head) {
    uint64_t slot = kAvailRing + 4 + 2 * uint64_t{static_cast<uint16_t>(avail_idx_ % size_)};
    ASSERT_TRUE(ram_.write_bytes(slot, &head, 2));
    ++avail_idx_;
    set_avail_idx(avail_idx_);
  }
  void set_avail_idx(uint16_t idx) { ASSERT_TRUE(ram_.write_bytes(kAvailRing + 2, &idx, 2)); }
  void set_avail_flags(uint16_t flags) { ASSERT_TRUE(ram_.write_bytes(kAvailRing, &flags, 2)); }

  void kick() { wr(reg::kQueueNotify, 0); }

  uint16_t used_idx() {
    uint16_t v = 0;
    EXPECT_TRUE(ram_.read_bytes(kUsedRing + 2, &v, 2));
    return v;
  }
  struct UsedElem {
    uint32_t id;
    uint32_t len;
  };
  UsedElem used(uint16_t i) {
    UsedElem e{};
    EXPECT_TRUE(ram_.read_bytes(kUsedRing + 4 + 8 * uint64_t{static_cast<uint16_t>(i % size_)}, &e,
                                sizeof e));
    return e;
  }

  bool needs_reset() { return rd(reg::kStatus) & status::kNeedsReset; }

  template <typename T>
  void poke(uint64_t addr, const T& value) {
    ASSERT_TRUE(ram_.write_bytes(addr, &value, sizeof value));
  }
  template <typename T>
  T peek(uint64_t addr) {
    T value{};
    EXPECT_TRUE(ram_.read_bytes(addr, &value, sizeof value));
    return value;
  }
  void poke_bytes(uint64_t addr, const std::vector<uint8_t>& data) {
    ASSERT_TRUE(ram_.write_bytes(addr, data.data(), data.size()));
  }
  std::vector<uint8_t> peek_bytes(uint64_t addr, size_t len) {
    std::vector<uint8_t> out(len);
    EXPECT_TRUE(ram_.read_bytes(addr, out.data(), len));
    return out;
  }

 private:
  memory::AddressSpace& ram_;
  VirtioMmio& dev_;
  uint16_t size_ = 1;
  uint16_t avail_idx_ = 0;
};

}  // namespace vessel::devices::virtio::testing
