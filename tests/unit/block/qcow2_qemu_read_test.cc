// Images written by QEMU (qemu-img create, qemu-io write, qemu-img convert
// -c) read back identically through Qcow2Image.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "block/qcow2.h"
#include "qcow2_test_util.h"

namespace vessel::block {
namespace {

using namespace testing;

struct Variant {
  uint32_t cluster_size;
  const char* compat;
  uint32_t refcount_bits;
};

std::string variant_name(const ::testing::TestParamInfo<Variant>& info) {
  return "c" + std::to_string(info.param.cluster_size) + "_v" +
         (std::string(info.param.compat) == "1.1" ? "3" : "2") + "_r" +
         std::to_string(info.param.refcount_bits);
}

// A guest write and its effect on the byte model.
struct Op {
  uint64_t offset;
  uint64_t length;
  int pattern;  // -1: write zeroes
};

void apply(std::vector<uint8_t>& model, const Op& op) {
  std::fill_n(model.begin() + static_cast<ptrdiff_t>(op.offset), op.length,
              op.pattern < 0 ? 0 : static_cast<uint8_t>(op.pattern));
}

std::string qemu_io_script(const std::vector<Op>& ops) {
  std::string script;
  for (const Op& op : ops) {
    if (op.pattern < 0) {
      script +=
          "-c 'write -z " + std::to_string(op.offset) + " " + std::to_string(op.length) + "' ";
    } else {
      script += "-c 'write -P " + std::to_string(op.pattern) + " " + std::to_string(op.offset) +
                " " + std::to_string(op.length) + "' ";
    }
  }
  return script;
}

class Qcow2QemuRead : public ::testing::TestWithParam<Variant> {};

TEST_P(Qcow2QemuRead, ReadsWhatQemuWrote) {
  REQUIRE_QEMU_TOOLS();
  const Variant v = GetParam();
  const uint64_t cs = v.cluster_size;
  const uint64_t size = std::max<uint64_t>(4 << 20, 3 * cs);
  TempDir dir;
  std::string image = dir.file("qemu.qcow2");
  RunResult r = run("qemu-img create -q -f qcow2 -o cluster_size=" + std::to_string(cs) +
                    ",compat=" + v.compat + ",refcount_bits=" + std::to_string(v.refcount_bits) +
                    " '" + image + "' " + std::to_string(size));
  ASSERT_EQ(r.status, 0) << r.output;

  std::vector<Op> ops = {
      {0, 4096, 0x11},                  // start of the disk
      {cs - 512, 1024, 0x22},           // across a cluster boundary
      {cs + 100, 7, 0x33},              // a few unaligned bytes
      {size - cs, cs, 0x44},            // the last cluster, whole
      {size / 2 + 3, cs + 1000, 0x55},  // unaligned, more than a cluster
      {size / 2 + 3 + 10, 20, 0x66},    // overwrite inside that
  };
  if (std::string(v.compat) == "1.1") ops.push_back({size - cs, cs, -1});  // zero cluster
  ops.push_back({2 * cs, 512, -1});  // zeroes over unallocated space
  r = run("qemu-io -f qcow2 " + qemu_io_script(ops) + "'" + image + "'");
  ASSERT_EQ(r.status, 0) << r.output;

  std::vector<uint8_t> model(size, 0);
  for (const Op& op : ops) apply(model, op);
  auto opened = Qcow2Image::open(image, {});
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  Qcow2Image& img = **opened;
  EXPECT_EQ(img.size(), size);
  EXPECT_EQ(img.info().cluster_size, cs);
  EXPECT_EQ(img.info().refcount_bits, v.refcount_bits);
  EXPECT_EQ(img.info().version, std::string(v.compat) == "1.1" ? 3u : 2u);
  std::vector<uint8_t> data = read_all(img);
  EXPECT_EQ(first_difference(data, model), -1);
  // Small reads at odd places agree too.
  for (uint64_t off : {uint64_t{0}, cs - 1, size / 2, size - 1}) {
    uint8_t byte = 0xff;
    ASSERT_TRUE(img.read(off, std::span<uint8_t>(&byte, 1)).ok());
    EXPECT_EQ(byte, model[off]) << "offset " << off;
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, Qcow2QemuRead,
                         ::testing::Values(Variant{512, "1.1", 16}, Variant{4096, "1.1", 1},
                                           Variant{65536, "1.1", 16}, Variant{2 << 20, "1.1", 64},
                                           Variant{65536, "0.10", 16}, Variant{4096, "0.10", 16},
                                           Variant{65536, "1.1", 64}, Variant{512, "1.1", 1}),
                         variant_name);

TEST(Qcow2QemuRead, FollowsABackingChain) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  const uint64_t size = 2 << 20;
  std::string base = dir.file("base.raw");
  std::string mid = dir.file("mid.qcow2");
  std::string top = dir.file("top.qcow2");
  std::vector<uint8_t> model(size);
  for (size_t i = 0; i < size; ++i) model[i] = static_cast<uint8_t>(i * 13 + 5);
  write_file(base, model);
  ASSERT_EQ(run("qemu-img create -q -f qcow2 -o cluster_size=4096 -b base.raw -F raw '" + mid + "'")
                .status,
            0);
  ASSERT_EQ(run("qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 '" + top + "' 3M").status, 0);
  ASSERT_EQ(
      run("qemu-io -f qcow2 -c 'write -P 0x77 4000 200' -c 'write -z 1048576 4096' '" + mid + "'")
          .status,
      0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x88 65536 70000' '" + top + "'").status, 0);
  model.resize(3 << 20, 0);  // beyond the backing file: zeros
  std::fill_n(model.begin() + 4000, 200, 0x77);
  std::fill_n(model.begin() + 1048576, 4096, 0);
  std::fill_n(model.begin() + 65536, 70000, 0x88);

  auto opened = Qcow2Image::open(top, {});
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_EQ((*opened)->info().backing_file, "mid.qcow2");
  EXPECT_EQ((*opened)->info().backing_format, "qcow2");
  EXPECT_EQ(first_difference(read_all(**opened), model), -1);
}

TEST(Qcow2QemuRead, ProbesABackingFileWithoutFormat) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string base = dir.file("base.qcow2");
  std::string top = dir.file("top.qcow2");
  ASSERT_EQ(run("qemu-img create -q -f qcow2 '" + base + "' 1M").status, 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x5a 0 1M' '" + base + "'").status, 0);
  ASSERT_EQ(run("qemu-img create -q -f qcow2 -F qcow2 -b '" + base + "' '" + top + "' 1M").status,
            0);
  // qemu-img insists on recording the format; turn its extension into an
  // unknown one, which readers skip.
  std::vector<uint8_t> header = read_file(top);
  ASSERT_EQ(qcow2::load_be32(&header[112]), qcow2::ext::kBackingFormat);
  patch_file(top, 112, be32(0x0000abcd));
  auto opened = Qcow2Image::open(top, {});
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_EQ((*opened)->info().backing_format, "");
  EXPECT_EQ(read_all(**opened), std::vector<uint8_t>(1 << 20, 0x5a));
}

class Qcow2QemuCompressed : public ::testing::TestWithParam<const char*> {};

TEST_P(Qcow2QemuCompressed, ReadsCompressedClusters) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string raw = dir.file("data.raw");
  std::string image = dir.file("compressed.qcow2");
  // Compressible text with some variety, and a stretch of noise that QEMU
  // stores uncompressed.
  const uint64_t size = 1 << 20;
  std::vector<uint8_t> data(size);
  uint32_t x = 12345;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1103515245 + 12345;
    data[i] = i >= 512 * 1024 && i < 600 * 1024
                  ? static_cast<uint8_t>(x >> 16)
                  : static_cast<uint8_t>("vessel qcow2 "[i % 13] + (i / 4096) % 7);
  }
  write_file(raw, data);
  std::string opts = std::string("-o cluster_size=4096,compression_type=") + GetParam();
  RunResult r =
      run("qemu-img convert -c -f raw -O qcow2 " + opts + " '" + raw + "' '" + image + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  auto opened = Qcow2Image::open(image, {});
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_EQ(first_difference(read_all(**opened), data), -1);
}

INSTANTIATE_TEST_SUITE_P(Types, Qcow2QemuCompressed, ::testing::Values("zlib", "zstd"));

TEST(Qcow2QemuRead, RepairsAnImageLeftDirtyByLazyRefcounts) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string image = dir.file("lazy.qcow2");
  ASSERT_EQ(
      run("qemu-img create -q -f qcow2 -o lazy_refcounts=on,cluster_size=4096 '" + image + "' 4M")
          .status,
      0);
  // qemu-io's "abort" ends the process without closing: the dirty bit stays.
  run("qemu-io -f qcow2 -c 'write -P 0x31 0 64k' -c 'write -P 0x32 1M 4k' -c abort '" + image +
      "'");
  ASSERT_NE(qemu_check(image).status, 0) << "the image should need repair";
  std::vector<uint8_t> model(4 << 20, 0);
  std::fill_n(model.begin(), 65536, 0x31);
  std::fill_n(model.begin() + (1 << 20), 4096, 0x32);
  {
    auto ro = Qcow2Image::open(image, {});
    ASSERT_TRUE(ro.ok()) << ro.error().message();
    EXPECT_TRUE((*ro)->info().dirty);
    EXPECT_EQ(first_difference(read_all(**ro), model), -1);
  }
  {
    auto rw = Qcow2Image::open(image, {Access::kReadWrite, 0});
    ASSERT_TRUE(rw.ok()) << rw.error().message();
    std::vector<uint8_t> more(8192, 0x33);
    ASSERT_TRUE((*rw)->write(2 << 20, more).ok());
    std::fill_n(model.begin() + (2 << 20), 8192, 0x33);
    ASSERT_TRUE((*rw)->close().ok());
  }
  RunResult check = qemu_check(image);
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_EQ(first_difference(qemu_read_all(image, dir.file("out.raw")), model), -1);
}

TEST(Qcow2QemuRead, KeepsInternalSnapshotsWhenWriting) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string image = dir.file("snap.qcow2");
  ASSERT_EQ(run("qemu-img create -q -f qcow2 -o cluster_size=4096 '" + image + "' 2M").status, 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x41 0 1M' '" + image + "'").status, 0);
  ASSERT_EQ(run("qemu-img snapshot -c first '" + image + "'").status, 0);
  std::vector<uint8_t> snapshot(2 << 20, 0);
  std::fill_n(snapshot.begin(), 1 << 20, 0x41);
  std::vector<uint8_t> model = snapshot;
  {
    auto rw = Qcow2Image::open(image, {Access::kReadWrite, 0});
    ASSERT_TRUE(rw.ok()) << rw.error().message();
    ASSERT_EQ((*rw)->snapshots().size(), 1u);
    EXPECT_EQ((*rw)->snapshots()[0].name, "first");
    std::vector<uint8_t> data(10000, 0x42);
    ASSERT_TRUE((*rw)->write(1000, data).ok());     // shared data clusters: copied
    ASSERT_TRUE((*rw)->write(1500000, data).ok());  // unallocated
    ASSERT_TRUE((*rw)->write_zeroes(8192, 8192, ZeroMode::kDeallocate).ok());
    std::fill_n(model.begin() + 1000, 10000, 0x42);
    std::fill_n(model.begin() + 1500000, 10000, 0x42);
    std::fill_n(model.begin() + 8192, 8192, 0);
    ASSERT_TRUE((*rw)->close().ok());
  }
  RunResult check = qemu_check(image);
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_EQ(first_difference(qemu_read_all(image, dir.file("active.raw")), model), -1);
  RunResult conv = run("qemu-img convert -f qcow2 -l snapshot.name=first -O raw '" + image + "' '" +
                       dir.file("snap.raw") + "'");
  ASSERT_EQ(conv.status, 0) << conv.output;
  EXPECT_EQ(first_difference(read_file(dir.file("snap.raw")), snapshot), -1);
}

}  // namespace
}  // namespace vessel::block
