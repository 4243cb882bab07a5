// The bulk paths that image copying relies on: runs of new qcow2 clusters
// written at once, compressed writes from several threads, and holes of raw
// files recognised without reading them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "block/qcow2.h"
#include "block/raw_file.h"
#include "qcow2_test_util.h"

namespace vessel::block {
namespace {

using namespace testing;

std::vector<uint8_t> pattern(size_t length, uint8_t seed) {
  std::vector<uint8_t> data(length);
  for (size_t i = 0; i < length; ++i) data[i] = static_cast<uint8_t>(seed + i * 13 + i / 509);
  return data;
}

struct RunVariant {
  uint32_t cluster_size;
  Qcow2Version version;
};

class Qcow2WriteRun : public ::testing::TestWithParam<RunVariant> {};

// Large writes over a mix of unallocated, zero, allocated and compressed
// clusters, across L2 table boundaries (512-byte clusters: one table maps
// 32 KiB), then a second pass that overwrites in place.
TEST_P(Qcow2WriteRun, LargeWritesOverMixedClustersReadBack) {
  REQUIRE_QEMU_TOOLS();
  const RunVariant v = GetParam();
  const uint64_t cs = v.cluster_size;
  const uint64_t size = std::max<uint64_t>(2 << 20, 64 * cs);
  TempDir dir;
  std::string image = dir.file("run.qcow2");
  Qcow2CreateOptions create;
  create.size = size;
  create.cluster_size = v.cluster_size;
  create.version = v.version;
  ASSERT_TRUE(Qcow2Image::create(image, create).ok());

  std::vector<uint8_t> model(size, 0);
  {
    auto opened = Qcow2Image::open(image, {Access::kReadWrite, 0});
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    Qcow2Image& img = **opened;
    auto put = [&](uint64_t offset, const std::vector<uint8_t>& data) {
      auto r = img.write(offset, data);
      ASSERT_TRUE(r.ok()) << r.error().message();
      std::copy(data.begin(), data.end(), model.begin() + static_cast<ptrdiff_t>(offset));
    };
    // Islands inside the range the big writes cover.
    put(5 * cs + 7, pattern(100, 1));  // allocated
    ASSERT_TRUE(img.write_compressed(9 * cs, std::vector<uint8_t>(cs, 0x42)).ok());
    std::fill_n(model.begin() + static_cast<ptrdiff_t>(9 * cs), cs, 0x42);           // compressed
    ASSERT_TRUE(img.write_zeroes(12 * cs, 3 * cs, ZeroMode::kKeepAllocation).ok());  // zero
    put(20 * cs, pattern(cs, 2));
    ASSERT_TRUE(img.flush().ok());

    put(0, pattern(size / 2, 3));             // aligned: runs between the islands
    put(size / 2 + 3, pattern(size / 4, 4));  // unaligned start and end
    put(size - 6 * cs, pattern(6 * cs, 5));   // up to the end of the disk
    EXPECT_EQ(first_difference(read_all(img), model), -1);
    put(cs, pattern(size / 2, 6));  // all owned now: in place
    EXPECT_EQ(first_difference(read_all(img), model), -1);
    ASSERT_TRUE(img.close().ok());
  }
  expect_qemu_check_clean(image);
  EXPECT_EQ(first_difference(qemu_read_all(image, dir.file("out.raw")), model), -1);
}

INSTANTIATE_TEST_SUITE_P(Variants, Qcow2WriteRun,
                         ::testing::Values(RunVariant{512, Qcow2Version::kV3},
                                           RunVariant{4096, Qcow2Version::kV2},
                                           RunVariant{65536, Qcow2Version::kV3}),
                         [](const ::testing::TestParamInfo<RunVariant>& param_info) {
                           return "c" + std::to_string(param_info.param.cluster_size) + "_v" +
                                  std::to_string(static_cast<int>(param_info.param.version));
                         });

// A multi-cluster write on a fresh image lands in host clusters that follow
// each other (so that a later sequential read is one host read).
TEST(Qcow2WriteRun, NewClustersOfOneWriteAreContiguous) {
  TempDir dir;
  std::string image = dir.file("c.qcow2");
  Qcow2CreateOptions create;
  create.size = 8 << 20;
  ASSERT_TRUE(Qcow2Image::create(image, create).ok());
  auto opened = Qcow2Image::open(image, {Access::kReadWrite, 0});
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  Qcow2Image& img = **opened;
  ASSERT_TRUE(img.write(1 << 20, pattern(2 << 20, 9)).ok());
  auto first = img.cluster_allocation(1 << 20);
  ASSERT_TRUE(first.ok());
  for (uint64_t off = 1 << 20; off < (3 << 20); off += 65536) {
    auto a = img.cluster_allocation(off);
    ASSERT_TRUE(a.ok());
    ASSERT_EQ(a->allocation, Qcow2Image::Allocation::kData);
    EXPECT_EQ(a->host_offset, first->host_offset + (off - (1 << 20))) << off;
  }
}

// write_compressed() compresses outside the image's lock; from several
// threads at once the image must still come out consistent.
TEST(Qcow2CompressedWrite, FromSeveralThreads) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string image = dir.file("z.qcow2");
  const uint64_t cs = 65536;
  const uint64_t clusters = 96;
  Qcow2CreateOptions create;
  create.size = clusters * cs;
  ASSERT_TRUE(Qcow2Image::create(image, create).ok());
  std::vector<uint8_t> model(clusters * cs);
  for (uint64_t c = 0; c < clusters; ++c) {
    // Compressible (repeated text) with a per-cluster twist; every 7th
    // cluster incompressible-ish so that plain writes mix in.
    for (uint64_t i = 0; i < cs; ++i) {
      model[c * cs + i] = c % 7 == 0 ? static_cast<uint8_t>((i * 2654435761u + c) >> 13)
                                     : static_cast<uint8_t>("vessel"[i % 6] + c);
    }
  }
  {
    auto opened = Qcow2Image::open(image, {Access::kReadWrite, 0});
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    Qcow2Image& img = **opened;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (uint64_t c = t; c < clusters; c += 4) {
          std::span<const uint8_t> piece(model.data() + c * cs, cs);
          if (!img.write_compressed(c * cs, piece).ok()) ++failures;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(first_difference(read_all(img), model), -1);
    ASSERT_TRUE(img.close().ok());
  }
  expect_qemu_check_clean(image);
  EXPECT_EQ(first_difference(qemu_read_all(image, dir.file("out.raw")), model), -1);
}

// Holes of a qcow2 image: zero and unallocated clusters, and what lies
// below unallocated ones in the backing file.
TEST(Qcow2KnownZero, ZeroAndUnallocatedClustersOnly) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string base = dir.file("base.raw");
  std::string top = dir.file("top.qcow2");
  // base: data in its first MiB, a hole after it.
  ASSERT_EQ(run("qemu-img create -q -f raw '" + base + "' 4M").status, 0);
  ASSERT_EQ(run("qemu-io -f raw -c 'write -P 0x33 0 1M' '" + base + "'").status, 0);
  ASSERT_EQ(run("qemu-img create -q -f qcow2 -b '" + base + "' -F raw '" + top + "' 8M").status, 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -z 0 64k' -c 'write -P 1 2M 64k' '" + top + "'").status,
            0);
  auto opened = Qcow2Image::open(top, {});
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  Qcow2Image& img = **opened;
  auto known = [&](uint64_t offset, uint64_t length) {
    auto r = img.known_zero(offset, length);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() && *r;
  };
  EXPECT_TRUE(known(0, 65536));        // zero cluster over backing data
  EXPECT_FALSE(known(65536, 65536));   // backing data shows through
  EXPECT_FALSE(known(2 << 20, 4096));  // allocated here
  EXPECT_FALSE(known((2 << 20) - 65536, 2 * 65536));
  EXPECT_TRUE(known(6 << 20, 2 << 20));  // beyond the backing file
  EXPECT_FALSE(img.known_zero(8 << 20, 1).ok());
  // known_zero never claims zeros that are not there.
  std::vector<uint8_t> data(65536);
  ASSERT_TRUE(img.read(0, data).ok());
  EXPECT_TRUE(std::all_of(data.begin(), data.end(), [](uint8_t b) { return b == 0; }));
}

// Reads of a read-only image run without holding the image's lock during
// the host read; from many threads at once they still return the right data.
TEST(Qcow2ReadOnly, ConcurrentReadsReturnTheRightData) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string raw = dir.file("data.raw");
  std::string image = dir.file("data.qcow2");
  std::vector<uint8_t> model = pattern(4 << 20, 21);
  write_file(raw, model);
  ASSERT_EQ(
      run("qemu-img convert -f raw -O qcow2 -o cluster_size=4096 '" + raw + "' '" + image + "'")
          .status,
      0);
  auto opened = Qcow2Image::open(image, {});
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  Qcow2Image& img = **opened;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint8_t> buf(12288);
      for (uint64_t i = 0; i < 2000; ++i) {
        uint64_t offset = ((i * 7919 + t * 104729) * 512) % (model.size() - buf.size());
        if (!img.read(offset, buf).ok() ||
            !std::equal(buf.begin(), buf.end(), model.begin() + static_cast<ptrdiff_t>(offset))) {
          ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(RawFileKnownZero, FindsHolesAndOnlyHoles) {
  TempDir dir;
  std::string path = dir.file("sparse.raw");
  {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, 4 << 20), 0);
    std::vector<uint8_t> data(65536, 0x5a);
    ASSERT_EQ(pwrite(fd, data.data(), data.size(), 2 << 20), 65536);
    // Whether this file system reports holes at all.
    off_t hole = lseek(fd, 0, SEEK_HOLE);
    ::close(fd);
    if (hole != 0) GTEST_SKIP() << "the file system does not report holes";
  }
  auto raw = RawFile::open(path, true);
  ASSERT_TRUE(raw.ok()) << raw.error().message();
  auto known = [&](uint64_t offset, uint64_t length) {
    auto r = (*raw)->known_zero(offset, length);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() && *r;
  };
  EXPECT_TRUE(known(0, 1 << 20));
  EXPECT_TRUE(known(3 << 20, 1 << 20));  // the hole at the end of the file
  EXPECT_FALSE(known(2 << 20, 4096));
  EXPECT_FALSE(known((2 << 20) - 4096, 8192));  // a hole, then data
  EXPECT_FALSE(known(1 << 20, 2 << 20));
  EXPECT_FALSE((*raw)->known_zero(4 << 20, 1).ok());  // past the end
}

}  // namespace
}  // namespace vessel::block
