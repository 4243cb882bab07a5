// MappedBuffer: filled through spare(), grown without losing its bytes,
// moved without copying.
#include "base/mapped_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <utility>

namespace vessel {
namespace {

TEST(MappedBufferTest, FillsGrowsAndMoves) {
  Result<MappedBuffer> made = MappedBuffer::create(100);
  ASSERT_TRUE(made.ok()) << made.error().message();
  MappedBuffer b = std::move(made).value();
  EXPECT_GE(b.capacity(), 100u);
  EXPECT_EQ(b.size(), 0u);
  std::memset(b.spare().data(), 0x5a, b.capacity());
  b.set_size(b.capacity());
  EXPECT_TRUE(b.spare().empty());

  const size_t old = b.capacity();
  ASSERT_TRUE(b.reserve(old * 2 + 1).ok());
  EXPECT_GE(b.capacity(), old * 2 + 1);
  EXPECT_EQ(b.size(), old);
  EXPECT_EQ(b.bytes()[0], 0x5a);
  EXPECT_EQ(b.bytes()[old - 1], 0x5a);
  EXPECT_EQ(b.spare()[0], 0);  // new room is zeros

  MappedBuffer moved = std::move(b);
  EXPECT_EQ(moved.size(), old);
  EXPECT_EQ(b.size(), 0u);  // NOLINT(bugprone-use-after-move): it is empty now
  EXPECT_TRUE(b.bytes().empty());
}

}  // namespace
}  // namespace vessel
