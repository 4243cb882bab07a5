#include "devices/goldfish_rtc.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace vessel::devices {
namespace {

constexpr uint64_t kTimeLow = 0x00, kTimeHigh = 0x04, kAlarmLow = 0x08, kAlarmHigh = 0x0c,
                   kIrqEnabled = 0x10, kClearAlarm = 0x14, kAlarmStatus = 0x18,
                   kClearInterrupt = 0x1c;
constexpr uint64_t kSecond = 1'000'000'000;

uint64_t host_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

class RtcTest : public ::testing::Test {
 protected:
  uint32_t rd(uint64_t off) {
    uint64_t v = 0;
    EXPECT_TRUE(rtc_.mmio_read(off, 4, v));
    return static_cast<uint32_t>(v);
  }
  void wr(uint64_t off, uint32_t v) { EXPECT_TRUE(rtc_.mmio_write(off, 4, v)); }
  uint64_t read_time() {
    uint64_t low = rd(kTimeLow);
    return low | (uint64_t{rd(kTimeHigh)} << 32);
  }
  // Linux's rtc-goldfish order: high half first, then the low half.
  void set_time(uint64_t ns) {
    wr(kTimeHigh, static_cast<uint32_t>(ns >> 32));
    wr(kTimeLow, static_cast<uint32_t>(ns));
  }
  void set_alarm(uint64_t ns) {
    wr(kAlarmHigh, static_cast<uint32_t>(ns >> 32));
    wr(kAlarmLow, static_cast<uint32_t>(ns));
  }
  bool wait_for_irq(std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!irq_ && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return irq_;
  }

  std::atomic<bool> irq_{false};
  GoldfishRtc rtc_{[this](bool level) { irq_ = level; }};
};

TEST_F(RtcTest, ReadsHostWallClock) {
  uint64_t before = host_ns();
  uint64_t t = read_time();
  uint64_t after = host_ns();
  EXPECT_GE(t, before);
  EXPECT_LE(t, after);
}

TEST_F(RtcTest, TimeHighIsLatchedByTimeLow) {
  // The low half wraps 0.5 ms after this (a slow machine may already be past it).
  set_time((uint64_t{0x1234} << 32) | (0xffffffffu - 500'000));
  rd(kTimeLow);
  uint32_t latched = rd(kTimeHigh);
  EXPECT_TRUE(latched == 0x1234u || latched == 0x1235u) << latched;
  // No TIME_LOW read in between: TIME_HIGH still returns the latch, even
  // though the low half has wrapped by now.
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(rd(kTimeHigh), latched);
}

TEST_F(RtcTest, SetTimeMovesTheGuestClock) {
  uint64_t target = 1'000'000 * kSecond;  // early 1970
  set_time(target);
  uint64_t t = read_time();
  EXPECT_GE(t, target);
  EXPECT_LT(t, target + kSecond);
}

TEST_F(RtcTest, AlarmFiresOnItsOwnAndIsCleared) {
  wr(kIrqEnabled, 1);
  EXPECT_EQ(rd(kIrqEnabled), 1u);
  uint64_t when = read_time() + 200'000'000;  // 200 ms: room for a slow, loaded host
  set_alarm(when);
  EXPECT_EQ(rd(kAlarmStatus), 1u);
  EXPECT_EQ(rd(kAlarmLow), static_cast<uint32_t>(when));
  EXPECT_EQ(rd(kAlarmHigh), static_cast<uint32_t>(when >> 32));
  EXPECT_FALSE(irq_);
  // No register access needed: the device's own thread fires it.
  EXPECT_TRUE(wait_for_irq(std::chrono::milliseconds(3000)));
  EXPECT_GE(read_time(), when);
  EXPECT_EQ(rd(kAlarmStatus), 0u);
  wr(kClearInterrupt, 1);
  EXPECT_FALSE(irq_);
}

TEST_F(RtcTest, PastAlarmFiresAtOnceAndDisabledIrqStaysLow) {
  set_alarm(read_time() - kSecond);
  EXPECT_EQ(rd(kAlarmStatus), 0u);
  EXPECT_FALSE(irq_);  // interrupts not enabled
  wr(kIrqEnabled, 1);  // the fired alarm is still pending
  EXPECT_TRUE(irq_);
  wr(kIrqEnabled, 0);
  EXPECT_FALSE(irq_);
  wr(kClearInterrupt, 1);
  wr(kIrqEnabled, 1);
  EXPECT_FALSE(irq_);
}

TEST_F(RtcTest, ClearAlarmDisarms) {
  wr(kIrqEnabled, 1);
  set_alarm(read_time() + 500'000'000);
  EXPECT_EQ(rd(kAlarmStatus), 1u);
  wr(kClearAlarm, 1);
  EXPECT_EQ(rd(kAlarmStatus), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_FALSE(irq_);
}

TEST_F(RtcTest, SaveLoadRoundTrip) {
  set_time(500 * kSecond);
  wr(kIrqEnabled, 1);
  set_alarm(900 * kSecond);
  StateWriter w;
  rtc_.save(w);

  std::atomic<bool> irq2{false};
  GoldfishRtc copy([&](bool level) { irq2 = level; });
  StateReader r(w.data());
  ASSERT_TRUE(copy.load(r).ok());
  uint64_t v = 0;
  ASSERT_TRUE(copy.mmio_read(kTimeLow, 4, v));
  uint64_t t = v;
  ASSERT_TRUE(copy.mmio_read(kTimeHigh, 4, v));
  t |= v << 32;
  EXPECT_GE(t, 500 * kSecond);
  EXPECT_LT(t, 501 * kSecond);
  for (uint64_t off : {kAlarmLow, kAlarmHigh, kIrqEnabled, kAlarmStatus}) {
    uint64_t a = 0, b = 0;
    ASSERT_TRUE(rtc_.mmio_read(off, 4, a));
    ASSERT_TRUE(copy.mmio_read(off, 4, b));
    EXPECT_EQ(a, b) << off;
  }
  EXPECT_FALSE(irq2);
}

}  // namespace
}  // namespace vessel::devices
