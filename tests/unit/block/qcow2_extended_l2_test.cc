// Images with extended L2 entries (subclusters) written by QEMU read back
// through Qcow2Image exactly as qemu-img convert reads them: subcluster
// writes, zeroed subclusters, compressed clusters, and a backing file showing
// through unallocated subclusters. Also: invalid subcluster bitmaps are
// reported as corruption. Writing: qcow2_extended_l2_write_test.cc.
#include <gtest/gtest.h>

#include <algorithm>

#include "block/qcow2.h"
#include "qcow2_test_util.h"

namespace vessel::block {
namespace {

using namespace testing;

std::string q(const std::string& path) {
  return "'" + path + "'";
}

class Qcow2ExtendedL2 : public ::testing::TestWithParam<uint32_t> {};

// Builds base.qcow2 (pattern 0x11 everywhere) and top.qcow2 (extended L2,
// backed by base) with subcluster writes; returns the path of top.
std::string make_images(const TempDir& dir, uint64_t cs, bool with_backing) {
  const uint64_t sc = cs / 32;
  const uint64_t size = 8 * cs;
  const std::string base = dir.file("base.qcow2"), top = dir.file("top.qcow2");
  std::string create =
      "qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=" + std::to_string(cs) + " ";
  if (with_backing) {
    EXPECT_EQ(run("qemu-img create -q -f qcow2 " + q(base) + " " + std::to_string(size)).status, 0);
    EXPECT_EQ(run("qemu-io -c 'write -P 0x11 0 " + std::to_string(size) + "' " + q(base)).status,
              0);
    create += "-b " + q(base) + " -F qcow2 ";
  }
  EXPECT_EQ(run(create + q(top) + " " + std::to_string(size)).status, 0);
  auto n = [](uint64_t v) { return std::to_string(v); };
  std::string io = "qemu-io";
  // Cluster 0: one subcluster of data, two zeroed ones, the rest untouched.
  io += " -c 'write -P 0xab " + n(sc) + " " + n(sc) + "'";
  io += " -c 'write -z " + n(3 * sc) + " " + n(2 * sc) + "'";
  // Cluster 1: a run crossing into cluster 2, not subcluster aligned.
  io += " -c 'write -P 0xcd " + n(cs + 5 * sc + 100) + " " + n(cs) + "'";
  // Cluster 3: zeroed subclusters of an unallocated cluster, then data next to them.
  io += " -c 'write -z " + n(3 * cs) + " " + n(4 * sc) + "'";
  io += " -c 'write -P 0x5a " + n(3 * cs + 10 * sc) + " " + n(sc) + "'";
  // Cluster 4: whole; cluster 5: compressed; cluster 6: all zeros.
  io += " -c 'write -P 0x77 " + n(4 * cs) + " " + n(cs) + "'";
  io += " -c 'write -c -P 0xee " + n(5 * cs) + " " + n(cs) + "'";
  io += " -c 'write -z " + n(6 * cs) + " " + n(cs) + "'";
  // Cluster 4 again: a zeroed subcluster inside allocated data.
  io += " -c 'write -z " + n(4 * cs + 7 * sc) + " " + n(sc) + "'";
  EXPECT_EQ(run(io + " " + q(top)).status, 0) << io;
  return top;
}

TEST_P(Qcow2ExtendedL2, ReadsLikeQemuImgConvert) {
  REQUIRE_QEMU_TOOLS();
  const uint64_t cs = GetParam();
  for (bool with_backing : {false, true}) {
    SCOPED_TRACE(with_backing ? "with backing file" : "without backing file");
    TempDir dir;
    std::string top = make_images(dir, cs, with_backing);
    ASSERT_EQ(run("qemu-img convert -O raw " + q(top) + " " + q(dir.file("ref.raw"))).status, 0);
    std::vector<uint8_t> ref = read_file(dir.file("ref.raw"));

    auto image = Qcow2Image::open(top, {});
    ASSERT_TRUE(image.ok()) << image.error().message();
    EXPECT_TRUE((*image)->info().extended_l2);
    std::vector<uint8_t> mine = read_all(**image);
    ASSERT_EQ(mine.size(), ref.size());
    auto diff = std::mismatch(mine.begin(), mine.end(), ref.begin());
    EXPECT_TRUE(diff.first == mine.end())
        << "first difference at byte " << (diff.first - mine.begin());

    // Small unaligned reads across subcluster boundaries agree too.
    const uint64_t sc = cs / 32;
    for (uint64_t off : {sc - 7, 3 * sc - 1, cs + 5 * sc + 99, 3 * cs + 10 * sc - 3}) {
      std::vector<uint8_t> part(2 * sc + 13);
      ASSERT_TRUE((*image)->read(off, part).ok());
      EXPECT_TRUE(std::equal(part.begin(), part.end(), ref.begin() + static_cast<ptrdiff_t>(off)))
          << "read at " << off;
    }

    // The mapping is per subcluster: cluster 0 holds data in subcluster 1 only.
    auto a0 = (*image)->cluster_allocation(0);
    ASSERT_TRUE(a0.ok());
    EXPECT_EQ(a0->allocation, Qcow2Image::Allocation::kUnallocated);
    EXPECT_EQ(a0->length, sc);
    auto a1 = (*image)->cluster_allocation(sc);
    ASSERT_TRUE(a1.ok());
    EXPECT_EQ(a1->allocation, Qcow2Image::Allocation::kData);
    EXPECT_EQ(a1->length, sc);
    auto a3 = (*image)->cluster_allocation(3 * sc);
    ASSERT_TRUE(a3.ok());
    EXPECT_EQ(a3->allocation, Qcow2Image::Allocation::kZero);
    EXPECT_EQ(a3->length, 2 * sc);
  }
}

std::string cluster_size_name(const ::testing::TestParamInfo<uint32_t>& param_info) {
  return "c" + std::to_string(param_info.param);
}

INSTANTIATE_TEST_SUITE_P(ClusterSizes, Qcow2ExtendedL2,
                         ::testing::Values(16384u, 65536u, 262144u, 2097152u), cluster_size_name);

// The offset of the L2 table that L1 entry 0 points to.
uint64_t first_l2_table(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  uint64_t l1 = qcow2::load_be64(&bytes[qcow2::field::kL1TableOffset]);
  return qcow2::load_be64(&bytes[l1]) & qcow2::kL1OffsetMask;
}

// Opens `path` and reads the cluster at `guest`; returns the error message.
std::string read_error(const std::string& path, uint64_t guest, uint64_t cs) {
  auto image = Qcow2Image::open(path, {});
  if (!image.ok()) return image.error().message();
  std::vector<uint8_t> buf(cs);
  auto r = (*image)->read(guest, buf);
  return r.ok() ? "" : r.error().message();
}

TEST(Qcow2ExtendedL2Malformed, InvalidBitmapsAreCorruption) {
  REQUIRE_QEMU_TOOLS();
  const uint64_t cs = 65536;
  TempDir dir;
  std::string top = make_images(dir, cs, false);
  const uint64_t l2 = first_l2_table(top);
  std::vector<uint8_t> original = read_file(top);
  auto bitmap_at = [&](uint64_t index) { return l2 + index * 16 + 8; };

  // Cluster 0 has a host cluster (subcluster 1 allocated): also mark it zero.
  patch_file(top, bitmap_at(0), be64((uint64_t{1} << 33) | 2));
  EXPECT_NE(read_error(top, 0, cs).find("both allocated and reading as zeros"), std::string::npos);
  // Healthy clusters around it still read.
  EXPECT_EQ(read_error(top, 4 * cs, cs), "");

  // Cluster 7 is unallocated: allocation bits without a host cluster.
  write_file(top, original);
  patch_file(top, bitmap_at(7), be64(1));
  EXPECT_NE(read_error(top, 7 * cs, cs).find("no host cluster"), std::string::npos);

  // Cluster 5 is compressed: its bitmap must be 0.
  write_file(top, original);
  patch_file(top, bitmap_at(5), be64(uint64_t{1} << 40));
  EXPECT_NE(read_error(top, 5 * cs, cs).find("compressed but has a subcluster bitmap"),
            std::string::npos);
  // qemu-img agrees that these are corruptions.
  EXPECT_EQ(qemu_check(top).status, 2);
}

TEST(Qcow2ExtendedL2Malformed, SmallClustersAreRefused) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string top = make_images(dir, 16384, false);
  // cluster_bits 13: subclusters would be smaller than 512 bytes.
  patch_file(top, qcow2::field::kClusterBits, be32(13));
  auto image = Qcow2Image::open(top, {});
  ASSERT_FALSE(image.ok());
  EXPECT_NE(image.error().message().find("16 KiB"), std::string::npos) << image.error().message();
}

}  // namespace
}  // namespace vessel::block
