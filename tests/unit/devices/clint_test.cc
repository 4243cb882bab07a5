#include "devices/clint.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace vessel::devices {
namespace {

constexpr uint64_t kMsip = 0x0;
constexpr uint64_t kMtimecmp = 0x4000;
constexpr uint64_t kMtime = 0xbff8;

class ClintTest : public ::testing::Test {
 protected:
  ClintTest()
      : clint_(2, clock_, lines(msip_), lines(mtip_), [this](unsigned h) { ++retimed_[h]; }) {}

  std::vector<IrqLine> lines(bool* pins) {
    return {[pins](bool l) { pins[0] = l; }, [pins](bool l) { pins[1] = l; }};
  }
  uint64_t rd(uint64_t off, unsigned size = 8) {
    uint64_t v = 0;
    EXPECT_TRUE(clint_.mmio_read(off, size, v));
    return v;
  }
  void wr(uint64_t off, uint64_t v, unsigned size = 8) {
    EXPECT_TRUE(clint_.mmio_write(off, size, v));
  }

  GuestClock clock_;
  bool msip_[2] = {};
  bool mtip_[2] = {};
  unsigned retimed_[2] = {};
  Clint clint_;
};

TEST_F(ClintTest, MsipRaisesAndLowersSoftwareInterrupt) {
  wr(kMsip + 4, 1, 4);
  EXPECT_TRUE(msip_[1]);
  EXPECT_FALSE(msip_[0]);
  EXPECT_EQ(rd(kMsip + 4, 4), 1u);
  wr(kMsip + 4, 0xfffffffe, 4);  // only bit 0 is implemented
  EXPECT_FALSE(msip_[1]);
  EXPECT_EQ(rd(kMsip + 4, 4), 0u);
}

TEST_F(ClintTest, MtimecmpDrivesTimerInterruptImmediately) {
  EXPECT_EQ(clint_.timer_deadline(0), UINT64_MAX);
  EXPECT_FALSE(mtip_[0]);
  wr(kMtimecmp, 0);
  EXPECT_TRUE(mtip_[0]);
  EXPECT_FALSE(mtip_[1]);
  EXPECT_EQ(clint_.timer_deadline(0), 0u);
  wr(kMtimecmp, UINT64_MAX);
  EXPECT_FALSE(mtip_[0]);

  // 32-bit halves, as a 32-bit OS writes them.
  wr(kMtimecmp + 8 + 4, 0, 4);
  EXPECT_EQ(clint_.timer_deadline(1), 0x00000000ffffffffu);
  wr(kMtimecmp + 8, 0, 4);
  EXPECT_TRUE(mtip_[1]);
  EXPECT_EQ(rd(kMtimecmp + 8), 0u);
  EXPECT_EQ(rd(kMtimecmp + 4, 4), 0xffffffffu);
}

TEST_F(ClintTest, TimerFiresWhenTimePasses) {
  uint64_t now = rd(kMtime);
  wr(kMtimecmp, now + 100'000);  // 10 ms at 10 MHz: room for a slow, loaded host
  EXPECT_FALSE(mtip_[0]);
  EXPECT_EQ(clint_.timer_deadline(0), now + 100'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  clint_.update_timer(0);
  EXPECT_TRUE(mtip_[0]);
  clint_.update_timer(7);  // no such hart: ignored
}

TEST_F(ClintTest, MtimeReadsAndWritesTheGuestClock) {
  uint64_t a = rd(kMtime);
  uint64_t b = clock_.ticks();
  EXPECT_LE(a, b);
  wr(kMtime, uint64_t{1} << 40);
  uint64_t c = rd(kMtime);
  EXPECT_GE(c, uint64_t{1} << 40);
  EXPECT_LT(c, (uint64_t{1} << 40) + GuestClock::kFrequency);  // within a second
  EXPECT_GE(clock_.ticks(), uint64_t{1} << 40);

  // Moving time past a deadline raises MTIP on the spot.
  wr(kMtimecmp + 8, (uint64_t{1} << 41));
  EXPECT_FALSE(mtip_[1]);
  wr(kMtime + 4, 2 << 8, 4);  // high half: time becomes 2^41 + low
  EXPECT_TRUE(mtip_[1]);
}

TEST_F(ClintTest, RejectsByteAccesses) {
  uint64_t v;
  EXPECT_FALSE(clint_.mmio_read(kMtime, 1, v));
  EXPECT_FALSE(clint_.mmio_write(kMsip, 2, 1));
}

// A hart asleep in WFI waits for the deadline it read before sleeping: any
// write that moves a deadline must tell that hart to read it again.
TEST_F(ClintTest, DeadlineWritesRetimeTheirHarts) {
  wr(kMtimecmp + 8, 1'000'000'000);
  EXPECT_EQ(retimed_[0], 0u);
  EXPECT_EQ(retimed_[1], 1u);
  wr(kMtimecmp + 4, 0, 4);  // either half
  EXPECT_EQ(retimed_[0], 1u);
  wr(kMtime, 999'000'000);  // every hart's deadline is now nearer
  EXPECT_EQ(retimed_[0], 2u);
  EXPECT_EQ(retimed_[1], 2u);
  wr(kMsip, 1, 4);  // not a timer
  EXPECT_EQ(retimed_[0], 2u);
}

TEST_F(ClintTest, SaveLoadRoundTrip) {
  wr(kMsip, 1, 4);
  wr(kMtimecmp, 0);
  wr(kMtimecmp + 8, 123456789);
  wr(kMtime, 5000);
  StateWriter w;
  clint_.save(w);

  GuestClock clock2;
  bool msip2[2] = {}, mtip2[2] = {};
  Clint copy(2, clock2, lines(msip2), lines(mtip2), nullptr);
  StateReader r(w.data());
  ASSERT_TRUE(copy.load(r).ok());
  EXPECT_TRUE(msip2[0]);
  EXPECT_FALSE(msip2[1]);
  EXPECT_TRUE(mtip2[0]);
  EXPECT_FALSE(mtip2[1]);
  EXPECT_EQ(copy.timer_deadline(1), 123456789u);
  uint64_t t = clock2.ticks();
  EXPECT_GE(t, 5000u);
  EXPECT_LT(t, 5000u + GuestClock::kFrequency);

  Clint wrong(1, clock2, {}, {}, nullptr);
  StateReader r2(w.data());
  EXPECT_FALSE(wrong.load(r2).ok());
}

}  // namespace
}  // namespace vessel::devices
