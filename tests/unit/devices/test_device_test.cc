#include "devices/test_device.h"

#include <gtest/gtest.h>

#include <vector>

namespace vessel::devices {
namespace {

class TestDeviceTest : public ::testing::Test {
 protected:
  std::vector<PowerRequest> requests_;
  TestDevice device_{[this](PowerRequest r) { requests_.push_back(r); }};
};

TEST_F(TestDeviceTest, PowerRequests) {
  EXPECT_TRUE(device_.mmio_write(0, 4, 0x5555));
  EXPECT_TRUE(device_.mmio_write(0, 4, 0x7777));
  EXPECT_TRUE(device_.mmio_write(0, 4, (42u << 16) | 0x3333));
  ASSERT_EQ(requests_.size(), 3u);
  EXPECT_EQ(requests_[0].kind, PowerRequest::Kind::kPowerOff);
  EXPECT_EQ(requests_[1].kind, PowerRequest::Kind::kReset);
  EXPECT_EQ(requests_[2].kind, PowerRequest::Kind::kFail);
  EXPECT_EQ(requests_[2].code, 42);
}

TEST_F(TestDeviceTest, OtherValuesAndOffsetsAreIgnored) {
  EXPECT_TRUE(device_.mmio_write(0, 4, 0x1234));
  EXPECT_TRUE(device_.mmio_write(0, 4, 0x5556));
  EXPECT_TRUE(device_.mmio_write(4, 4, 0x5555));
  EXPECT_TRUE(device_.mmio_write(0, 1, 0x55));
  EXPECT_TRUE(requests_.empty());
  uint64_t v = 99;
  EXPECT_TRUE(device_.mmio_read(0, 4, v));
  EXPECT_EQ(v, 0u);
}

TEST_F(TestDeviceTest, SaveLoad) {
  StateWriter w;
  device_.save(w);
  TestDevice copy(nullptr);
  StateReader r(w.data());
  EXPECT_TRUE(copy.load(r).ok());
  EXPECT_TRUE(r.at_end());
  EXPECT_TRUE(copy.mmio_write(0, 4, 0x5555));  // no callback: no crash
}

}  // namespace
}  // namespace vessel::devices
