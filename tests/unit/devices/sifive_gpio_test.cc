// The SiFive GPIO controller against its register description (FU540-C000
// manual) and the register sequences of Linux's gpio-sifive driver.
#include "devices/sifive_gpio.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace vessel::devices {
namespace {

constexpr uint64_t kInputVal = 0x00, kInputEn = 0x04, kOutputEn = 0x08, kOutputVal = 0x0c,
                   kPue = 0x10, kDs = 0x14, kRiseIe = 0x18, kRiseIp = 0x1c, kFallIe = 0x20,
                   kFallIp = 0x24, kHighIe = 0x28, kHighIp = 0x2c, kLowIe = 0x30, kLowIp = 0x34,
                   kIofEn = 0x38, kIofSel = 0x3c, kOutXor = 0x40;

constexpr unsigned kPins = 8;

class SifiveGpioTest : public ::testing::Test {
 protected:
  std::vector<IrqLine> lines(std::array<int, kPins>& levels, std::array<int, kPins>& calls) {
    std::vector<IrqLine> out;
    for (unsigned i = 0; i < kPins; ++i) {
      out.push_back([&levels, &calls, i](bool level) {
        levels[i] = level ? 1 : 0;
        ++calls[i];
      });
    }
    return out;
  }
  uint32_t rd(uint64_t off) {
    uint64_t v = 0;
    EXPECT_TRUE(gpio_.mmio_read(off, 4, v)) << std::hex << off;
    return static_cast<uint32_t>(v);
  }
  void wr(uint64_t off, uint32_t v) { EXPECT_TRUE(gpio_.mmio_write(off, 4, v)) << std::hex << off; }
  // Linux's gpio-sifive: probe disables every interrupt; enabling pin's IRQ
  // for IRQ_TYPE_EDGE_BOTH (gpio-keys) makes it an input (bgpio writes the
  // whole direction registers), clears its sticky pending bits and sets its
  // rise and fall enables.
  void linux_enable_edge_irq(unsigned pin) {
    for (uint64_t ie : {kRiseIe, kFallIe, kHighIe, kLowIe}) wr(ie, 0);
    const uint32_t bit = 1u << pin;
    wr(kInputEn, 0xffffffff);
    wr(kOutputEn, 0);
    for (uint64_t ip : {kRiseIp, kFallIp, kHighIp, kLowIp}) wr(ip, bit);
    wr(kRiseIe, rd(kRiseIe) | bit);
    wr(kFallIe, rd(kFallIe) | bit);
  }
  // The driver's irq_eoi: every pending bit of the pin cleared.
  void linux_eoi(unsigned pin) {
    for (uint64_t ip : {kRiseIp, kFallIp, kHighIp, kLowIp}) wr(ip, 1u << pin);
  }

  std::array<int, kPins> irq_{};
  std::array<int, kPins> irq_calls_{};
  SifiveGpio gpio_{lines(irq_, irq_calls_)};
};

TEST_F(SifiveGpioTest, ResetStateAndImplementedBits) {
  EXPECT_EQ(gpio_.pins(), kPins);
  for (uint64_t off : {kInputVal, kInputEn, kOutputEn, kOutputVal, kPue, kDs, kRiseIe, kRiseIp,
                       kFallIe, kFallIp, kHighIe, kHighIp, kLowIe, kIofEn, kIofSel, kOutXor}) {
    EXPECT_EQ(rd(off), 0u) << std::hex << off;
  }
  // Every pin reads low (its input is disabled): the low condition holds.
  EXPECT_EQ(rd(kLowIp), 0xffu);
  for (int level : irq_) EXPECT_EQ(level, 0);
  // Read/write registers keep only the bits of pins that exist.
  for (uint64_t off : {kInputEn, kOutputEn, kOutputVal, kPue, kDs, kRiseIe, kFallIe, kHighIe,
                       kLowIe, kIofEn, kIofSel, kOutXor}) {
    wr(off, 0xffff'ff5a);
    EXPECT_EQ(rd(off), 0x5au) << std::hex << off;
    wr(off, 0);
  }
  // Offsets past the registers read 0 and ignore writes.
  wr(0x44, 1);
  EXPECT_EQ(rd(0x44), 0u);
  EXPECT_EQ(rd(0xffc), 0u);
}

TEST_F(SifiveGpioTest, OnlyWordAccessesAndInputValIsReadOnly) {
  uint64_t v = 0;
  EXPECT_FALSE(gpio_.mmio_read(kInputEn, 1, v));
  EXPECT_FALSE(gpio_.mmio_read(kInputEn, 8, v));
  EXPECT_FALSE(gpio_.mmio_write(kInputEn, 2, 1));
  gpio_.set_input(0, true);
  wr(kInputEn, 0);
  wr(kInputVal, 1);
  EXPECT_EQ(rd(kInputVal), 0u);
}

TEST_F(SifiveGpioTest, InputValReadsDrivenPinsWhenInputIsEnabled) {
  gpio_.set_input(2, true);
  EXPECT_EQ(rd(kInputVal), 0u);  // input disabled
  wr(kInputEn, 1u << 2);
  EXPECT_EQ(rd(kInputVal), 1u << 2);
  gpio_.set_input(2, false);
  EXPECT_EQ(rd(kInputVal), 0u);
  gpio_.set_input(kPins, true);  // no such pin: ignored
  gpio_.set_input(31, true);
  wr(kInputEn, 0xffffffff);
  EXPECT_EQ(rd(kInputVal), 0u);
}

TEST_F(SifiveGpioTest, UndrivenPinsFollowTheOutputDriverOrThePullUp) {
  wr(kInputEn, 0xff);
  wr(kPue, 1u << 1);
  EXPECT_EQ(rd(kInputVal), 1u << 1);  // pulled up
  wr(kOutputEn, 1u << 3);
  wr(kOutputVal, 1u << 3);
  EXPECT_EQ(rd(kInputVal), (1u << 1) | (1u << 3));
  EXPECT_TRUE(gpio_.output_level(3));
  wr(kOutXor, 1u << 3);  // inverted output
  EXPECT_EQ(rd(kInputVal), 1u << 1);
  EXPECT_FALSE(gpio_.output_level(3));
  EXPECT_EQ(rd(kOutputVal), 1u << 3);  // the register itself is not inverted
  // A pin the host drives reads what the host drives, whatever the pull-up.
  gpio_.set_input(1, false);
  EXPECT_EQ(rd(kInputVal), 0u);
  EXPECT_FALSE(gpio_.output_level(1));  // not an output
}

TEST_F(SifiveGpioTest, EdgesLatchUntilWrittenOneToClear) {
  wr(kInputEn, 0xff);
  for (uint64_t ip : {kRiseIp, kFallIp, kHighIp, kLowIp}) wr(ip, 0xff);
  EXPECT_EQ(rd(kLowIp), 0xffu);  // the low level holds: set again at once
  EXPECT_EQ(rd(kRiseIp), 0u);

  gpio_.set_input(4, true);
  EXPECT_EQ(rd(kRiseIp), 1u << 4);
  EXPECT_EQ(rd(kHighIp), 1u << 4);
  gpio_.set_input(4, false);
  EXPECT_EQ(rd(kRiseIp), 1u << 4);  // still latched
  EXPECT_EQ(rd(kFallIp), 1u << 4);
  EXPECT_EQ(rd(kHighIp), 1u << 4);  // a level bit latches too
  wr(kRiseIp, 1u << 5);             // another pin's bit: no effect
  EXPECT_EQ(rd(kRiseIp), 1u << 4);
  wr(kRiseIp, 1u << 4);
  wr(kHighIp, 1u << 4);  // the pin is low now: clears
  EXPECT_EQ(rd(kRiseIp), 0u);
  EXPECT_EQ(rd(kHighIp), 0u);
  EXPECT_EQ(rd(kFallIp), 1u << 4);
  // Pending bits latch whether or not their interrupt is enabled, and drive
  // no line while disabled.
  for (int level : irq_) EXPECT_EQ(level, 0);
  for (int calls : irq_calls_) EXPECT_EQ(calls, 0);
}

TEST_F(SifiveGpioTest, LineIsPendingAndEnabled) {
  wr(kInputEn, 0xff);
  for (uint64_t ip : {kRiseIp, kFallIp, kHighIp}) wr(ip, 0xff);
  gpio_.set_input(6, true);
  EXPECT_EQ(irq_[6], 0);
  wr(kRiseIe, 1u << 6);  // enabling a latched edge raises the line
  EXPECT_EQ(irq_[6], 1);
  wr(kRiseIe, 0);
  EXPECT_EQ(irq_[6], 0);
  wr(kRiseIe, 1u << 6);
  wr(kRiseIp, 1u << 6);
  EXPECT_EQ(irq_[6], 0);

  // A level interrupt stays up while the level holds, however often cleared.
  wr(kHighIe, 1u << 6);
  EXPECT_EQ(irq_[6], 1);
  wr(kHighIp, 1u << 6);
  EXPECT_EQ(irq_[6], 1);
  gpio_.set_input(6, false);
  wr(kHighIp, 1u << 6);
  EXPECT_EQ(irq_[6], 0);
  wr(kHighIe, 0);

  wr(kLowIe, 1u << 6);
  EXPECT_EQ(irq_[6], 1);
  wr(kLowIe, 0);
  wr(kFallIe, 1u << 6);  // the fall above is still latched
  EXPECT_EQ(irq_[6], 1);
  wr(kFallIp, 1u << 6);
  EXPECT_EQ(irq_[6], 0);
  for (unsigned pin = 0; pin < kPins; ++pin) {
    if (pin != 6) {
      EXPECT_EQ(irq_calls_[pin], 0) << pin;  // one line per pin
    }
  }
}

TEST_F(SifiveGpioTest, LinuxEdgeBothButtonPress) {
  linux_enable_edge_irq(0);
  EXPECT_EQ(irq_[0], 0);
  EXPECT_EQ(rd(kInputEn) & 1, 1u);
  // Press: one interrupt, the pin reads pressed; the handler's eoi drops it.
  gpio_.set_input(0, true);
  EXPECT_EQ(irq_[0], 1);
  EXPECT_EQ(rd(kInputVal) & 1, 1u);
  linux_eoi(0);
  EXPECT_EQ(irq_[0], 0);
  // Release: another.
  gpio_.set_input(0, false);
  EXPECT_EQ(irq_[0], 1);
  EXPECT_EQ(rd(kInputVal) & 1, 0u);
  linux_eoi(0);
  EXPECT_EQ(irq_[0], 0);
  EXPECT_EQ(irq_calls_[0], 4);
  // Driving the same level again is no edge.
  gpio_.set_input(0, false);
  EXPECT_EQ(irq_[0], 0);
  EXPECT_EQ(irq_calls_[0], 4);
}

TEST_F(SifiveGpioTest, IofAndDriveStrengthAreStored) {
  wr(kIofEn, 0x0f);
  wr(kIofSel, 0x05);
  wr(kDs, 0x80);
  EXPECT_EQ(rd(kIofEn), 0x0fu);
  EXPECT_EQ(rd(kIofSel), 0x05u);
  EXPECT_EQ(rd(kDs), 0x80u);
}

TEST_F(SifiveGpioTest, SaveLoadRoundTrip) {
  linux_enable_edge_irq(0);
  wr(kPue, 0x30);
  wr(kOutputEn, 0x80);
  wr(kOutputVal, 0x80);
  wr(kOutXor, 0x40);
  wr(kIofEn, 0x02);
  gpio_.set_input(0, true);  // pending, line up
  ASSERT_EQ(irq_[0], 1);

  StateWriter w;
  gpio_.save(w);
  std::array<int, kPins> levels{}, calls{};
  SifiveGpio copy(lines(levels, calls));
  StateReader r(w.data());
  ASSERT_TRUE(copy.load(r).ok());
  EXPECT_TRUE(r.at_end());
  EXPECT_EQ(levels, irq_);
  for (uint64_t off = 0; off <= kOutXor; off += 4) {
    uint64_t a = 0, b = 0;
    EXPECT_TRUE(gpio_.mmio_read(off, 4, a));
    EXPECT_TRUE(copy.mmio_read(off, 4, b));
    EXPECT_EQ(a, b) << std::hex << off;
  }
  // The host still drives pin 0 high in the copy: its release is an edge.
  for (uint64_t ip : {kRiseIp, kFallIp, kHighIp, kLowIp}) {
    EXPECT_TRUE(copy.mmio_write(ip, 4, 1));
  }
  EXPECT_EQ(levels[0], 0);
  copy.set_input(0, false);
  EXPECT_EQ(levels[0], 1);

  SifiveGpio fewer_pins(std::vector<IrqLine>(4));
  StateReader r2(w.data());
  Result<void> loaded = fewer_pins.load(r2);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message().find("8 pins"), std::string::npos) << loaded.error().message();
}

TEST(SifiveGpioSizeTest, ThirtyTwoPins) {
  std::vector<IrqLine> lines(40);  // more lines than a controller has pins
  bool last = false;
  lines[31] = [&last](bool level) { last = level; };
  SifiveGpio gpio(std::move(lines));
  EXPECT_EQ(gpio.pins(), 32u);
  ASSERT_TRUE(gpio.mmio_write(kInputEn, 4, 0xffffffff));
  ASSERT_TRUE(gpio.mmio_write(kRiseIe, 4, 0xffffffff));
  uint64_t v = 0;
  ASSERT_TRUE(gpio.mmio_read(kInputEn, 4, v));
  EXPECT_EQ(v, 0xffffffffu);
  gpio.set_input(31, true);
  ASSERT_TRUE(gpio.mmio_read(kInputVal, 4, v));
  EXPECT_EQ(v, 0x80000000u);
  EXPECT_TRUE(last);
}

}  // namespace
}  // namespace vessel::devices
