// Crash consistency: a writer is killed with SIGKILL at random instants. After
// each kill, `qemu-img check` must find at most leaked clusters (exit 0 or 3,
// never 2), and every write completed before the writer's last finished
// flush must read back. Leaky images are then repaired (check -r leaks) and
// must pass qemu-img check with the same data. The same holds with extended
// L2 entries (each 4 KiB write allocates subclusters) and with an external
// data file.
#include <unistd.h>

#include <chrono>
#include <functional>
#include <random>

#include "crash_test_util.h"
#include "qcow2_test_util.h"

namespace vessel::block::testing {
namespace {

constexpr uint64_t kImageSize = 16 << 20;
constexpr uint64_t kWriteSize = 4096;
constexpr uint64_t kSlots = kImageSize / kWriteSize;
constexpr int kWritesPerFlush = 8;
constexpr int kKills = 50;

// Write number n goes to a distinct slot, so no later write can legitimately
// hide an earlier flushed one. Its bytes name n.
uint64_t slot_of(uint64_t n) {
  return (n * 2654435761u) % kSlots;
}  // odd multiplier: a permutation
uint8_t pattern_of(uint64_t n) {
  return static_cast<uint8_t>(n % 251 + 1);
}

// The writer: writes, flushes every kWritesPerFlush writes and reports on
// `report` how many writes the finished flush covers. Never returns.
[[noreturn]] void writer(const std::string& image, int report) {
  auto opened = Qcow2Image::open(image, {Access::kReadWrite, 0});
  if (!opened.ok()) _exit(1);
  report_ready(report);
  std::vector<uint8_t> data(kWriteSize);
  for (uint64_t n = 0; n < kSlots; ++n) {
    std::fill(data.begin(), data.end(), pattern_of(n));
    if (!(*opened)->write(slot_of(n) * kWriteSize, data).ok()) _exit(2);
    if ((n + 1) % kWritesPerFlush == 0) {
      if (!(*opened)->flush().ok()) _exit(3);
      uint64_t flushed = n + 1;
      if (::write(report, &flushed, sizeof flushed) != sizeof flushed) _exit(4);
    }
  }
  _exit(0);
}

// Kills `kills` writers, each on a new image made with the options
// `options(kill_number, path)` gives, and checks what they leave.
void kill_writers(int kills, uint32_t seed,
                  const std::function<Qcow2CreateOptions(int, const std::string&)>& options) {
  TempDir dir;
  std::mt19937 random(seed);
  uint64_t total_flushed = 0;
  int repaired = 0;
  for (int kill_number = 0; kill_number < kills; ++kill_number) {
    SCOPED_TRACE("kill " + std::to_string(kill_number));
    std::string image = dir.file("crash" + std::to_string(kill_number) + ".qcow2");
    Qcow2CreateOptions create = options(kill_number, image);
    create.size = kImageSize;
    ASSERT_TRUE(Qcow2Image::create(image, create).ok());

    std::vector<uint64_t> reports;
    ASSERT_NO_FATAL_FAILURE(kill_child_after([&](int report) { writer(image, report); },
                                             std::chrono::microseconds(random() % 40000),
                                             &reports));
    const uint64_t flushed = reports.empty() ? 0 : reports.back();

    total_flushed += flushed;
    RunResult check = qemu_check(image);
    EXPECT_TRUE(check.status == 0 || check.status == 3) << check.output;
    auto verify = [&] {
      auto reopened = Qcow2Image::open(image, {Access::kReadOnly, 0});
      ASSERT_TRUE(reopened.ok()) << reopened.error().message();
      std::vector<uint8_t> data(kWriteSize);
      for (uint64_t n = 0; n < flushed; ++n) {
        ASSERT_TRUE((*reopened)->read(slot_of(n) * kWriteSize, data).ok());
        ASSERT_EQ(data.front(), pattern_of(n)) << "write " << n << " of " << flushed << " flushed";
        ASSERT_EQ(data.back(), pattern_of(n));
      }
    };
    verify();
    if (check.status == 3) {
      // `vessel img check -r leaks`: the leaks go, the data stays.
      ++repaired;
      auto rw = Qcow2Image::open(image, {Access::kReadWrite, 0});
      ASSERT_TRUE(rw.ok()) << rw.error().message();
      auto report = (*rw)->repair(Qcow2Image::RepairMode::kLeaks);
      ASSERT_TRUE(report.ok()) << report.error().message();
      EXPECT_GT(report->leaks_fixed, 0u);
      EXPECT_EQ(report->corruptions_fixed, 0u);
      ASSERT_TRUE((*rw)->close().ok());
      RunResult after = qemu_check(image);
      EXPECT_EQ(after.status, 0) << after.output;
      verify();
    }
  }
  ::testing::Test::RecordProperty("leaky_images_repaired", repaired);
  // The kills must land while writing, not before the first flush every time.
  EXPECT_GT(total_flushed, uint64_t(kills) * kWritesPerFlush) << "writers died too early";
  ::testing::Test::RecordProperty("flushed_writes", static_cast<int>(total_flushed));
}

TEST(Qcow2Crash, KilledWritersLeaveConsistentImagesWithFlushedDataIntact) {
  REQUIRE_QEMU_TOOLS();
  kill_writers(kKills, 12345, [](int kill_number, const std::string&) {
    Qcow2CreateOptions create;
    create.cluster_size = kill_number % 2 ? 4096 : 65536;
    return create;
  });
}

TEST(Qcow2Crash, SubclustersAndExternalDataFilesToo) {
  REQUIRE_QEMU_TOOLS();
  kill_writers(30, 54321, [](int kill_number, const std::string& image) {
    Qcow2CreateOptions create;
    create.cluster_size = 65536;
    create.extended_l2 = kill_number % 3 != 1;
    if (kill_number % 3 != 0) create.data_file = image + ".data";
    create.data_file_raw = kill_number % 3 == 2;
    return create;
  });
}

}  // namespace
}  // namespace vessel::block::testing
