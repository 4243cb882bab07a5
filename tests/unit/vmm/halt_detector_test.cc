// Halt detection: all harts asleep with nothing that could wake them.
#include "vmm/halt_detector.h"

#include <gtest/gtest.h>

#include <vector>

namespace vessel::vmm {
namespace {

using Wait = HaltDetector::Wait;

TEST(HaltDetectorTest, ClassifiesByMie) {
  EXPECT_EQ(HaltDetector::classify(0), Wait::kForever);
  EXPECT_EQ(HaltDetector::classify(1 << 1), Wait::kForever);  // SSIP: only the hart itself
  EXPECT_EQ(HaltDetector::classify(1 << 3), Wait::kIpiOnly);
  EXPECT_EQ(HaltDetector::classify((1 << 3) | (1 << 1)), Wait::kIpiOnly);
  EXPECT_EQ(HaltDetector::classify(1 << 7), Wait::kAnyInterrupt);   // MTIP
  EXPECT_EQ(HaltDetector::classify(1 << 5), Wait::kAnyInterrupt);   // STIP
  EXPECT_EQ(HaltDetector::classify(1 << 9), Wait::kAnyInterrupt);   // SEIP
  EXPECT_EQ(HaltDetector::classify(1 << 11), Wait::kAnyInterrupt);  // MEIP
}

TEST(HaltDetectorTest, HaltedOnlyWhenEveryHartWaitsInVain) {
  std::vector<bool> msip(3, false);
  HaltDetector d(3, [&](unsigned h) { return static_cast<bool>(msip[h]); });
  EXPECT_FALSE(d.waiting(0, Wait::kForever));
  EXPECT_FALSE(d.waiting(1, Wait::kIpiOnly));
  EXPECT_TRUE(d.waiting(2, Wait::kIpiOnly));

  // An IPI on its way keeps the machine alive.
  d.running(2);
  msip[1] = true;
  EXPECT_FALSE(d.waiting(2, Wait::kIpiOnly));
  msip[1] = false;
  d.running(1);
  EXPECT_TRUE(d.waiting(1, Wait::kForever));

  d.reset();
  EXPECT_FALSE(d.waiting(0, Wait::kForever));
}

TEST(HaltDetectorTest, SingleHart) {
  HaltDetector d(1, [](unsigned) { return false; });
  EXPECT_TRUE(d.waiting(0, Wait::kForever));
  d.running(0);
  EXPECT_TRUE(d.waiting(0, Wait::kIpiOnly));  // no other hart to send one
}

}  // namespace
}  // namespace vessel::vmm
