// Crash consistency of resize: a process grows (and now and then shrinks) an
// image with 512-byte clusters, so that the L1 table keeps moving to new
// clusters, and is killed with SIGKILL at random instants. `qemu-img check`
// must find at most leaked clusters (after the repair of the next open, for
// lazy refcounts), and the image must open with at least
// the size of the last resize that returned.
#include <unistd.h>

#include <chrono>
#include <random>

#include "crash_test_util.h"
#include "qcow2_test_util.h"

namespace vessel::block::testing {
namespace {

constexpr uint64_t kStep = 1 << 20;
constexpr int kKills = 30;

// Grows by kStep, writes the last 4 KiB of the new area, and every third
// step shrinks by half a step; reports each size once resize() returned.
[[noreturn]] void resizer(const std::string& image, int report) {
  auto opened = Qcow2Image::open(image, {Access::kReadWrite, 0});
  if (!opened.ok()) _exit(1);
  report_ready(report);
  Qcow2Image& q = **opened;
  std::vector<uint8_t> data(4096, 0x5a);
  for (int step = 1; step < 4000; ++step) {
    uint64_t size = q.size() + kStep;
    if (!q.resize(size, false).ok()) _exit(2);
    if (::write(report, &size, sizeof size) != sizeof size) _exit(3);
    if (!q.write(size - data.size(), data).ok()) _exit(4);
    if (step % 3 == 0) {
      size -= kStep / 2;
      if (!q.resize(size, true).ok()) _exit(5);
      if (::write(report, &size, sizeof size) != sizeof size) _exit(6);
    }
  }
  _exit(0);
}

TEST(Qcow2ResizeCrash, KilledResizesLeaveConsistentImages) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::mt19937 random(4242);
  int resized = 0;
  for (int kill_number = 0; kill_number < kKills; ++kill_number) {
    SCOPED_TRACE("kill " + std::to_string(kill_number));
    std::string image = dir.file("resize" + std::to_string(kill_number) + ".qcow2");
    Qcow2CreateOptions create;
    create.size = kStep;
    create.cluster_size = 512;
    create.lazy_refcounts = kill_number % 3 == 2;
    ASSERT_TRUE(Qcow2Image::create(image, create).ok());

    std::vector<uint64_t> reports;
    ASSERT_NO_FATAL_FAILURE(kill_child_after([&](int report) { resizer(image, report); },
                                             std::chrono::microseconds(random() % 60000),
                                             &reports));
    const uint64_t last = reports.empty() ? kStep : reports.back();
    resized += static_cast<int>(reports.size());

    // With lazy refcounts the counts on disk are stale by design until the
    // next read-write open repairs them; only that result is checked.
    RunResult check;
    if (!create.lazy_refcounts) {
      check = qemu_check(image);
      EXPECT_TRUE(check.status == 0 || check.status == 3) << check.output;
    }
    // A resize in flight may or may not have reached the header.
    auto reopened = Qcow2Image::open(image, {Access::kReadWrite, 0});
    ASSERT_TRUE(reopened.ok()) << reopened.error().message();
    uint64_t size = (*reopened)->size();
    EXPECT_TRUE(size == last || size == last + kStep || size == last - kStep / 2)
        << size << " after " << last;
    ASSERT_TRUE((*reopened)->close().ok());
    check = qemu_check(image);
    EXPECT_TRUE(check.status == 0 || check.status == 3) << check.output;
  }
  EXPECT_GT(resized, kKills) << "the resizers died too early";
  RecordProperty("resizes", resized);
}

}  // namespace
}  // namespace vessel::block::testing
