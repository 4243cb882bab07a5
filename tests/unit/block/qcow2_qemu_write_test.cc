// Images created and written by Qcow2Image pass `qemu-img check` without
// errors or leaks and read back identically through QEMU.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>

#include "block/qcow2.h"
#include "qcow2_test_util.h"

namespace vessel::block {
namespace {

using namespace testing;

struct Variant {
  uint32_t cluster_size;
  Qcow2Version version;
  uint32_t refcount_bits;
  bool lazy_refcounts;
};

std::string variant_name(const ::testing::TestParamInfo<Variant>& info) {
  return "c" + std::to_string(info.param.cluster_size) + "_v" +
         std::to_string(static_cast<int>(info.param.version)) + "_r" +
         std::to_string(info.param.refcount_bits) + (info.param.lazy_refcounts ? "_lazy" : "");
}

std::vector<uint8_t> pattern(size_t length, uint8_t seed) {
  std::vector<uint8_t> data(length);
  for (size_t i = 0; i < length; ++i) data[i] = static_cast<uint8_t>(seed + i * 7 + i / 251);
  return data;
}

class Qcow2QemuWrite : public ::testing::TestWithParam<Variant> {};

TEST_P(Qcow2QemuWrite, QemuReadsWhatWeWrote) {
  REQUIRE_QEMU_TOOLS();
  const Variant v = GetParam();
  const uint64_t cs = v.cluster_size;
  const uint64_t size = std::max<uint64_t>(4 << 20, 8 * cs);
  TempDir dir;
  std::string image = dir.file("ours.qcow2");
  Qcow2CreateOptions create;
  create.size = size;
  create.cluster_size = v.cluster_size;
  create.version = v.version;
  create.refcount_bits = v.refcount_bits;
  create.lazy_refcounts = v.lazy_refcounts;
  auto created = Qcow2Image::create(image, create);
  ASSERT_TRUE(created.ok()) << created.error().message();
  expect_qemu_check_clean(image);

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
    auto zero = [&](uint64_t offset, uint64_t length, ZeroMode mode) {
      auto r = img.write_zeroes(offset, length, mode);
      ASSERT_TRUE(r.ok()) << r.error().message();
      std::fill_n(model.begin() + static_cast<ptrdiff_t>(offset), length, 0);
    };
    put(0, pattern(4096, 1));
    put(cs - 512, pattern(1024, 2));
    put(cs + 100, pattern(7, 3));
    put(size - cs, pattern(cs, 4));
    put(size / 2 + 3, pattern(cs + 1000, 5));
    ASSERT_TRUE(img.flush().ok());
    put(size / 2 + 13, pattern(20, 6));
    zero(size - cs, cs, ZeroMode::kKeepAllocation);
    put(size - cs + 10, pattern(10, 7));  // into a preallocated zero cluster
    zero(0, cs, ZeroMode::kDeallocate);
    zero(size / 2, 3 * cs, ZeroMode::kKeepAllocation);
    put(size / 4, pattern(3 * cs + 17, 8));
    zero(size / 4 + cs / 2, cs, ZeroMode::kDeallocate);
    EXPECT_EQ(first_difference(read_all(img), model), -1);
    ASSERT_TRUE(img.close().ok());
  }
  expect_qemu_check_clean(image);
  EXPECT_EQ(first_difference(qemu_read_all(image, dir.file("out.raw")), model), -1);
  EXPECT_EQ(first_difference(read_all(image), model), -1);
}

INSTANTIATE_TEST_SUITE_P(Variants, Qcow2QemuWrite,
                         ::testing::Values(Variant{512, Qcow2Version::kV3, 16, false},
                                           Variant{4096, Qcow2Version::kV3, 1, false},
                                           Variant{65536, Qcow2Version::kV3, 16, false},
                                           Variant{2 << 20, Qcow2Version::kV3, 64, false},
                                           Variant{65536, Qcow2Version::kV2, 16, false},
                                           Variant{4096, Qcow2Version::kV2, 16, false},
                                           Variant{4096, Qcow2Version::kV3, 8, true},
                                           Variant{512, Qcow2Version::kV3, 64, false},
                                           Variant{65536, Qcow2Version::kV3, 2, true}),
                         variant_name);

TEST(Qcow2QemuWrite, CopiesPartialClustersFromTheBackingFile) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string base = dir.file("base.qcow2");
  std::string top = dir.file("top.qcow2");
  const uint64_t size = 2 << 20;
  ASSERT_EQ(run("qemu-img create -q -f qcow2 -o cluster_size=4096 '" + base + "' 2M").status, 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x61 0 2M' '" + base + "'").status, 0);
  std::vector<uint8_t> model(size + (1 << 20), 0);  // top is 1 MiB larger
  std::fill_n(model.begin(), size, 0x61);
  Qcow2CreateOptions create;
  create.cluster_size = 65536;
  create.size = size + (1 << 20);
  create.backing_file = "base.qcow2";
  create.backing_format = "qcow2";
  auto created = Qcow2Image::create(top, create);
  ASSERT_TRUE(created.ok()) << created.error().message();
  {
    auto opened = Qcow2Image::open(top, {Access::kReadWrite, 0});
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    Qcow2Image& img = **opened;
    EXPECT_EQ(img.info().backing_format, "qcow2");
    std::vector<uint8_t> data = pattern(1000, 9);
    ASSERT_TRUE(img.write(70000, data).ok());
    std::copy(data.begin(), data.end(), model.begin() + 70000);
    ASSERT_TRUE(img.write(size - 100, data).ok());  // across the end of the backing file
    std::copy(data.begin(), data.end(), model.begin() + size - 100);
    ASSERT_TRUE(img.write_zeroes(3 * 65536, 65536, ZeroMode::kDeallocate).ok());
    std::fill_n(model.begin() + 3 * 65536, 65536, 0);
    ASSERT_TRUE(img.write_zeroes(5 * 65536 + 10, 100, ZeroMode::kKeepAllocation).ok());
    std::fill_n(model.begin() + 5 * 65536 + 10, 100, 0);
    ASSERT_TRUE(img.close().ok());
  }
  expect_qemu_check_clean(top);
  EXPECT_EQ(first_difference(qemu_read_all(top, dir.file("out.raw")), model), -1);
}

TEST(Qcow2QemuWrite, CreateOptionsShowInQemuImgInfo) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string base = dir.file("base.raw");
  write_file(base, std::vector<uint8_t>(1 << 20, 0x12));
  std::string image = dir.file("info.qcow2");
  Qcow2CreateOptions create;
  create.cluster_size = 4096;
  create.refcount_bits = 32;
  create.lazy_refcounts = true;
  create.backing_file = "base.raw";
  create.backing_format = "raw";
  create.compression_type = qcow2::CompressionType::kZstd;
  ASSERT_TRUE(Qcow2Image::create(image, create).ok());
  RunResult info = run("qemu-img info --output=json '" + image + "'");
  ASSERT_EQ(info.status, 0) << info.output;
  for (const char* want : {"\"virtual-size\": 1048576", "\"cluster-size\": 4096",
                           "\"refcount-bits\": 32", "\"lazy-refcounts\": true",
                           "\"compression-type\": \"zstd\"", "\"backing-filename\": \"base.raw\"",
                           "\"backing-filename-format\": \"raw\"", "\"compat\": \"1.1\""}) {
    EXPECT_NE(info.output.find(want), std::string::npos) << want << " in\n" << info.output;
  }
  expect_qemu_check_clean(image);
  EXPECT_EQ(read_all(image), std::vector<uint8_t>(1 << 20, 0x12));
}

TEST(Qcow2QemuWrite, PreallocatedMetadata) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  for (uint32_t cluster_size : {512u, 65536u}) {
    std::string image = dir.file("prealloc" + std::to_string(cluster_size) + ".qcow2");
    Qcow2CreateOptions create;
    create.size = 3 << 20;
    create.cluster_size = cluster_size;
    create.preallocation = Qcow2Preallocation::kMetadata;
    auto created = Qcow2Image::create(image, create);
    ASSERT_TRUE(created.ok()) << created.error().message();
    expect_qemu_check_clean(image);
    RunResult map = run("qemu-img map --output=json '" + image + "'");
    EXPECT_NE(map.output.find("\"data\": true"), std::string::npos) << map.output;
    EXPECT_EQ(map.output.find("\"data\": false"), std::string::npos) << map.output;
    EXPECT_EQ(read_all(image), std::vector<uint8_t>(3 << 20, 0));
  }
}

// 512-byte clusters with 64-bit refcounts: a refcount block covers 64
// clusters, fewer than the run of L2 tables that preallocation asks for at
// once; the run must still find its place (it once searched for ever).
TEST(Qcow2QemuWrite, PreallocatedRunLongerThanARefcountBlock) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string image = dir.file("prealloc.qcow2");
  Qcow2CreateOptions create;
  create.size = 16 << 20;
  create.cluster_size = 512;
  create.refcount_bits = 64;
  create.preallocation = Qcow2Preallocation::kMetadata;
  auto created = Qcow2Image::create(image, create);
  ASSERT_TRUE(created.ok()) << created.error().message();
  expect_qemu_check_clean(image);
  EXPECT_EQ(read_all(image), std::vector<uint8_t>(16 << 20, 0));
}

TEST(Qcow2QemuWrite, GrowsTheRefcountTable) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string image = dir.file("grow.qcow2");
  // 512-byte clusters with 64-bit refcounts: one refcount block covers
  // 32 KiB and the first table 2 MiB of file, so 6 MiB of data moves the
  // table more than once.
  Qcow2CreateOptions create;
  create.size = 8 << 20;
  create.cluster_size = 512;
  create.refcount_bits = 64;
  ASSERT_TRUE(Qcow2Image::create(image, create).ok());
  std::vector<uint8_t> model(create.size, 0);
  {
    auto opened = Qcow2Image::open(image, {Access::kReadWrite, 0});
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    std::vector<uint8_t> data = pattern(6 << 20, 11);
    ASSERT_TRUE((*opened)->write(1 << 20, data).ok());
    std::copy(data.begin(), data.end(), model.begin() + (1 << 20));
    ASSERT_TRUE((*opened)->close().ok());
  }
  expect_qemu_check_clean(image);
  EXPECT_EQ(first_difference(qemu_read_all(image, dir.file("out.raw")), model), -1);
  RunResult info = run("qemu-img info --output=json '" + image + "'");
  EXPECT_EQ(info.status, 0) << info.output;
}

TEST(Qcow2QemuWrite, OverwritesCompressedClusters) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string raw = dir.file("data.raw");
  std::string image = dir.file("compressed.qcow2");
  std::vector<uint8_t> model(1 << 20);
  for (size_t i = 0; i < model.size(); ++i)
    model[i] = static_cast<uint8_t>("abcdefgh"[i % 8] + i / 65536);
  write_file(raw, model);
  ASSERT_EQ(
      run("qemu-img convert -c -f raw -O qcow2 -o cluster_size=4096 '" + raw + "' '" + image + "'")
          .status,
      0);
  {
    auto opened = Qcow2Image::open(image, {Access::kReadWrite, 0});
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    std::vector<uint8_t> data = pattern(5000, 12);
    ASSERT_TRUE((*opened)->write(10000, data).ok());
    std::copy(data.begin(), data.end(), model.begin() + 10000);
    ASSERT_TRUE((*opened)->write_zeroes(65536, 8192, ZeroMode::kKeepAllocation).ok());
    std::fill_n(model.begin() + 65536, 8192, 0);
    ASSERT_TRUE((*opened)->close().ok());
  }
  expect_qemu_check_clean(image);
  EXPECT_EQ(first_difference(qemu_read_all(image, dir.file("out.raw")), model), -1);
}

// A process that dies without closing leaves at most leaked clusters (no
// lazy refcounts) or a dirty image that the next read-write open repairs.
void write_and_die(const std::string& image) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto opened = Qcow2Image::open(image, {Access::kReadWrite, 0});
    if (!opened.ok()) _exit(1);
    std::vector<uint8_t> data(3000, 0x5e);
    for (uint64_t off = 0; off < (2 << 20); off += 40000) {
      if (!(*opened)->write(off, data).ok()) _exit(2);
      if (off == 400000 && !(*opened)->flush().ok()) _exit(3);
    }
    if (!(*opened)->write_zeroes(0, 65536, ZeroMode::kDeallocate).ok()) _exit(4);
    if (!(*opened)->flush().ok()) _exit(5);
    if (!(*opened)->write(3 << 20, data).ok()) _exit(6);
    uint64_t cs = (*opened)->info().cluster_size;
    std::vector<uint8_t> packable(cs, 0x17);
    for (uint64_t c = 0; c < 6; ++c) {
      if (!(*opened)->write_compressed((3 << 20) + (c + 1) * cs, packable).ok()) _exit(7);
    }
    if (!(*opened)->flush().ok()) _exit(8);
    _exit(0);  // no close: the "crash"
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
}

TEST(Qcow2QemuWrite, AProcessDeathLeavesAConsistentImage) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string image = dir.file("crash.qcow2");
  Qcow2CreateOptions create;
  create.size = 4 << 20;
  create.cluster_size = 4096;
  ASSERT_TRUE(Qcow2Image::create(image, create).ok());
  write_and_die(image);
  RunResult check = qemu_check(image);
  // 0: clean, 3: only leaks. Never 2 (corruption).
  EXPECT_TRUE(check.status == 0 || check.status == 3) << check.output;
  std::vector<uint8_t> data = read_all(image);
  EXPECT_EQ(data[0], 0);
  EXPECT_EQ(data[400000], 0x5e);
}

TEST(Qcow2QemuWrite, ADirtyImageIsRepairedOnOpen) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string image = dir.file("lazy.qcow2");
  Qcow2CreateOptions create;
  create.size = 4 << 20;
  create.cluster_size = 4096;
  create.lazy_refcounts = true;
  ASSERT_TRUE(Qcow2Image::create(image, create).ok());
  // A snapshot makes the repair count shared clusters too.
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x21 3M 64k' '" + image + "'").status, 0);
  ASSERT_EQ(run("qemu-img snapshot -c before '" + image + "'").status, 0);
  write_and_die(image);
  RunResult info = run("qemu-img info --output=json '" + image + "'");
  EXPECT_NE(info.output.find("\"dirty-flag\": true"), std::string::npos) << info.output;
  {
    auto opened = Qcow2Image::open(image, {Access::kReadWrite, 0});
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    EXPECT_TRUE((*opened)->info().dirty);
    ASSERT_TRUE((*opened)->close().ok());
  }
  expect_qemu_check_clean(image);
  std::vector<uint8_t> data = qemu_read_all(image, dir.file("out.raw"));
  ASSERT_EQ(data.size(), 4u << 20);
  EXPECT_EQ(data[400000], 0x5e);
  EXPECT_EQ(data[0], 0);
  EXPECT_EQ(data[(3 << 20) + 4096 + 5], 0x17);  // compressed
  EXPECT_EQ(data[(3 << 20) + 8 * 4096], 0x21);  // still from before the snapshot
  RunResult snap = run("qemu-img convert -f qcow2 -l snapshot.name=before -O raw '" + image +
                       "' '" + dir.file("snap.raw") + "'");
  ASSERT_EQ(snap.status, 0) << snap.output;
  std::vector<uint8_t> before = read_file(dir.file("snap.raw"));
  EXPECT_EQ(before[(3 << 20) + 4096 + 5], 0x21);
  EXPECT_EQ(before[400000], 0);
}

}  // namespace
}  // namespace vessel::block

namespace vessel::block {
namespace {

using namespace testing;

class Qcow2QemuCompressedWrite
    : public ::testing::TestWithParam<std::pair<uint32_t, qcow2::CompressionType>> {};

TEST_P(Qcow2QemuCompressedWrite, QemuReadsOurCompressedClusters) {
  REQUIRE_QEMU_TOOLS();
  const auto [cluster_size, type] = GetParam();
  const uint64_t cs = cluster_size;
  TempDir dir;
  std::string image = dir.file("packed.qcow2");
  Qcow2CreateOptions create;
  create.size = 40 * cs + 512;  // ends inside a cluster
  create.cluster_size = cluster_size;
  create.compression_type = type;
  ASSERT_TRUE(Qcow2Image::create(image, create).ok());
  std::vector<uint8_t> model(create.size, 0);
  {
    auto opened = Qcow2Image::open(image, {Access::kReadWrite, 0});
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    Qcow2Image& img = **opened;
    uint32_t x = 99;
    for (uint64_t c = 0; c <= 40; ++c) {
      uint64_t length = std::min<uint64_t>(cs, create.size - c * cs);
      std::vector<uint8_t> data(length);
      for (size_t i = 0; i < length; ++i) {
        x = x * 1103515245 + 12345;
        // Mostly compressible; every seventh cluster is noise.
        data[i] = c % 7 == 3 ? static_cast<uint8_t>(x >> 16) : static_cast<uint8_t>(c + i / 37);
      }
      auto w = img.write_compressed(c * cs, data);
      ASSERT_TRUE(w.ok()) << w.error().message();
      std::copy(data.begin(), data.end(), model.begin() + static_cast<ptrdiff_t>(c * cs));
    }
    EXPECT_FALSE(img.write_compressed(cs / 2, std::vector<uint8_t>(cs)).ok());
    ASSERT_EQ(first_difference(read_all(img), model), -1);
    ASSERT_TRUE(img.close().ok());
  }
  RunResult check = qemu_check(image);
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_NE(check.output.find("compressed clusters"), std::string::npos) << check.output;
  EXPECT_EQ(check.output.find(" 0.00% compressed"), std::string::npos) << check.output;
  EXPECT_EQ(first_difference(qemu_read_all(image, dir.file("out.raw")), model), -1);

  // Rewriting some clusters releases their share of the packed host clusters.
  {
    auto opened = Qcow2Image::open(image, {Access::kReadWrite, 0});
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    std::vector<uint8_t> data(100, 0xab);
    for (uint64_t c : {0, 1, 2, 5, 6}) {
      ASSERT_TRUE((*opened)->write(c * cs + 10, data).ok());
      std::fill_n(model.begin() + static_cast<ptrdiff_t>(c * cs + 10), 100, 0xab);
    }
    ASSERT_TRUE((*opened)->write_zeroes(8 * cs, 4 * cs, ZeroMode::kDeallocate).ok());
    std::fill_n(model.begin() + static_cast<ptrdiff_t>(8 * cs), 4 * cs, 0);
    ASSERT_TRUE((*opened)->write_compressed(20 * cs, std::vector<uint8_t>(cs, 0x11)).ok());
    std::fill_n(model.begin() + static_cast<ptrdiff_t>(20 * cs), cs, 0x11);
    ASSERT_TRUE((*opened)->close().ok());
  }
  expect_qemu_check_clean(image);
  EXPECT_EQ(first_difference(qemu_read_all(image, dir.file("out2.raw")), model), -1);
}

INSTANTIATE_TEST_SUITE_P(Types, Qcow2QemuCompressedWrite,
                         ::testing::Values(std::make_pair(4096u, qcow2::CompressionType::kZlib),
                                           std::make_pair(65536u, qcow2::CompressionType::kZlib),
                                           std::make_pair(4096u, qcow2::CompressionType::kZstd),
                                           std::make_pair(512u, qcow2::CompressionType::kZlib)));

}  // namespace
}  // namespace vessel::block
