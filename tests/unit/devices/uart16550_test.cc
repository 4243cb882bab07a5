#include "devices/uart16550.h"

#include <gtest/gtest.h>

#include <string>

namespace vessel::devices {
namespace {

// Register offsets and bits as a driver names them (16550A datasheet).
constexpr uint64_t kRbr = 0, kThr = 0, kDll = 0, kIer = 1, kDlm = 1, kIir = 2, kFcr = 2, kLcr = 3,
                   kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7;

class UartTest : public ::testing::Test {
 protected:
  uint8_t rd(uint64_t reg) {
    uint64_t v = 0xdead;
    EXPECT_TRUE(uart_.mmio_read(reg, 1, v));
    EXPECT_LE(v, 0xffu);
    return static_cast<uint8_t>(v);
  }
  void wr(uint64_t reg, uint8_t v) { EXPECT_TRUE(uart_.mmio_write(reg, 1, v)); }

  bool irq_ = false;
  std::string out_;
  Uart16550 uart_{[this](bool level) { irq_ = level; }, [this](uint8_t b) { out_ += char(b); }};
};

TEST_F(UartTest, ResetState) {
  EXPECT_EQ(rd(kIer), 0);
  EXPECT_EQ(rd(kIir), 0x01);         // no interrupt, FIFOs off
  EXPECT_EQ(rd(kLsr), 0x60);         // THRE | TEMT
  EXPECT_EQ(rd(kMsr) & 0xf0, 0xb0);  // DCD | DSR | CTS: a terminal is attached
  EXPECT_FALSE(irq_);
}

TEST_F(UartTest, TransmitReachesOutput) {
  for (char c : std::string("hi\n")) wr(kThr, static_cast<uint8_t>(c));
  EXPECT_EQ(out_, "hi\n");
  EXPECT_EQ(rd(kLsr) & 0x60, 0x60);
  EXPECT_FALSE(irq_);  // THR-empty interrupt not enabled
}

TEST_F(UartTest, ReceivedBytesRaiseInterruptAndReadBack) {
  wr(kFcr, 0x07);  // enable and clear FIFOs, trigger level 1
  wr(kIer, 0x01);  // RX data available
  EXPECT_FALSE(irq_);
  uart_.receive('a');
  uart_.receive('b');
  EXPECT_TRUE(irq_);
  EXPECT_EQ(rd(kLsr) & 0x01, 0x01);
  EXPECT_EQ(rd(kIir), 0xc4);  // FIFOs enabled, RX data available
  EXPECT_EQ(rd(kRbr), 'a');
  EXPECT_TRUE(irq_);
  EXPECT_EQ(rd(kRbr), 'b');
  EXPECT_FALSE(irq_);
  EXPECT_EQ(rd(kLsr) & 0x01, 0);
  EXPECT_EQ(rd(kIir), 0xc1);
}

TEST_F(UartTest, BelowTriggerLevelReportsCharacterTimeout) {
  wr(kFcr, 0xc1);  // trigger level 14
  wr(kIer, 0x01);
  for (int i = 0; i < 3; ++i) uart_.receive('x');
  EXPECT_TRUE(irq_);
  EXPECT_EQ(rd(kIir), 0xcc);
  for (int i = 0; i < 11; ++i) uart_.receive('y');
  EXPECT_EQ(rd(kIir), 0xc4);
}

TEST_F(UartTest, ThrEmptyInterruptFollowsLinuxProbe) {
  // serial8250_do_startup: enabling ETBEI while THR is empty must interrupt,
  // reading IIR acknowledges, re-enabling interrupts again.
  wr(kIer, 0x02);
  EXPECT_TRUE(irq_);
  EXPECT_EQ(rd(kIir), 0x02);
  EXPECT_FALSE(irq_);
  EXPECT_EQ(rd(kIir), 0x01);
  wr(kIer, 0x00);
  wr(kIer, 0x02);
  EXPECT_TRUE(irq_);
  EXPECT_EQ(rd(kIir), 0x02);
  // Each transmitted byte empties THR again.
  wr(kThr, 'z');
  EXPECT_TRUE(irq_);
  wr(kIer, 0x00);
  EXPECT_FALSE(irq_);
}

TEST_F(UartTest, InterruptPriorityRxBeforeThre) {
  wr(kIer, 0x03);
  uart_.receive('q');
  EXPECT_EQ(rd(kIir), 0x04);
  EXPECT_EQ(rd(kRbr), 'q');
  EXPECT_EQ(rd(kIir), 0x02);
}

TEST_F(UartTest, LoopbackRoutesTransmitToReceiveAndModemLines) {
  wr(kMcr, 0x10 | 0x08 | 0x02);      // LOOP | OUT2 | RTS
  EXPECT_EQ(rd(kMsr) & 0xf0, 0x90);  // DCD (from OUT2) | CTS (from RTS)
  wr(kThr, 0x55);
  EXPECT_EQ(out_, "");
  EXPECT_EQ(rd(kLsr) & 0x01, 0x01);
  EXPECT_EQ(rd(kRbr), 0x55);
  // Dropping RTS changes CTS: a delta bit, and a modem-status interrupt if enabled.
  wr(kIer, 0x08);
  rd(kMsr);  // clear deltas
  EXPECT_FALSE(irq_);
  wr(kMcr, 0x10 | 0x08);
  EXPECT_TRUE(irq_);
  EXPECT_EQ(rd(kIir), 0x00);
  EXPECT_EQ(rd(kMsr), 0x80 | 0x01);  // DCD, DCTS
  EXPECT_FALSE(irq_);
  wr(kMcr, 0x00);
  EXPECT_EQ(rd(kMsr) & 0xf0, 0xb0);
}

TEST_F(UartTest, DivisorLatchAndScratch) {
  wr(kLcr, 0x83);
  wr(kDll, 0x0c);
  wr(kDlm, 0x01);
  EXPECT_EQ(rd(kDll), 0x0c);
  EXPECT_EQ(rd(kDlm), 0x01);
  wr(kLcr, 0x03);
  EXPECT_EQ(rd(kLcr), 0x03);
  EXPECT_EQ(rd(kIer), 0x00);  // the divisor did not land in IER
  wr(kThr, 'k');
  EXPECT_EQ(out_, "k");
  wr(kScr, 0x5a);
  EXPECT_EQ(rd(kScr), 0x5a);
}

TEST_F(UartTest, OverrunSetsLineStatus) {
  wr(kIer, 0x04);  // line-status interrupt
  for (size_t i = 0; i < Uart16550::kRxCapacity; ++i) uart_.receive('o');
  EXPECT_EQ(uart_.rx_space(), 0u);
  EXPECT_FALSE(irq_);
  uart_.receive('!');
  EXPECT_TRUE(irq_);
  EXPECT_EQ(rd(kIir), 0x06);
  EXPECT_EQ(rd(kLsr) & 0x03, 0x03);  // DR | OE
  EXPECT_EQ(rd(kLsr) & 0x02, 0);     // OE clears on read
  EXPECT_FALSE(irq_);
}

TEST_F(UartTest, FifoResetDropsReceivedBytes) {
  wr(kFcr, 0x01);
  uart_.receive('a');
  wr(kFcr, 0x03);
  EXPECT_EQ(rd(kLsr) & 0x01, 0);
}

TEST_F(UartTest, SaveLoadRoundTrip) {
  wr(kLcr, 0x80);
  wr(kDll, 0x34);
  wr(kDlm, 0x12);
  wr(kLcr, 0x1b);
  wr(kFcr, 0x81);
  wr(kMcr, 0x0b);
  wr(kScr, 0x99);
  wr(kIer, 0x05);
  uart_.receive('x');
  uart_.receive('y');

  StateWriter w;
  uart_.save(w);

  bool irq2 = false;
  std::string out2;
  Uart16550 copy([&](bool level) { irq2 = level; }, [&](uint8_t b) { out2 += char(b); });
  StateReader r(w.data());
  ASSERT_TRUE(copy.load(r).ok());
  EXPECT_TRUE(r.at_end());
  EXPECT_TRUE(irq2);

  auto both = [&](uint64_t reg) {
    uint64_t a = 0, b = 0;
    EXPECT_TRUE(uart_.mmio_read(reg, 1, a));
    EXPECT_TRUE(copy.mmio_read(reg, 1, b));
    EXPECT_EQ(a, b) << "register " << reg;
  };
  for (uint64_t reg : {kIer, kIir, kLcr, kMcr, kLsr, kMsr, kScr, kRbr, kRbr, kLsr, kIir}) both(reg);
  wr(kLcr, 0x9b);
  EXPECT_TRUE(copy.mmio_write(kLcr, 1, 0x9b));
  both(kDll);
  both(kDlm);
  EXPECT_FALSE(irq2);
}

TEST_F(UartTest, LoadRejectsForeignSection) {
  StateWriter w;
  w.begin_section("plic", 1);
  w.end_section();
  StateReader r(w.data());
  EXPECT_FALSE(uart_.load(r).ok());
}

}  // namespace
}  // namespace vessel::devices
