#include "base/state.h"

#include <gtest/gtest.h>

namespace vessel {
namespace {

TEST(State, RoundTripsNestedSections) {
  StateWriter w;
  w.begin_section("outer", 2);
  w.u64(0x1122334455667788);
  w.begin_section("inner", 1);
  w.str("hello");
  w.u8(7);
  w.end_section();
  w.end_section();

  StateReader r(w.data());
  auto version = r.begin_section("outer", 3);
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version.value(), 2u);
  EXPECT_EQ(r.u64(), 0x1122334455667788u);
  ASSERT_TRUE(r.begin_section("inner", 1).ok());
  EXPECT_EQ(r.str(), "hello");
  EXPECT_EQ(r.u8(), 7);
  EXPECT_TRUE(r.end_section().ok());
  EXPECT_TRUE(r.end_section().ok());
  EXPECT_TRUE(r.at_end());
}

TEST(State, RejectsWrongNameNewerVersionAndTruncation) {
  StateWriter w;
  w.begin_section("uart", 5);
  w.u32(1);
  w.end_section();

  StateReader wrong_name(w.data());
  EXPECT_FALSE(wrong_name.begin_section("plic", 5).ok());
  StateReader newer(w.data());
  EXPECT_FALSE(newer.begin_section("uart", 4).ok());

  std::vector<uint8_t> cut(w.data().begin(), w.data().end() - 2);
  StateReader truncated(cut);
  EXPECT_FALSE(truncated.begin_section("uart", 5).ok());
}

TEST(State, ReadingPastSectionFailsAtEnd) {
  StateWriter w;
  w.begin_section("a", 1);
  w.u16(3);
  w.end_section();
  StateReader r(w.data());
  ASSERT_TRUE(r.begin_section("a", 1).ok());
  (void)r.u64();
  EXPECT_TRUE(r.failed());
  EXPECT_FALSE(r.end_section().ok());
}

}  // namespace
}  // namespace vessel
