// Qcow2Image on its own (no QEMU needed): create options, round trips over
// the variants, backing files, zero writes, threads.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "block/qcow2.h"
#include "qcow2_test_util.h"

namespace vessel::block {
namespace {

using namespace testing;

TEST(Qcow2Image, RejectsInvalidCreateOptions) {
  TempDir dir;
  std::string path = dir.file("x.qcow2");
  auto expect_error = [&](Qcow2CreateOptions o, const std::string& what) {
    auto r = Qcow2Image::create(path, o);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_NE(r.error().message().find(what), std::string::npos) << r.error().message();
  };
  Qcow2CreateOptions o;
  o.size = 1 << 20;
  auto with = [&](auto change) {
    Qcow2CreateOptions copy = o;
    change(copy);
    return copy;
  };
  expect_error(with([](auto& c) { c.cluster_size = 256; }), "cluster size");
  expect_error(with([](auto& c) { c.cluster_size = 4 << 20; }), "cluster size");
  expect_error(with([](auto& c) { c.cluster_size = 5000; }), "cluster size");
  expect_error(with([](auto& c) { c.refcount_bits = 3; }), "refcount width");
  expect_error(with([](auto& c) { c.refcount_bits = 128; }), "refcount width");
  expect_error(with([](auto& c) {
                 c.version = Qcow2Version::kV2;
                 c.refcount_bits = 8;
               }),
               "16-bit");
  expect_error(with([](auto& c) {
                 c.version = Qcow2Version::kV2;
                 c.lazy_refcounts = true;
               }),
               "lazy refcounts");
  expect_error(with([](auto& c) { c.size = 1000; }), "multiple of 512");
  expect_error(with([](auto& c) {
                 c.cluster_size = 512;
                 c.size = uint64_t{1} << 50;
               }),
               "too large");
  expect_error(with([](auto& c) { c.backing_file = "missing.raw"; }), "needs its format");
  expect_error(with([](auto& c) {
                 c.backing_file = "missing.raw";
                 c.backing_format = "vmdk";
               }),
               "unsupported image format");
  expect_error(with([](auto& c) {
                 c.backing_file = "missing.raw";
                 c.backing_format = "raw";
               }),
               "no such file");
  ASSERT_TRUE(Qcow2Image::create(path, o).ok());
  expect_error(with([](auto& c) {
                 c.backing_file = "x.qcow2";
                 c.backing_format = "qcow2";
               }),
               "cannot be the image itself");
  expect_error(with([](auto& c) {
                 c.backing_file = "x.qcow2";
                 c.backing_format = "qcow2";
                 c.preallocation = Qcow2Preallocation::kMetadata;
               }),
               "preallocation");
  EXPECT_TRUE(parse_qcow2_compat("0.10").ok());
  EXPECT_EQ(parse_qcow2_compat("1.1").value(), Qcow2Version::kV3);
  EXPECT_FALSE(parse_qcow2_compat("2.0").ok());
}

TEST(Qcow2Image, ReadOnlyAndRangeErrors) {
  TempDir dir;
  std::string path = dir.file("ro.qcow2");
  Qcow2CreateOptions o;
  o.size = 1 << 20;
  ASSERT_TRUE(Qcow2Image::create(path, o).ok());
  auto image = Qcow2Image::open(path, {});
  ASSERT_TRUE(image.ok());
  std::vector<uint8_t> buf(16);
  EXPECT_FALSE((*image)->write(0, buf).ok());
  EXPECT_FALSE((*image)->write_zeroes(0, 512, ZeroMode::kDeallocate).ok());
  EXPECT_TRUE((*image)->read(o.size - 16, buf).ok());
  EXPECT_FALSE((*image)->read(o.size - 15, buf).ok());
  EXPECT_FALSE((*image)->read(UINT64_MAX - 4, buf).ok());
  EXPECT_TRUE((*image)->close().ok());
  EXPECT_FALSE((*image)->read(0, buf).ok());
}

// Freed host clusters become holes in the image file: a guest's discard
// gives the host its space back, and the image stays consistent.
TEST(Qcow2Image, DiscardGivesTheHostItsSpaceBack) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string path = dir.file("trim.qcow2");
  Qcow2CreateOptions o;
  o.size = 8 << 20;
  ASSERT_TRUE(Qcow2Image::create(path, o).ok());
  auto opened = Qcow2Image::open(path, {Access::kReadWrite, 0});
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  Qcow2Image& image = **opened;
  const std::vector<uint8_t> data(6 << 20, 0x5a);
  ASSERT_TRUE(image.write(0, data).ok());
  ASSERT_TRUE(image.flush().ok());
  struct stat written;
  ASSERT_EQ(stat(path.c_str(), &written), 0);

  ASSERT_TRUE(image.discard(1 << 20, 4 << 20).ok());
  ASSERT_TRUE(image.flush().ok());
  struct stat trimmed;
  ASSERT_EQ(stat(path.c_str(), &trimmed), 0);
  EXPECT_LE(trimmed.st_blocks * 512, written.st_blocks * 512 - (3 << 20))
      << "the discarded clusters still take space in the file";

  // The freed clusters are reused, and everything reads as expected.
  const std::vector<uint8_t> again(100000, 0xc3);
  ASSERT_TRUE(image.write(2 << 20, again).ok());
  ASSERT_TRUE(image.close().ok());
  expect_qemu_check_clean(path);
  std::vector<uint8_t> model(o.size, 0);
  std::fill_n(model.begin(), 1 << 20, 0x5a);
  std::fill_n(model.begin() + (5 << 20), 1 << 20, 0x5a);
  std::copy(again.begin(), again.end(), model.begin() + (2 << 20));
  EXPECT_EQ(first_difference(read_all(path), model), -1);
}

struct Variant {
  uint32_t cluster_size;
  Qcow2Version version;
  uint32_t refcount_bits;
};

class Qcow2RoundTrip : public ::testing::TestWithParam<Variant> {};

// Random writes, zero writes and reopenings against a byte model.
TEST_P(Qcow2RoundTrip, MatchesAByteModel) {
  const Variant v = GetParam();
  TempDir dir;
  std::string base = dir.file("base.raw");
  std::string path = dir.file("top.qcow2");
  const uint64_t size = 1 << 20;
  std::mt19937 rng(v.cluster_size + v.refcount_bits);
  std::vector<uint8_t> model(size);
  for (size_t j = 0; j < size; ++j) model[j] = static_cast<uint8_t>(j * 13 + (j >> 12));
  write_file(base, std::vector<uint8_t>(model.begin(), model.begin() + size / 2));
  std::fill(model.begin() + size / 2, model.end(), 0);

  Qcow2CreateOptions o;
  o.size = size;
  o.cluster_size = v.cluster_size;
  o.version = v.version;
  o.refcount_bits = v.refcount_bits;
  o.backing_file = "base.raw";
  o.backing_format = "raw";
  ASSERT_TRUE(Qcow2Image::create(path, o).ok());
  for (int round = 0; round < 3; ++round) {
    auto opened = Qcow2Image::open(path, {Access::kReadWrite, 0});
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    Qcow2Image& image = **opened;
    for (int i = 0; i < 60; ++i) {
      uint64_t offset = rng() % size;
      uint64_t length = std::min<uint64_t>(1 + rng() % (2 * v.cluster_size + 100), size - offset);
      if (rng() % 3 == 0) {
        auto mode = rng() % 2 ? ZeroMode::kDeallocate : ZeroMode::kKeepAllocation;
        ASSERT_TRUE(image.write_zeroes(offset, length, mode).ok());
        std::fill_n(model.begin() + static_cast<ptrdiff_t>(offset), length, 0);
      } else {
        std::vector<uint8_t> data(length);
        uint32_t seed = rng();
        for (size_t j = 0; j < length; ++j)
          data[j] = static_cast<uint8_t>(seed + j * 31 + (j >> 9));
        ASSERT_TRUE(image.write(offset, data).ok());
        std::copy(data.begin(), data.end(), model.begin() + static_cast<ptrdiff_t>(offset));
      }
      if (i % 20 == 19) {
        ASSERT_TRUE(image.flush().ok());
      }
    }
    ASSERT_EQ(first_difference(read_all(image), model), -1) << "round " << round;
    ASSERT_TRUE(image.close().ok());
  }
  EXPECT_EQ(first_difference(read_all(path), model), -1);
}

INSTANTIATE_TEST_SUITE_P(Variants, Qcow2RoundTrip,
                         ::testing::Values(Variant{512, Qcow2Version::kV3, 1},
                                           Variant{4096, Qcow2Version::kV3, 4},
                                           Variant{65536, Qcow2Version::kV3, 32},
                                           Variant{4096, Qcow2Version::kV2, 16},
                                           Variant{2 << 20, Qcow2Version::kV3, 64}),
                         [](const ::testing::TestParamInfo<Variant>& p) {
                           return "c" + std::to_string(p.param.cluster_size) + "_v" +
                                  std::to_string(static_cast<int>(p.param.version)) + "_r" +
                                  std::to_string(p.param.refcount_bits);
                         });

TEST(Qcow2Image, ThreadsWritingDisjointRanges) {
  TempDir dir;
  std::string path = dir.file("threads.qcow2");
  Qcow2CreateOptions o;
  o.size = 4 << 20;
  o.cluster_size = 4096;
  ASSERT_TRUE(Qcow2Image::create(path, o).ok());
  auto opened = Qcow2Image::open(path, {Access::kReadWrite, 0});
  ASSERT_TRUE(opened.ok());
  Qcow2Image& image = **opened;
  constexpr int kThreads = 4;
  const uint64_t slice = o.size / kThreads;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint8_t> data(3000, static_cast<uint8_t>(t + 1));
      std::vector<uint8_t> back(3000);
      for (uint64_t off = t * slice; off + data.size() <= (t + 1) * slice; off += 5000) {
        EXPECT_TRUE(image.write(off, data).ok());
        EXPECT_TRUE(image.read(off, back).ok());
        EXPECT_EQ(back, data);
        if (off % 50000 == 0) {
          EXPECT_TRUE(image.flush().ok());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(image.close().ok());
  std::vector<uint8_t> all = read_all(path);
  for (int t = 0; t < kThreads; ++t) {
    for (uint64_t off = t * slice; off + 3000 <= (t + 1) * slice; off += 5000) {
      ASSERT_EQ(all[off], t + 1);
      ASSERT_EQ(all[off + 2999], t + 1);
      ASSERT_EQ(all[off + 3000], 0);
    }
  }
}

TEST(Qcow2Image, InfoDescribesTheImage) {
  TempDir dir;
  std::string base = dir.file("base.raw");
  write_file(base, std::vector<uint8_t>(3000, 1));
  Qcow2CreateOptions o;
  o.cluster_size = 512;
  o.refcount_bits = 2;
  o.lazy_refcounts = true;
  o.backing_file = "base.raw";
  o.backing_format = "raw";
  ASSERT_TRUE(Qcow2Image::create(dir.file("i.qcow2"), o).ok());
  auto image = Qcow2Image::open(dir.file("i.qcow2"), {});
  ASSERT_TRUE(image.ok()) << image.error().message();
  const Qcow2Info& info = (*image)->info();
  EXPECT_EQ(info.size, 3072u);  // the backing file's size, rounded up to 512
  EXPECT_EQ(info.version, 3u);
  EXPECT_EQ(info.cluster_size, 512u);
  EXPECT_EQ(info.refcount_bits, 2u);
  EXPECT_TRUE(info.lazy_refcounts);
  EXPECT_FALSE(info.dirty);
  EXPECT_EQ(info.backing_file, "base.raw");
  EXPECT_EQ(info.backing_format, "raw");
  ASSERT_NE((*image)->backing(), nullptr);
  std::vector<uint8_t> data = read_all(**image);
  EXPECT_EQ(data[2999], 1);
  EXPECT_EQ(data[3000], 0);
}

}  // namespace
}  // namespace vessel::block
