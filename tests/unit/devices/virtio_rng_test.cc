#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "devices/virtio/rng.h"
#include "devices/virtio/virtio_mmio.h"
#include "virtio_test_driver.h"

namespace vessel::devices::virtio {
namespace {

using testing::Driver;
using testing::kData;
using testing::kRamBase;
using testing::kRamSize;
namespace reg = testing::reg;

class VirtioRngTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ram_.map_ram(kRamBase, kRamSize).ok());
    dev_ = std::make_unique<VirtioMmio>(
        ram_, [this](bool level) { irq_ = level; }, std::make_unique<VirtioRng>());
    drv_ = std::make_unique<Driver>(ram_, *dev_);
  }

  memory::AddressSpace ram_;
  bool irq_ = false;
  std::unique_ptr<VirtioMmio> dev_;
  std::unique_ptr<Driver> drv_;
};

TEST_F(VirtioRngTest, FillsBuffersWithEntropy) {
  EXPECT_EQ(drv_->rd(reg::kDeviceId), 4u);
  EXPECT_EQ(drv_->rd(reg::kQueueNumMax), VirtioRng::kQueueSize);
  drv_->init(feature::kVersion1, 8);
  drv_->set_desc(0, kData, 64, kDescFlagWrite);
  drv_->make_available(0);
  drv_->kick();
  ASSERT_EQ(drv_->used_idx(), 1);
  EXPECT_EQ(drv_->used(0).len, 64u);
  auto bytes = drv_->peek_bytes(kData, 64);
  EXPECT_NE(std::count(bytes.begin(), bytes.end(), 0), 64);
  EXPECT_TRUE(irq_);
}

TEST_F(VirtioRngTest, CapsLargeBuffers) {
  drv_->init(feature::kVersion1, 8);
  drv_->set_desc(0, kData, 1 << 20, kDescFlagWrite);
  drv_->make_available(0);
  drv_->kick();
  ASSERT_EQ(drv_->used_idx(), 1);
  EXPECT_EQ(drv_->used(0).len, VirtioRng::kMaxBytesPerBuffer);
}

TEST_F(VirtioRngTest, SaveLoadRoundTrip) {
  drv_->init(feature::kVersion1, 8);
  StateWriter w;
  dev_->save(w);
  VirtioMmio copy(ram_, nullptr, std::make_unique<VirtioRng>());
  StateReader r(w.data());
  ASSERT_TRUE(copy.load(r).ok());
  Driver drv2(ram_, copy);
  EXPECT_EQ(drv2.rd(reg::kStatus), drv_->rd(reg::kStatus));
  EXPECT_EQ(drv2.rd(reg::kQueueReady), 1u);
  drv2.adopt(8, 0);
  drv2.set_desc(0, kData, 16, kDescFlagWrite);
  drv2.make_available(0);
  drv2.kick();
  EXPECT_EQ(drv2.used_idx(), 1);
}

}  // namespace
}  // namespace vessel::devices::virtio
