// Writes into clusters an image already owns run without the image's lock
// (Qcow2Image::write_in_place), so that with O_DIRECT they reach the device
// together. From many threads, mixed with allocating writes, discards,
// flushes and a snapshot, every byte still ends up where the guest put it,
// and the image stays clean for qemu-img check.
#include <gtest/gtest.h>

#include <thread>

#include "block/qcow2.h"
#include "qcow2_test_util.h"

namespace vessel::block {
namespace {

using namespace testing;

TEST(Qcow2InPlaceWrites, ConcurrentWithDiscardsFlushesAndASnapshot) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  const std::string image = dir.file("c.qcow2");
  constexpr uint64_t kSize = 4 << 20;
  constexpr uint64_t kCluster = 4096;
  constexpr int kThreads = 6;
  constexpr uint64_t kRegion = kSize / kThreads / kCluster * kCluster;
  ASSERT_EQ(run("qemu-img create -q -f qcow2 -o cluster_size=4096 '" + image + "' 4M").status, 0);
  auto opened = Qcow2Image::open(image, {.access = Access::kReadWrite});
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  Qcow2Image& img = **opened;
  // Owned clusters first, so that most writes below take the unlocked way.
  std::vector<uint8_t> model(kSize, 0x11);
  ASSERT_TRUE(img.write(0, model).ok());

  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    // Each thread owns one region, so the final contents are known.
    threads.emplace_back([&, t] {
      const uint64_t base = t * kRegion;
      std::vector<uint8_t> buf(1536);
      for (uint64_t i = 0; i < 3000; ++i) {
        const uint64_t offset = base + ((i * 7919) % (kRegion / 512 - 3)) * 512;
        Result<void> r = Ok();
        if (t == 0 && i % 50 == 0) {
          // Discards free clusters; their release waits for a flush without
          // writes on their way.
          const uint64_t cluster = base + (i / 50 % (kRegion / kCluster)) * kCluster;
          r = img.discard(cluster, kCluster);
          std::fill_n(model.begin() + static_cast<ptrdiff_t>(cluster), kCluster, 0);
        } else if (t == 1 && i % 100 == 0) {
          r = img.flush();
        } else if (t == 2 && i == 1500) {
          r = img.create_snapshot("mid").ok() ? Ok() : Result<void>(Error("snapshot"));
        } else {
          std::fill(buf.begin(), buf.end(), static_cast<uint8_t>(t * 40 + i % 37));
          r = img.write(offset, buf);
          std::copy(buf.begin(), buf.end(), model.begin() + static_cast<ptrdiff_t>(offset));
        }
        if (!r.ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(first_difference(read_all(img), model), -1);
  ASSERT_TRUE(img.close().ok());
  opened->reset();
  expect_qemu_check_clean(image);
  EXPECT_EQ(first_difference(qemu_read_all(image, dir.file("c.raw")), model), -1);
}

}  // namespace
}  // namespace vessel::block
