#include "devices/plic.h"

#include <gtest/gtest.h>

#include <vector>

namespace vessel::devices {
namespace {

constexpr uint64_t kPriority = 0x0;
constexpr uint64_t kPending = 0x1000;
constexpr uint64_t kEnable = 0x2000;
constexpr uint64_t kContext = 0x200000;

uint64_t enable_reg(unsigned ctx, unsigned source) {
  return kEnable + 0x80 * ctx + 4 * (source / 32);
}
uint64_t threshold_reg(unsigned ctx) {
  return kContext + 0x1000 * ctx;
}
uint64_t claim_reg(unsigned ctx) {
  return kContext + 0x1000 * ctx + 4;
}

class PlicTest : public ::testing::Test {
 protected:
  PlicTest() : plic_(2, outputs()) {}

  std::vector<IrqLine> outputs() {
    std::vector<IrqLine> out;
    for (unsigned i = 0; i < 4; ++i) out.push_back([this, i](bool level) { pins_[i] = level; });
    return out;
  }
  uint32_t rd(uint64_t off) {
    uint64_t v = 0;
    EXPECT_TRUE(plic_.mmio_read(off, 4, v));
    return static_cast<uint32_t>(v);
  }
  void wr(uint64_t off, uint32_t v) { EXPECT_TRUE(plic_.mmio_write(off, 4, v)); }
  void enable(unsigned ctx, unsigned source) {
    wr(enable_reg(ctx, source), rd(enable_reg(ctx, source)) | (1u << (source % 32)));
  }

  bool pins_[4] = {};
  Plic plic_;
};

TEST_F(PlicTest, PriorityHasSevenLevelsAndSourceZeroIsFixed) {
  wr(kPriority + 4 * 10, 0xffffffff);
  EXPECT_EQ(rd(kPriority + 4 * 10), 7u);
  wr(kPriority + 0, 5);
  EXPECT_EQ(rd(kPriority + 0), 0u);
  wr(kPriority + 4 * 95, 3);
  EXPECT_EQ(rd(kPriority + 4 * 95), 3u);
  wr(threshold_reg(1), 0xff);
  EXPECT_EQ(rd(threshold_reg(1)), 7u);
  wr(enable_reg(0, 0), 0xffffffff);
  EXPECT_EQ(rd(enable_reg(0, 0)), 0xfffffffeu);  // source 0 cannot be enabled
}

TEST_F(PlicTest, OnlyWordAccesses) {
  uint64_t v;
  EXPECT_FALSE(plic_.mmio_read(kPriority + 4, 8, v));
  EXPECT_FALSE(plic_.mmio_write(kPriority + 4, 1, 1));
}

TEST_F(PlicTest, PendingEnabledAboveThresholdRaisesContext) {
  wr(kPriority + 4 * 10, 1);
  enable(1, 10);  // hart 0 S-mode
  plic_.set_source_level(10, true);
  EXPECT_EQ(rd(kPending), 1u << 10);
  EXPECT_TRUE(pins_[1]);
  EXPECT_FALSE(pins_[0]);  // not enabled for M-mode
  EXPECT_FALSE(pins_[3]);

  wr(threshold_reg(1), 1);  // priority must exceed the threshold
  EXPECT_FALSE(pins_[1]);
  wr(threshold_reg(1), 0);
  EXPECT_TRUE(pins_[1]);

  wr(kPriority + 4 * 10, 0);  // priority 0 never interrupts
  EXPECT_FALSE(pins_[1]);
}

TEST_F(PlicTest, ClaimCompleteWithLevelRepend) {
  wr(kPriority + 4 * 10, 1);
  enable(1, 10);
  plic_.set_source_level(10, true);
  ASSERT_TRUE(pins_[1]);

  EXPECT_EQ(rd(claim_reg(1)), 10u);
  EXPECT_FALSE(pins_[1]);
  EXPECT_EQ(rd(kPending), 0u);
  EXPECT_EQ(rd(claim_reg(1)), 0u);  // nothing else pending
  // The line stays high while claimed: the gateway holds it back.
  plic_.set_source_level(10, true);
  EXPECT_FALSE(pins_[1]);

  wr(claim_reg(1), 10);  // complete with the line still high: pending again
  EXPECT_TRUE(pins_[1]);
  EXPECT_EQ(rd(claim_reg(1)), 10u);
  plic_.set_source_level(10, false);
  wr(claim_reg(1), 10);
  EXPECT_FALSE(pins_[1]);
  EXPECT_EQ(rd(kPending), 0u);
}

TEST_F(PlicTest, CompletionOfSourceNotEnabledIsIgnored) {
  wr(kPriority + 4 * 10, 1);
  enable(1, 10);
  plic_.set_source_level(10, true);
  EXPECT_EQ(rd(claim_reg(1)), 10u);
  wr(claim_reg(3), 10);  // hart 1 S-mode has source 10 disabled
  EXPECT_FALSE(pins_[1]);
  wr(claim_reg(1), 10);
  EXPECT_TRUE(pins_[1]);
}

TEST_F(PlicTest, ClaimsHighestPriorityThenLowestId) {
  for (unsigned s : {3u, 5u, 40u}) {
    enable(1, s);
    plic_.set_source_level(s, true);
  }
  wr(kPriority + 4 * 3, 2);
  wr(kPriority + 4 * 5, 2);
  wr(kPriority + 4 * 40, 6);
  EXPECT_EQ(rd(kPending + 4), 1u << (40 - 32));
  EXPECT_EQ(rd(claim_reg(1)), 40u);
  EXPECT_EQ(rd(claim_reg(1)), 3u);
  EXPECT_EQ(rd(claim_reg(1)), 5u);
  EXPECT_EQ(rd(claim_reg(1)), 0u);
}

TEST_F(PlicTest, ClaimIgnoresThreshold) {
  wr(kPriority + 4 * 7, 2);
  enable(0, 7);
  wr(threshold_reg(0), 7);
  plic_.set_source_level(7, true);
  EXPECT_FALSE(pins_[0]);
  EXPECT_EQ(rd(claim_reg(0)), 7u);
}

TEST_F(PlicTest, LineDroppedBeforeClaimWithdrawsRequest) {
  wr(kPriority + 4 * 1, 1);
  enable(1, 1);
  plic_.set_source_level(1, true);
  EXPECT_TRUE(pins_[1]);
  plic_.set_source_level(1, false);
  EXPECT_FALSE(pins_[1]);
  EXPECT_EQ(rd(claim_reg(1)), 0u);
}

TEST_F(PlicTest, OutOfRangeSourcesAndContextsAreHarmless) {
  plic_.set_source_level(0, true);
  plic_.set_source_level(96, true);
  plic_.set_source_level(1000, true);
  EXPECT_EQ(rd(kPending), 0u);
  EXPECT_EQ(rd(claim_reg(200)), 0u);
  wr(claim_reg(200), 5);
  wr(enable_reg(40, 0), 0xffffffff);
  EXPECT_EQ(rd(enable_reg(40, 0)), 0u);
  EXPECT_EQ(rd(kPending + 4 * 10), 0u);
}

TEST_F(PlicTest, SaveLoadRoundTrip) {
  wr(kPriority + 4 * 10, 3);
  wr(kPriority + 4 * 33, 5);
  enable(1, 10);
  enable(2, 33);
  wr(threshold_reg(2), 4);
  plic_.set_source_level(10, true);
  plic_.set_source_level(33, true);
  EXPECT_EQ(rd(claim_reg(1)), 10u);  // 10 in service, 33 pending

  StateWriter w;
  plic_.save(w);
  bool pins2[4] = {};
  std::vector<IrqLine> outs;
  for (unsigned i = 0; i < 4; ++i) outs.push_back([&pins2, i](bool level) { pins2[i] = level; });
  Plic copy(2, outs);
  StateReader r(w.data());
  ASSERT_TRUE(copy.load(r).ok());
  for (unsigned i = 0; i < 4; ++i) EXPECT_EQ(pins2[i], pins_[i]) << i;
  EXPECT_TRUE(pins2[2]);

  auto same = [&](uint64_t off) {
    uint64_t a = 0, b = 0;
    EXPECT_TRUE(plic_.mmio_read(off, 4, a));
    EXPECT_TRUE(copy.mmio_read(off, 4, b));
    EXPECT_EQ(a, b) << std::hex << off;
  };
  for (uint64_t off : {kPriority + 40, kPriority + 4 * 33, kPending, kPending + 4,
                       enable_reg(1, 10), enable_reg(2, 33), threshold_reg(2)}) {
    same(off);
  }
  // The in-service source re-pends on completion in the copy, as in the original.
  EXPECT_TRUE(copy.mmio_write(claim_reg(1), 4, 10));
  uint64_t claimed = 0;
  EXPECT_TRUE(copy.mmio_read(claim_reg(1), 4, claimed));
  EXPECT_EQ(claimed, 10u);

  Plic wrong_size(1, {});
  StateReader r2(w.data());
  EXPECT_FALSE(wrong_size.load(r2).ok());
}

}  // namespace
}  // namespace vessel::devices
