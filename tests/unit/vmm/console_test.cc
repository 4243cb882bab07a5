// The console's escape keys (QEMU's: Ctrl-A x, Ctrl-A h, Ctrl-A Ctrl-A).
#include "vmm/console.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace vessel::vmm {
namespace {

using Action = EscapeDecoder::Action;

TEST(EscapeDecoderTest, PlainBytesPassThrough) {
  EscapeDecoder d;
  for (uint8_t b : {uint8_t{'a'}, uint8_t{'\r'}, uint8_t{0x03}, uint8_t{0xff}}) {
    EscapeDecoder::Step s = d.feed(b);
    EXPECT_EQ(s.action, Action::kForward);
    EXPECT_EQ(s.byte, b);
  }
}

TEST(EscapeDecoderTest, EscapeKeys) {
  EscapeDecoder d;
  EXPECT_EQ(d.feed(0x01).action, Action::kNone);
  EXPECT_EQ(d.feed('x').action, Action::kQuit);

  EXPECT_EQ(d.feed(0x01).action, Action::kNone);
  EXPECT_EQ(d.feed('h').action, Action::kHelp);

  EXPECT_EQ(d.feed(0x01).action, Action::kNone);
  EscapeDecoder::Step literal = d.feed(0x01);
  EXPECT_EQ(literal.action, Action::kForward);
  EXPECT_EQ(literal.byte, 0x01);
  EXPECT_EQ(d.feed('x').action, Action::kForward);  // no longer escaped

  EXPECT_EQ(d.feed(0x01).action, Action::kNone);
  EXPECT_EQ(d.feed('z').action, Action::kNone);  // unknown: dropped
  EXPECT_EQ(d.feed('z').action, Action::kForward);
}

TEST(EscapeDecoderTest, HelpListsTheKeys) {
  std::string help = EscapeDecoder::help_text();
  EXPECT_NE(help.find("C-a x"), std::string::npos);
  EXPECT_NE(help.find("C-a h"), std::string::npos);
  EXPECT_NE(help.find("C-a C-a"), std::string::npos);
}

// Bytes written to a pipe reach the guest; with escapes on, Ctrl-A x quits;
// the end of input only stops reading.
TEST(ConsoleTest, ForwardsPipeInputAndQuits) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::vector<uint8_t> received;
  std::atomic<bool> quit{false};
  std::mutex mutex;
  Console::Callbacks callbacks{
      [&](uint8_t b) {
        std::lock_guard lock(mutex);
        received.push_back(b);
      },
      [] { return size_t{16}; },
      [&] { quit = true; },
  };
  Result<std::unique_ptr<Console>> console = Console::start(fds[0], true, callbacks);
  ASSERT_TRUE(console.ok());
  const char input[] =
      "ab\x01\x01"
      "c\x01x"
      "d";
  ASSERT_EQ(write(fds[1], input, sizeof input - 1), static_cast<ssize_t>(sizeof input - 1));
  for (int i = 0; i < 500 && !quit; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_TRUE(quit);
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(std::string(received.begin(), received.end()),
              "ab\x01"
              "c");
  }
  console->reset();
  close(fds[0]);
  close(fds[1]);
}

TEST(ConsoleTest, EndOfInputKeepsRunningAndStopsCleanly) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::atomic<int> count{0};
  std::atomic<bool> quit{false};
  Console::Callbacks callbacks{
      [&](uint8_t) { ++count; },
      [] { return size_t{4096}; },
      [&] { quit = true; },
  };
  Result<std::unique_ptr<Console>> console = Console::start(fds[0], false, callbacks);
  ASSERT_TRUE(console.ok());
  ASSERT_EQ(write(fds[1], "\x01x12", 4), 4);
  close(fds[1]);
  for (int i = 0; i < 500 && count < 4; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(count, 4);  // not a terminal: escapes are plain bytes
  EXPECT_FALSE(quit);
  console->reset();  // joins the thread even after end of input
  close(fds[0]);
}

}  // namespace
}  // namespace vessel::vmm
