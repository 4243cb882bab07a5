// Differential test against QEMU: one random sequence of writes, zero
// writes and discards goes through qemu-io into one image and through Qcow2Image into
// another; `qemu-img compare` must find them identical, `qemu-img check`
// must find ours clean, and both must match a plain byte model. Variants
// with extended L2 entries also work at subcluster granularity (writes of a
// few subclusters, or inside one), where copy-on-write from the backing file
// and zeroing are per subcluster. Variants with an external data file keep
// the guest data there; with raw external data that file alone must be the
// disk.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "block/qcow2.h"
#include "qcow2_test_util.h"

namespace vessel::block {
namespace {

using namespace testing;

struct Variant {
  const char* name;
  uint32_t cluster_size;
  Qcow2Version version;
  bool backing;
  bool lazy_refcounts;
  uint32_t seed;
  bool extended_l2 = false;
  enum DataFile { kInImage, kExternal, kRaw } data_file = kInImage;
};

class Qcow2Differential : public ::testing::TestWithParam<Variant> {};

TEST_P(Qcow2Differential, SameWritesSameDisk) {
  REQUIRE_QEMU_TOOLS();
  const Variant v = GetParam();
  const uint64_t cs = v.cluster_size;
  const uint64_t size = (2 << 20) + 3 * 512;  // not a whole number of clusters
  const bool v3 = v.version == Qcow2Version::kV3;
  TempDir dir;
  std::string theirs = dir.file("theirs.qcow2");
  std::string ours = dir.file("ours.qcow2");
  std::string base = dir.file("base.raw");
  std::mt19937 rng(v.seed);

  std::vector<uint8_t> model(size, 0);
  std::vector<uint8_t> backing_model(size, 0);  // what an unallocated cluster reads
  std::string backing_opts;
  if (v.backing) {
    // A backing file a little shorter than the disk.
    std::vector<uint8_t> data(size - 5 * cs / 2);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    write_file(base, data);
    std::copy(data.begin(), data.end(), model.begin());
    backing_model = model;
    backing_opts = " -b base.raw -F raw";
  }
  RunResult r =
      run("qemu-img create -q -f qcow2 -o cluster_size=" + std::to_string(cs) +
          ",compat=" + (v3 ? "1.1" : "0.10") + (v.lazy_refcounts ? ",lazy_refcounts=on" : "") +
          (v.extended_l2 ? ",extended_l2=on" : "") +
          (v.data_file != Variant::kInImage ? ",data_file=" + dir.file("theirs.data") : "") +
          (v.data_file == Variant::kRaw ? ",data_file_raw=on" : "") + backing_opts + " '" + theirs +
          "' " + std::to_string(size));
  ASSERT_EQ(r.status, 0) << r.output;
  Qcow2CreateOptions create;
  create.size = size;
  create.cluster_size = v.cluster_size;
  create.version = v.version;
  create.lazy_refcounts = v.lazy_refcounts;
  create.extended_l2 = v.extended_l2;
  if (v.data_file != Variant::kInImage) create.data_file = dir.file("ours.data");
  create.data_file_raw = v.data_file == Variant::kRaw;
  if (v.backing) {
    create.backing_file = "base.raw";
    create.backing_format = "raw";
  }
  auto created = Qcow2Image::create(ours, create);
  ASSERT_TRUE(created.ok()) << created.error().message();

  auto opened = Qcow2Image::open(ours, {Access::kReadWrite, 0});
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  Qcow2Image& image = **opened;
  std::string script;
  std::vector<uint8_t> buffer;
  constexpr int kOps = 160;
  for (int i = 0; i < kOps; ++i) {
    // Mostly cluster-sized work near a few hot spots, sometimes anything.
    uint64_t offset;
    uint64_t length;
    const uint64_t sc = v.extended_l2 ? cs / 32 : cs;
    switch (rng() % (v.extended_l2 ? 5 : 4)) {
      case 4:
        // Whole subclusters, or a piece of one.
        offset = (rng() % (size / sc)) * sc + (rng() % 2 == 0 ? 0 : rng() % sc);
        length = rng() % 2 == 0 ? sc * (1 + rng() % 5) : 1 + rng() % sc;
        break;
      case 0:
        offset = rng() % size;
        length = 1 + rng() % (3 * cs);
        break;
      case 1:
        offset = (rng() % (size / cs)) * cs;
        length = cs * (1 + rng() % 3);
        break;
      default:
        offset = (rng() % 8) * (size / 8) + rng() % (2 * cs);
        length = 1 + rng() % (cs + 700);
        break;
    }
    length = std::min(length, size - offset);
    if (length == 0) continue;
    uint32_t kind = rng() % 11;
    std::string range = std::to_string(offset) + " " + std::to_string(length);
    if (kind < 6) {
      uint8_t pattern = static_cast<uint8_t>(rng());
      script += "write -P " + std::to_string(pattern) + " " + range + "\n";
      buffer.assign(length, pattern);
      auto w = image.write(offset, buffer);
      ASSERT_TRUE(w.ok()) << w.error().message();
      std::fill_n(model.begin() + static_cast<ptrdiff_t>(offset), length, pattern);
    } else if (kind < 9) {
      bool unmap = kind == 8;
      script += std::string(unmap ? "write -z -u " : "write -z ") + range + "\n";
      auto z = image.write_zeroes(offset, length,
                                  unmap ? ZeroMode::kDeallocate : ZeroMode::kKeepAllocation);
      ASSERT_TRUE(z.ok()) << z.error().message();
      std::fill_n(model.begin() + static_cast<ptrdiff_t>(offset), length, 0);
    } else if (kind == 10) {
      script += "discard " + range + "\n";
      auto d = image.discard(offset, length);
      ASSERT_TRUE(d.ok()) << d.error().message();
      // Whole clusters (and the disk's short last one) only: zero clusters in
      // version 3, unallocated ones in version 2.
      uint64_t end = offset + length == size ? size : (offset + length) / cs * cs;
      for (uint64_t pos = (offset + cs - 1) / cs * cs; pos < end; pos += cs) {
        uint64_t n = std::min(cs, size - pos);
        for (uint64_t b = pos; b < pos + n; ++b) model[b] = v3 ? 0 : backing_model[b];
      }
    } else {
      script += "flush\n";
      auto f = image.flush();
      ASSERT_TRUE(f.ok()) << f.error().message();
    }
    if (i == kOps / 2) {
      // Midway, ours agrees with the model.
      ASSERT_EQ(first_difference(read_all(image), model), -1);
    }
  }
  ASSERT_TRUE(image.close().ok());
  write_file(dir.file("script"), std::vector<uint8_t>(script.begin(), script.end()));
  r = run("qemu-io -f qcow2 '" + theirs + "' < '" + dir.file("script") + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(r.output.find("error"), std::string::npos) << r.output;

  RunResult check = qemu_check(ours);
  EXPECT_EQ(check.status, 0) << check.output;
  RunResult compare = run("qemu-img compare -f qcow2 -F qcow2 '" + theirs + "' '" + ours + "'");
  EXPECT_EQ(compare.status, 0) << compare.output;
  EXPECT_EQ(first_difference(read_all(ours), model), -1);
  EXPECT_EQ(first_difference(read_all(theirs), model), -1);
  if (v.data_file == Variant::kRaw) {
    // The data files alone are the disk, ours and theirs.
    std::vector<uint8_t> raw = read_file(dir.file("ours.data"));
    raw.resize(size, 0);
    EXPECT_EQ(first_difference(raw, model), -1);
    raw = read_file(dir.file("theirs.data"));
    raw.resize(size, 0);
    EXPECT_EQ(first_difference(raw, model), -1);
  }
  if (v.extended_l2) {
    // Subcluster by subcluster, the same things are allocated, zero or
    // unallocated (the host offsets differ with the allocation order).
    EXPECT_EQ(map_without_offsets(ours), map_without_offsets(theirs));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Variants, Qcow2Differential,
    ::testing::Values(Variant{"v3_64k", 65536, Qcow2Version::kV3, false, false, 1},
                      Variant{"v3_4k_backing", 4096, Qcow2Version::kV3, true, false, 2},
                      Variant{"v2_4k_backing", 4096, Qcow2Version::kV2, true, false, 3},
                      Variant{"v2_64k", 65536, Qcow2Version::kV2, false, false, 4},
                      Variant{"v3_512_backing_lazy", 512, Qcow2Version::kV3, true, true, 5},
                      Variant{"extl2_64k", 65536, Qcow2Version::kV3, false, false, 6, true},
                      Variant{"extl2_16k_backing", 16384, Qcow2Version::kV3, true, false, 7, true},
                      Variant{"extl2_32k_backing_lazy", 32768, Qcow2Version::kV3, true, true, 8,
                              true},
                      Variant{"extl2_64k_backing", 65536, Qcow2Version::kV3, true, false, 9, true},
                      Variant{"datafile_64k", 65536, Qcow2Version::kV3, false, false, 10, false,
                              Variant::kExternal},
                      Variant{"datafile_4k_backing_lazy", 4096, Qcow2Version::kV3, true, true, 11,
                              false, Variant::kExternal},
                      Variant{"datafile_raw_64k", 65536, Qcow2Version::kV3, false, false, 12, false,
                              Variant::kRaw},
                      Variant{"datafile_raw_extl2_32k", 32768, Qcow2Version::kV3, false, false, 13,
                              true, Variant::kRaw}),
    [](const ::testing::TestParamInfo<Variant>& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace vessel::block
