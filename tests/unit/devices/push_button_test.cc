// The push button: a press holds the line active for the hold time, then the
// button lets go by itself.
#include "devices/push_button.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace vessel::devices {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// What the button did to its line, and when.
class LineRecorder {
 public:
  PushButton::Line line() {
    return [this](bool active) {
      std::lock_guard lock(mutex_);
      changes_.push_back({active, Clock::now()});
    };
  }
  struct Change {
    bool active;
    Clock::time_point at;
  };
  std::vector<Change> changes() {
    std::lock_guard lock(mutex_);
    return changes_;
  }
  // Waits up to `limit` for the `count`th change.
  bool wait_for(size_t count, std::chrono::milliseconds limit = 5s) {
    const auto end = Clock::now() + limit;
    while (changes().size() < count && Clock::now() < end) std::this_thread::sleep_for(1ms);
    return changes().size() >= count;
  }

 private:
  std::mutex mutex_;
  std::vector<Change> changes_;
};

TEST(PushButtonTest, PressHoldsTheLineThenReleases) {
  LineRecorder rec;
  PushButton button(rec.line(), 30ms);
  EXPECT_FALSE(button.pressed());
  EXPECT_TRUE(rec.changes().empty());
  const auto pressed_at = Clock::now();
  button.press();
  EXPECT_TRUE(button.pressed());
  ASSERT_TRUE(rec.wait_for(2));
  std::vector<LineRecorder::Change> changes = rec.changes();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_TRUE(changes[0].active);
  EXPECT_FALSE(changes[1].active);
  EXPECT_GE(changes[1].at - pressed_at, 30ms);
  EXPECT_FALSE(button.pressed());

  // And again.
  button.press();
  ASSERT_TRUE(rec.wait_for(4));
  changes = rec.changes();
  EXPECT_TRUE(changes[2].active);
  EXPECT_FALSE(changes[3].active);
}

TEST(PushButtonTest, PressWhileHeldHoldsLonger) {
  LineRecorder rec;
  PushButton button(rec.line(), 60ms);
  button.press();
  std::this_thread::sleep_for(30ms);
  const auto second_press = Clock::now();
  button.press();
  ASSERT_TRUE(rec.wait_for(2));
  std::this_thread::sleep_for(100ms);
  std::vector<LineRecorder::Change> changes = rec.changes();
  ASSERT_EQ(changes.size(), 2u);  // one press, one release
  EXPECT_TRUE(changes[0].active);
  EXPECT_FALSE(changes[1].active);
  EXPECT_GE(changes[1].at - second_press, 60ms);
}

TEST(PushButtonTest, DestroyedWhileHeld) {
  LineRecorder rec;
  {
    PushButton button(rec.line(), 10s);
    button.press();
  }
  ASSERT_EQ(rec.changes().size(), 1u);
}

TEST(PushButtonTest, SaveLoad) {
  LineRecorder rec;
  StateWriter held;
  StateWriter released;
  {
    PushButton button(rec.line(), 10s);
    button.save(released);
    button.press();
    button.save(held);
  }

  // Held at save time: held again on load, then released after the hold.
  LineRecorder rec2;
  PushButton copy(rec2.line(), 30ms);
  StateReader r(held.data());
  ASSERT_TRUE(copy.load(r).ok());
  EXPECT_TRUE(r.at_end());
  EXPECT_TRUE(copy.pressed());
  ASSERT_TRUE(rec2.wait_for(2));
  EXPECT_TRUE(rec2.changes()[0].active);
  EXPECT_FALSE(rec2.changes()[1].active);

  StateReader r2(released.data());
  ASSERT_TRUE(copy.load(r2).ok());
  EXPECT_FALSE(copy.pressed());
  ASSERT_GE(rec2.changes().size(), 3u);
  EXPECT_FALSE(rec2.changes()[2].active);
}

}  // namespace
}  // namespace vessel::devices
