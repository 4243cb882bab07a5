// A minimal virtio-mmio driver for tests: it talks to a VirtioMmio only
// through its registers and to the rings only through guest RAM, as a guest
// kernel would.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <deque>
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
// Queue 0's rings.
inline constexpr uint64_t kDescTable = kRamBase + 0x1000;
inline constexpr uint64_t kAvailRing = kRamBase + 0x5000;
inline constexpr uint64_t kUsedRing = kRamBase + 0x6000;
inline constexpr uint64_t kIndirectTable = kRamBase + 0x8000;
inline constexpr uint64_t kData = kRamBase + 0x10000;
// Queues 1, 2, … each get a block of their own from here, large enough for
// rings of up to 4096 entries.
inline constexpr uint64_t kMoreQueues = kRamBase + 0x100'0000;
inline constexpr uint64_t kQueueBlock = 0x3'0000;

struct QueueLayout {
  uint64_t desc;
  uint64_t avail;
  uint64_t used;
};

// Where the driver puts queue `index`'s rings.
inline QueueLayout queue_layout(unsigned index) {
  if (index == 0) return {kDescTable, kAvailRing, kUsedRing};
  uint64_t block = kMoreQueues + kQueueBlock * (index - 1);
  return {block, block + 0x1'0000, block + 0x2'0000};
}

class Driver;

// The driver's view of one virtqueue: descriptors, available ring and used
// ring in guest RAM, and notifications through QueueNotify.
class Virtqueue {
 public:
  unsigned index() const { return index_; }
  uint16_t size() const { return size_; }
  uint64_t desc_table() const { return layout_.desc; }

  void set_desc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0);
  // Writes `head` into the next available-ring slot and publishes it.
  void make_available(uint16_t head);
  void set_avail_idx(uint16_t idx);
  void set_avail_flags(uint16_t flags);
  uint16_t avail_idx() const { return avail_idx_; }
  void kick();

  uint16_t used_idx() const;
  struct UsedElem {
    uint32_t id;
    uint32_t len;
  };
  UsedElem used(uint16_t i) const;
  // The guest address of the 16-bit used index (for watching it change).
  uint64_t used_idx_addr() const { return layout_.used + 2; }

 private:
  friend class Driver;
  Virtqueue(Driver& driver, unsigned index) : driver_(&driver), index_(index) {}

  Driver* driver_;
  unsigned index_;
  QueueLayout layout_ = {};
  uint16_t size_ = 1;
  uint16_t avail_idx_ = 0;
};

class Driver {
 public:
  Driver(memory::AddressSpace& ram, VirtioMmio& dev) : ram_(ram), dev_(dev) {}
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

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

  // Step 7 for queue `index` at `layout` (zeroing its rings first when they
  // are the driver's own), leaving QueueSel at `index`.
  void setup(unsigned index, uint16_t size, QueueLayout layout) {
    QueueLayout own = queue_layout(index);
    if (index == 0) {
      std::vector<uint8_t> zero(kIndirectTable - kDescTable);
      ASSERT_TRUE(ram_.write_bytes(kDescTable, zero.data(), zero.size()));
    } else {
      std::vector<uint8_t> zero(kQueueBlock);
      ASSERT_TRUE(ram_.write_bytes(own.desc, zero.data(), zero.size()));
    }
    Virtqueue& q = queue(index);
    // The driver's own bookkeeping always uses the queue's own rings, even
    // when a test hands the device others.
    q.layout_ = own;
    q.size_ = size;
    q.avail_idx_ = 0;
    wr(reg::kQueueSel, index);
    wr(reg::kQueueNum, size);
    wr(reg::kQueueDescLow, static_cast<uint32_t>(layout.desc));
    wr(reg::kQueueDescHigh, static_cast<uint32_t>(layout.desc >> 32));
    wr(reg::kQueueDriverLow, static_cast<uint32_t>(layout.avail));
    wr(reg::kQueueDriverHigh, static_cast<uint32_t>(layout.avail >> 32));
    wr(reg::kQueueDeviceLow, static_cast<uint32_t>(layout.used));
    wr(reg::kQueueDeviceHigh, static_cast<uint32_t>(layout.used >> 32));
    wr(reg::kQueueReady, 1);
  }
  void setup(unsigned index, uint16_t size) { setup(index, size, queue_layout(index)); }

  // Step 7 for queue 0 at the fixed ring addresses (or others).
  void setup_queue(uint16_t size, uint64_t desc = kDescTable, uint64_t avail = kAvailRing,
                   uint64_t used = kUsedRing) {
    setup(0, size, {desc, avail, used});
    wr(reg::kQueueSel, 0);
  }

  // Takes over queue `index` that some other driver (or a restored device)
  // set up at the usual place.
  void adopt(uint16_t size, uint16_t avail_idx) { adopt(0, size, avail_idx); }
  void adopt(unsigned index, uint16_t size, uint16_t avail_idx) {
    Virtqueue& q = queue(index);
    q.layout_ = queue_layout(index);
    q.size_ = size;
    q.avail_idx_ = avail_idx;
  }

  void driver_ok() { wr(reg::kStatus, rd(reg::kStatus) | status::kDriverOk); }

  // Full bring-up: queues 0 … num_queues - 1, each of `queue_size` entries.
  void init(uint64_t features, uint16_t queue_size, unsigned num_queues = 1) {
    ASSERT_TRUE(negotiate(features));
    for (unsigned i = 0; i < num_queues; ++i) {
      setup(i, queue_size);
      ASSERT_EQ(rd(reg::kQueueReady), 1u);
    }
    wr(reg::kQueueSel, 0);
    driver_ok();
  }

  Virtqueue& queue(unsigned index) {
    while (queues_.size() <= index) {
      queues_.push_back(Virtqueue(*this, static_cast<unsigned>(queues_.size())));
      queues_.back().layout_ = queue_layout(queues_.back().index_);
    }
    return queues_[index];
  }

  // Queue 0 shorthands.
  void set_desc(uint64_t table, uint16_t index, uint64_t addr, uint32_t len, uint16_t flags,
                uint16_t next = 0) {
    Descriptor d{addr, len, flags, next};
    ASSERT_TRUE(ram_.write_bytes(table + 16 * uint64_t{index}, &d, sizeof d));
  }
  void set_desc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
    queue(0).set_desc(index, addr, len, flags, next);
  }
  void make_available(uint16_t head) { queue(0).make_available(head); }
  void set_avail_idx(uint16_t idx) { queue(0).set_avail_idx(idx); }
  void set_avail_flags(uint16_t flags) { queue(0).set_avail_flags(flags); }
  void kick() { queue(0).kick(); }
  uint16_t used_idx() { return queue(0).used_idx(); }
  using UsedElem = Virtqueue::UsedElem;
  UsedElem used(uint16_t i) { return queue(0).used(i); }

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

  memory::AddressSpace& ram() { return ram_; }

 private:
  memory::AddressSpace& ram_;
  VirtioMmio& dev_;
  std::deque<Virtqueue> queues_;  // stable addresses for the references handed out
};

inline void Virtqueue::set_desc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags,
                                uint16_t next) {
  driver_->set_desc(layout_.desc, index, addr, len, flags, next);
}

inline void Virtqueue::make_available(uint16_t head) {
  uint64_t slot = layout_.avail + 4 + 2 * uint64_t{static_cast<uint16_t>(avail_idx_ % size_)};
  ASSERT_TRUE(driver_->ram().write_bytes(slot, &head, 2));
  ++avail_idx_;
  set_avail_idx(avail_idx_);
}

inline void Virtqueue::set_avail_idx(uint16_t idx) {
  ASSERT_TRUE(driver_->ram().write_bytes(layout_.avail + 2, &idx, 2));
}

inline void Virtqueue::set_avail_flags(uint16_t flags) {
  ASSERT_TRUE(driver_->ram().write_bytes(layout_.avail, &flags, 2));
}

inline void Virtqueue::kick() {
  driver_->wr(reg::kQueueNotify, index_);
}

inline uint16_t Virtqueue::used_idx() const {
  uint16_t v = 0;
  EXPECT_TRUE(driver_->ram().read_bytes(layout_.used + 2, &v, 2));
  return v;
}

inline Virtqueue::UsedElem Virtqueue::used(uint16_t i) const {
  UsedElem e{};
  EXPECT_TRUE(driver_->ram().read_bytes(
      layout_.used + 4 + 8 * uint64_t{static_cast<uint16_t>(i % size_)}, &e, sizeof e));
  return e;
}

}  // namespace vessel::devices::virtio::testing
