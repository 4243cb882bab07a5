// The split-queue validation, driven through the virtio-mmio transport with
// hostile descriptor chains: every one must end in DEVICE_NEEDS_RESET, never
// in a crash, hang or out-of-bounds access (run under ASan/UBSan).
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "devices/virtio/device.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio_mmio.h"
#include "virtio_test_driver.h"

namespace vessel::devices::virtio {
namespace {

using testing::Driver;
using testing::kAvailRing;
using testing::kData;
using testing::kDescTable;
using testing::kIndirectTable;
using testing::kRamBase;
using testing::kRamSize;
using testing::kUsedRing;
namespace reg = testing::reg;

constexpr uint16_t kQueueMax = 256;
constexpr uint64_t kRamEnd = kRamBase + kRamSize;

// Hands every chain straight back, remembering what it saw.
class RecordingDevice : public VirtioDevice {
 public:
  explicit RecordingDevice(std::vector<DescriptorChain>* seen) : seen_(seen) {}
  DeviceId device_id() const override { return DeviceId::kConsole; }
  uint64_t device_features() const override { return 0; }
  unsigned num_queues() const override { return 1; }
  uint16_t queue_max_size(unsigned) const override { return kQueueMax; }
  uint32_t config_size() const override { return 0; }
  void read_config(uint32_t, std::span<uint8_t>) const override {}
  void reset() override {}
  Result<void> process_queue(unsigned, SplitQueue& queue, memory::AddressSpace&) override {
    for (;;) {
      TRY_ASSIGN(std::optional<DescriptorChain> chain, queue.pop());
      if (!chain) return Ok();
      seen_->push_back(*chain);
      TRY(queue.push(chain->head(), chain->writable_len()));
    }
  }
  void save(StateWriter& out) const override {
    out.begin_section("recording", 1);
    out.end_section();
  }
  Result<void> load(StateReader& in) override {
    TRY(in.begin_section("recording", 1));
    return in.end_section();
  }

 private:
  std::vector<DescriptorChain>* seen_;
};

constexpr uint64_t kFeatures = feature::kVersion1 | feature::kIndirectDesc;

class VirtqueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ram_.map_ram(kRamBase, kRamSize).ok());
    dev_ = std::make_unique<VirtioMmio>(
        ram_, [this](bool level) { irq_ = level; }, std::make_unique<RecordingDevice>(&seen_));
    drv_ = std::make_unique<Driver>(ram_, *dev_);
  }

  void start(uint16_t size = 16, uint64_t features = kFeatures) {
    seen_.clear();
    drv_->init(features, size);
  }

  // A good two-buffer chain still works (e.g. after a reset).
  void expect_healthy() {
    uint16_t before = drv_->used_idx();
    drv_->set_desc(0, kData, 8, kDescFlagNext, 1);
    drv_->set_desc(1, kData + 8, 8, kDescFlagWrite);
    drv_->make_available(0);
    drv_->kick();
    EXPECT_FALSE(drv_->needs_reset());
    EXPECT_EQ(drv_->used_idx(), static_cast<uint16_t>(before + 1));
  }

  void expect_broken() {
    EXPECT_TRUE(drv_->needs_reset());
    EXPECT_EQ(drv_->rd(reg::kInterruptStatus) & 2, 2u);  // configuration change
    EXPECT_TRUE(irq_);
    EXPECT_EQ(drv_->used_idx(), 0);
    EXPECT_TRUE(seen_.empty());
    // A broken device ignores further notifications until it is reset...
    drv_->kick();
    EXPECT_EQ(drv_->used_idx(), 0);
    // ...and works again after one.
    drv_->wr(reg::kStatus, 0);
    EXPECT_FALSE(irq_);
    EXPECT_FALSE(drv_->needs_reset());
    start();
    expect_healthy();
  }

  memory::AddressSpace ram_;
  std::vector<DescriptorChain> seen_;
  bool irq_ = false;
  std::unique_ptr<VirtioMmio> dev_;
  std::unique_ptr<Driver> drv_;
};

TEST_F(VirtqueueTest, ValidChainIsCopiedOut) {
  start();
  drv_->set_desc(3, kData, 100, kDescFlagNext, 7);
  drv_->set_desc(7, kData + 0x100, 0, kDescFlagNext, 2);  // zero-length: no buffer
  drv_->set_desc(2, kData + 0x200, 50, kDescFlagNext | kDescFlagWrite, 9);
  drv_->set_desc(9, kData + 0x300, 30, kDescFlagWrite);
  drv_->make_available(3);
  drv_->kick();
  ASSERT_EQ(seen_.size(), 1u);
  const DescriptorChain& c = seen_[0];
  EXPECT_EQ(c.head(), 3);
  EXPECT_EQ(c.readable_len(), 100u);
  EXPECT_EQ(c.writable_len(), 80u);
  ASSERT_EQ(c.readable().size(), 1u);
  ASSERT_EQ(c.writable().size(), 2u);
  EXPECT_EQ(c.writable()[1].addr, kData + 0x300);
  EXPECT_EQ(drv_->used(0).id, 3u);
  EXPECT_EQ(drv_->used(0).len, 80u);

  // The chain's byte-stream helpers cross buffer boundaries.
  std::vector<uint8_t> bytes(80);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i);
  ASSERT_TRUE(c.write(ram_, 0, bytes).ok());
  EXPECT_EQ(drv_->peek<uint8_t>(kData + 0x200 + 49), 49);
  EXPECT_EQ(drv_->peek<uint8_t>(kData + 0x300), 50);
  EXPECT_FALSE(c.write(ram_, 75, bytes).ok());  // past the end
  std::vector<uint8_t> in(101);
  EXPECT_FALSE(c.read(ram_, 0, in).ok());
}

TEST_F(VirtqueueTest, IndirectChainOfFullQueueSize) {
  start(kQueueMax);
  // A table as long as the queue: the indirect pointer itself costs no hop.
  for (uint16_t i = 0; i < kQueueMax; ++i) {
    bool last = i + 1 == kQueueMax;
    drv_->set_desc(kIndirectTable, i, kData + i, 1,
                   static_cast<uint16_t>(kDescFlagWrite | (last ? 0 : kDescFlagNext)),
                   static_cast<uint16_t>(i + 1));
  }
  drv_->set_desc(0, kIndirectTable, 16 * kQueueMax, kDescFlagIndirect);
  drv_->make_available(0);
  drv_->kick();
  EXPECT_FALSE(drv_->needs_reset());
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].writable_len(), kQueueMax);
}

struct HostileCase {
  const char* name;
  std::function<void(Driver&)> setup;  // prepares descriptors; head 0 is made available
};

TEST_F(VirtqueueTest, HostileChainsNeedReset) {
  const std::vector<HostileCase> cases = {
      {"two-descriptor loop",
       [](Driver& d) {
         d.set_desc(0, kData, 8, kDescFlagNext, 1);
         d.set_desc(1, kData, 8, kDescFlagNext, 0);
       }},
      {"self loop", [](Driver& d) { d.set_desc(0, kData, 8, kDescFlagNext, 0); }},
      {"loop inside an indirect table",
       [](Driver& d) {
         d.set_desc(kIndirectTable, 0, kData, 8, kDescFlagNext, 1);
         d.set_desc(kIndirectTable, 1, kData, 8, kDescFlagNext, 0);
         d.set_desc(0, kIndirectTable, 32, kDescFlagIndirect);
       }},
      {"buffer below RAM", [](Driver& d) { d.set_desc(0, 0x1000, 16, 0); }},
      {"buffer past the end of RAM",
       [](Driver& d) { d.set_desc(0, kRamEnd - 8, 16, kDescFlagWrite); }},
      {"huge length", [](Driver& d) { d.set_desc(0, kData, 0xffffffff, kDescFlagWrite); }},
      {"address wraps around", [](Driver& d) { d.set_desc(0, 0xfffffffffffff000, 0x2000, 0); }},
      {"readable after writable",
       [](Driver& d) {
         d.set_desc(0, kData, 8, kDescFlagWrite | kDescFlagNext, 1);
         d.set_desc(1, kData, 8, 0);
       }},
      {"next beyond the queue", [](Driver& d) { d.set_desc(0, kData, 8, kDescFlagNext, 16); }},
      {"indirect length not a multiple of 16",
       [](Driver& d) { d.set_desc(0, kIndirectTable, 15, kDescFlagIndirect); }},
      {"empty indirect table",
       [](Driver& d) { d.set_desc(0, kIndirectTable, 0, kDescFlagIndirect); }},
      {"indirect table outside RAM",
       [](Driver& d) { d.set_desc(0, 0x4000, 64, kDescFlagIndirect); }},
      {"indirect table running off RAM",
       [](Driver& d) { d.set_desc(0, kRamEnd - 32, 64, kDescFlagIndirect); }},
      {"indirect with NEXT",
       [](Driver& d) {
         d.set_desc(kIndirectTable, 0, kData, 8, 0);
         d.set_desc(0, kIndirectTable, 16, kDescFlagIndirect | kDescFlagNext, 1);
         d.set_desc(1, kData, 8, kDescFlagWrite);
       }},
      {"nested indirect",
       [](Driver& d) {
         d.set_desc(kIndirectTable, 0, kIndirectTable + 0x100, 16, kDescFlagIndirect);
         d.set_desc(kIndirectTable + 0x100, 0, kData, 8, 0);
         d.set_desc(0, kIndirectTable, 16, kDescFlagIndirect);
       }},
      {"indirect next beyond its table",
       [](Driver& d) {
         d.set_desc(kIndirectTable, 0, kData, 8, kDescFlagNext, 2);
         d.set_desc(kIndirectTable, 2, kData, 8, 0);
         d.set_desc(0, kIndirectTable, 32, kDescFlagIndirect);
       }},
      {"readable after writable across an indirect table",
       [](Driver& d) {
         d.set_desc(kIndirectTable, 0, kData, 8, 0);
         d.set_desc(0, kData, 8, kDescFlagWrite | kDescFlagNext, 1);
         d.set_desc(1, kIndirectTable, 16, kDescFlagIndirect);
       }},
  };
  for (const HostileCase& c : cases) {
    SCOPED_TRACE(c.name);
    drv_->wr(reg::kStatus, 0);
    start();
    c.setup(*drv_);
    drv_->make_available(0);
    drv_->kick();
    expect_broken();
  }
}

TEST_F(VirtqueueTest, ChainOverFourGiBNeedsReset) {
  start(kQueueMax);
  // 200 overlapping 32 MiB buffers: each is inside RAM, the sum is 6.25 GiB.
  for (uint16_t i = 0; i < 200; ++i) {
    drv_->set_desc(kIndirectTable, i, kRamBase, static_cast<uint32_t>(kRamSize),
                   static_cast<uint16_t>(kDescFlagWrite | (i < 199 ? kDescFlagNext : 0)),
                   static_cast<uint16_t>(i + 1));
  }
  drv_->set_desc(0, kIndirectTable, 16 * 200, kDescFlagIndirect);
  drv_->make_available(0);
  drv_->kick();
  expect_broken();
}

TEST_F(VirtqueueTest, IndirectWithoutNegotiationNeedsReset) {
  start(16, feature::kVersion1);
  drv_->set_desc(kIndirectTable, 0, kData, 8, 0);
  drv_->set_desc(0, kIndirectTable, 16, kDescFlagIndirect);
  drv_->make_available(0);
  drv_->kick();
  expect_broken();
}

TEST_F(VirtqueueTest, AvailableIndexTooFarAheadNeedsReset) {
  start(16);
  drv_->set_desc(0, kData, 8, 0);
  drv_->set_avail_idx(17);
  drv_->kick();
  expect_broken();
}

TEST_F(VirtqueueTest, HeadBeyondQueueNeedsReset) {
  start(16);
  drv_->make_available(16);
  drv_->kick();
  expect_broken();
}

TEST_F(VirtqueueTest, BadRingLayoutIsRefusedAtQueueReady) {
  struct Layout {
    const char* name;
    uint32_t size;
    uint64_t desc, avail, used;
  };
  const std::vector<Layout> layouts = {
      {"descriptors outside RAM", 16, 0x1000, kAvailRing, kUsedRing},
      {"used ring past the end of RAM", 16, kDescTable, kAvailRing, kRamBase + kRamSize - 8},
      {"misaligned descriptors", 16, kDescTable + 8, kAvailRing, kUsedRing},
      {"misaligned used ring", 16, kDescTable, kAvailRing, kUsedRing + 2},
      {"size not a power of 2", 3, kDescTable, kAvailRing, kUsedRing},
      {"size above the maximum", 512, kDescTable, kAvailRing, kUsedRing},
      {"size zero", 0, kDescTable, kAvailRing, kUsedRing},
  };
  for (const Layout& l : layouts) {
    SCOPED_TRACE(l.name);
    drv_->wr(reg::kStatus, 0);
    ASSERT_TRUE(drv_->negotiate(kFeatures));
    drv_->wr(reg::kQueueSel, 0);
    drv_->wr(reg::kQueueNum, l.size);
    drv_->wr(reg::kQueueDescLow, static_cast<uint32_t>(l.desc));
    drv_->wr(reg::kQueueDescHigh, static_cast<uint32_t>(l.desc >> 32));
    drv_->wr(reg::kQueueDriverLow, static_cast<uint32_t>(l.avail));
    drv_->wr(reg::kQueueDriverHigh, static_cast<uint32_t>(l.avail >> 32));
    drv_->wr(reg::kQueueDeviceLow, static_cast<uint32_t>(l.used));
    drv_->wr(reg::kQueueDeviceHigh, static_cast<uint32_t>(l.used >> 32));
    drv_->wr(reg::kQueueReady, 1);
    EXPECT_EQ(drv_->rd(reg::kQueueReady), 0u);
    EXPECT_TRUE(drv_->needs_reset());
    EXPECT_TRUE(irq_);
  }
  drv_->wr(reg::kStatus, 0);
  start();
  expect_healthy();
}

TEST_F(VirtqueueTest, QueueSetupIsFrozenWhileReady) {
  start(16);
  drv_->wr(reg::kQueueDescLow, 0x1000);
  drv_->wr(reg::kQueueNum, 3);
  EXPECT_EQ(drv_->rd(reg::kQueueDescLow), static_cast<uint32_t>(kDescTable));
  EXPECT_EQ(drv_->rd(reg::kQueueNum), 16u);
  expect_healthy();
}

// Random descriptor tables and rings: whatever the guest writes, the device
// either completes chains or needs a reset, and the host stays intact.
TEST_F(VirtqueueTest, RandomGarbageNeverHurtsTheHost) {
  std::mt19937_64 rng(12345);
  const uint64_t addrs[] = {0,
                            0x1000,
                            kData,
                            kIndirectTable,
                            kRamBase + kRamSize - 16,
                            kRamBase + kRamSize,
                            0xfffffffffffffff0};
  const uint32_t lens[] = {0, 1, 15, 16, 32, 4096, 0x7fffffff, 0xffffffff};
  for (int iteration = 0; iteration < 2000; ++iteration) {
    drv_->wr(reg::kStatus, 0);
    uint16_t size = static_cast<uint16_t>(1u << (rng() % 5));
    start(size);
    for (uint64_t table : {kDescTable, kIndirectTable}) {
      for (uint16_t i = 0; i < 32; ++i) {
        drv_->set_desc(table, i, addrs[rng() % std::size(addrs)], lens[rng() % std::size(lens)],
                       static_cast<uint16_t>(rng() % 8), static_cast<uint16_t>(rng() % 40));
      }
    }
    unsigned available = static_cast<unsigned>(rng() % 4);
    for (unsigned i = 0; i < available; ++i) {
      drv_->make_available(static_cast<uint16_t>(rng() % (size + 2)));
    }
    if (rng() % 8 == 0) drv_->set_avail_idx(static_cast<uint16_t>(rng()));
    drv_->kick();
    uint16_t used = drv_->used_idx();
    if (!drv_->needs_reset()) {
      EXPECT_EQ(used, available);
    }
    EXPECT_LE(used, available);
  }
}

TEST_F(VirtqueueTest, UnknownRegistersAndWidthsAreHarmless) {
  start();
  uint64_t v = 1;
  EXPECT_TRUE(dev_->mmio_read(reg::kStatus, 1, v));
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(dev_->mmio_write(reg::kStatus, 2, 0));  // ignored: not a reset
  EXPECT_NE(drv_->rd(reg::kStatus), 0u);
  EXPECT_TRUE(dev_->mmio_write(0x0c8, 4, 1));
  EXPECT_TRUE(dev_->mmio_read(0x0c8, 4, v));
  drv_->wr(reg::kQueueSel, 5);
  drv_->wr(reg::kQueueReady, 1);
  drv_->wr(reg::kQueueNotify, 5);
  drv_->wr(reg::kQueueNotify, 0xffffffff);
  EXPECT_FALSE(drv_->needs_reset());
  drv_->wr(reg::kQueueSel, 0);
  expect_healthy();
}

}  // namespace
}  // namespace vessel::devices::virtio
