// Writing images with extended L2 entries: a write allocates only the
// subclusters it touches (copy-on-write from the backing file per
// subcluster), zeroing whole subclusters sets their "reads as zeros" bits,
// and the result is what qemu-io makes of the same requests: same contents,
// same per-subcluster map (host offsets aside), and `qemu-img check` clean.
#include <gtest/gtest.h>

#include "block/qcow2.h"
#include "qcow2_test_util.h"

namespace vessel::block {
namespace {

using namespace testing;

std::string q(const std::string& path) {
  return "'" + path + "'";
}
std::string n(uint64_t v) {
  return std::to_string(v);
}

struct Request {
  enum Kind { kWrite, kZero, kZeroUnmap, kDiscard } kind;
  uint64_t offset;
  uint64_t length;
  uint8_t pattern = 0;
};

class Qcow2ExtendedL2Write : public ::testing::TestWithParam<uint32_t> {
 protected:
  // base.qcow2 (0x11 everywhere), and ours.qcow2 (created here) and
  // theirs.qcow2 (by qemu-img) with extended L2 entries on top of it; each
  // request goes through Qcow2Image into ours and through qemu-io into theirs.
  void run_both(const std::vector<Request>& requests, bool with_backing) {
    const uint64_t cs = GetParam();
    const uint64_t size = 6 * cs;
    base_ = dir_.file("base.qcow2");
    ours_ = dir_.file("ours.qcow2");
    theirs_ = dir_.file("theirs.qcow2");
    Qcow2CreateOptions create;
    create.size = size;
    create.cluster_size = static_cast<uint32_t>(cs);
    create.extended_l2 = true;
    std::string backing;
    if (with_backing) {
      ASSERT_EQ(run("qemu-img create -q -f qcow2 " + q(base_) + " " + n(size)).status, 0);
      ASSERT_EQ(run("qemu-io -c 'write -P 0x11 0 " + n(size) + "' " + q(base_)).status, 0);
      create.backing_file = "base.qcow2";
      create.backing_format = "qcow2";
      backing = "-b base.qcow2 -F qcow2 ";
    }
    ASSERT_EQ(run("qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=" + n(cs) + " " +
                  backing + q(theirs_) + " " + n(size))
                  .status,
              0);
    auto created = Qcow2Image::create(ours_, create);
    ASSERT_TRUE(created.ok()) << created.error().message();
    auto image = Qcow2Image::open(ours_, {.access = Access::kReadWrite});
    ASSERT_TRUE(image.ok()) << image.error().message();
    std::string io = "qemu-io";
    for (const Request& r : requests) {
      std::string range = n(r.offset) + " " + n(r.length);
      Result<void> done = Ok();
      switch (r.kind) {
        case Request::kWrite: {
          std::vector<uint8_t> data(r.length, r.pattern);
          done = (*image)->write(r.offset, data);
          io += " -c 'write -P " + n(r.pattern) + " " + range + "'";
          break;
        }
        case Request::kZero:
          done = (*image)->write_zeroes(r.offset, r.length, ZeroMode::kKeepAllocation);
          io += " -c 'write -z " + range + "'";
          break;
        case Request::kZeroUnmap:
          done = (*image)->write_zeroes(r.offset, r.length, ZeroMode::kDeallocate);
          io += " -c 'write -z -u " + range + "'";
          break;
        case Request::kDiscard:
          done = (*image)->discard(r.offset, r.length);
          io += " -c 'discard " + range + "'";
          break;
      }
      ASSERT_TRUE(done.ok()) << done.error().message();
    }
    ASSERT_TRUE((*image)->close().ok());
    RunResult r = run(io + " " + q(theirs_));
    ASSERT_EQ(r.status, 0) << r.output;
  }

  void expect_same_as_qemu() {
    expect_qemu_check_clean(ours_);
    RunResult compare = run("qemu-img compare " + q(theirs_) + " " + q(ours_));
    EXPECT_EQ(compare.status, 0) << compare.output;
    EXPECT_EQ(map_without_offsets(ours_), map_without_offsets(theirs_));
  }

  TempDir dir_;
  std::string base_, ours_, theirs_;
};

TEST_P(Qcow2ExtendedL2Write, PartialWriteAllocatesOnlyItsSubclusters) {
  REQUIRE_QEMU_TOOLS();
  const uint64_t cs = GetParam(), sc = cs / 32;
  // Inside subcluster 1, then across subclusters 5-7 unaligned.
  run_both({{Request::kWrite, sc + 100, 300, 0xab}, {Request::kWrite, 5 * sc + 7, 2 * sc, 0xcd}},
           true);
  auto image = Qcow2Image::open(ours_, {});
  ASSERT_TRUE(image.ok()) << image.error().message();
  auto at = [&](uint64_t offset) {
    auto a = (*image)->cluster_allocation(offset);
    EXPECT_TRUE(a.ok());
    return a.ok() ? *a : Qcow2Image::ClusterAllocation{};
  };
  EXPECT_EQ(at(0).allocation, Qcow2Image::Allocation::kUnallocated);
  EXPECT_EQ(at(0).length, sc);
  EXPECT_EQ(at(sc).allocation, Qcow2Image::Allocation::kData);
  EXPECT_EQ(at(sc).length, sc);
  EXPECT_EQ(at(2 * sc).allocation, Qcow2Image::Allocation::kUnallocated);
  EXPECT_EQ(at(2 * sc).length, 3 * sc);
  EXPECT_EQ(at(5 * sc).allocation, Qcow2Image::Allocation::kData);
  EXPECT_EQ(at(5 * sc).length, 3 * sc);
  // The backing file's bytes around the writes were copied into the edge
  // subclusters only.
  std::vector<uint8_t> got(cs);
  ASSERT_TRUE((*image)->read(0, got).ok());
  EXPECT_EQ(got[sc + 99], 0x11);
  EXPECT_EQ(got[sc + 100], 0xab);
  EXPECT_EQ(got[sc + 400], 0x11);
  EXPECT_EQ(got[5 * sc + 6], 0x11);
  EXPECT_EQ(got[7 * sc + 6], 0xcd);
  EXPECT_EQ(got[7 * sc + 7], 0x11);
  image->reset();
  expect_same_as_qemu();
}

TEST_P(Qcow2ExtendedL2Write, ZeroedSubclustersAndDiscards) {
  REQUIRE_QEMU_TOOLS();
  const uint64_t cs = GetParam(), sc = cs / 32;
  for (bool with_backing : {false, true}) {
    SCOPED_TRACE(with_backing ? "with backing file" : "without backing file");
    run_both({{Request::kWrite, 0, 2 * cs, 0x5a},
              // Whole subclusters of data, of an unallocated cluster, and a
              // request with unaligned ends.
              {Request::kZero, 2 * sc, 3 * sc},
              {Request::kZero, 3 * cs + 4 * sc, 2 * sc},
              {Request::kZero, cs + sc - 10, 4 * sc + 20},
              // Whole clusters: kept allocated, unmapped, discarded.
              {Request::kZero, 2 * cs, cs},
              {Request::kZeroUnmap, 4 * cs, cs},
              {Request::kWrite, 5 * cs + 3 * sc, sc, 0x77},
              {Request::kDiscard, 5 * cs, cs},
              // Data written over zero subclusters again.
              {Request::kWrite, 2 * sc + 1, sc, 0x99}},
             with_backing);
    expect_same_as_qemu();
  }
}

TEST_P(Qcow2ExtendedL2Write, QemuWrittenImagesStayConsistent) {
  REQUIRE_QEMU_TOOLS();
  const uint64_t cs = GetParam(), sc = cs / 32;
  // A compressed cluster and a snapshot-shared cluster are rewritten partly:
  // both move to a new host cluster keeping what the guest saw.
  run_both({}, true);
  for (const std::string& path : {ours_, theirs_}) {
    RunResult r = run("qemu-io -c 'write -c -P 0x42 0 " + n(cs) + "' -c 'write -P 0x43 " + n(cs) +
                      " " + n(cs) + "' " + q(path));
    ASSERT_EQ(r.status, 0) << r.output;
    ASSERT_EQ(run("qemu-img snapshot -c s1 " + q(path)).status, 0);
  }
  auto image = Qcow2Image::open(ours_, {.access = Access::kReadWrite});
  ASSERT_TRUE(image.ok()) << image.error().message();
  std::vector<uint8_t> data(sc / 2, 0xee);
  ASSERT_TRUE((*image)->write(3 * sc, data).ok());
  ASSERT_TRUE((*image)->write(cs + 9 * sc + 5, data).ok());
  ASSERT_TRUE((*image)->close().ok());
  std::string range1 = n(3 * sc) + " " + n(sc / 2), range2 = n(cs + 9 * sc + 5) + " " + n(sc / 2);
  ASSERT_EQ(run("qemu-io -c 'write -P 0xee " + range1 + "' -c 'write -P 0xee " + range2 + "' " +
                q(theirs_))
                .status,
            0);
  expect_same_as_qemu();
  // The snapshot still reads what it saved.
  RunResult snap = run("qemu-img convert -l snapshot.name=s1 -O raw " + q(ours_) + " " +
                       q(dir_.file("snap.raw")));
  ASSERT_EQ(snap.status, 0) << snap.output;
  std::vector<uint8_t> saved = read_file(dir_.file("snap.raw"));
  EXPECT_EQ(saved[3 * sc], 0x42);
  EXPECT_EQ(saved[cs + 9 * sc + 5], 0x43);
}

INSTANTIATE_TEST_SUITE_P(ClusterSizes, Qcow2ExtendedL2Write,
                         ::testing::Values(16384u, 65536u, 2097152u),
                         [](const ::testing::TestParamInfo<uint32_t>& p) {
                           return "c" + std::to_string(p.param);
                         });

TEST(Qcow2ExtendedL2Create, QemuImgRules) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  Qcow2CreateOptions create;
  create.size = 1 << 20;
  create.extended_l2 = true;
  create.cluster_size = 8192;
  auto small = Qcow2Image::create(dir.file("a.qcow2"), create);
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.error().message().find("at least 16384 bytes"), std::string::npos);
  create.cluster_size = 65536;
  create.version = Qcow2Version::kV2;
  auto v2 = Qcow2Image::create(dir.file("a.qcow2"), create);
  ASSERT_FALSE(v2.ok());
  EXPECT_NE(v2.error().message().find("compatibility level 1.1"), std::string::npos);
  create.version = Qcow2Version::kV3;
  create.preallocation = Qcow2Preallocation::kMetadata;
  ASSERT_TRUE(Qcow2Image::create(dir.file("a.qcow2"), create).ok());
  expect_qemu_check_clean(dir.file("a.qcow2"));
  RunResult info = run("qemu-img info " + q(dir.file("a.qcow2")));
  EXPECT_NE(info.output.find("extended l2: true"), std::string::npos) << info.output;
  // Preallocated clusters read as zeros and take writes in place.
  auto image = Qcow2Image::open(dir.file("a.qcow2"), {.access = Access::kReadWrite});
  ASSERT_TRUE(image.ok()) << image.error().message();
  std::vector<uint8_t> data(1000, 0x61);
  ASSERT_TRUE((*image)->write(70000, data).ok());
  ASSERT_TRUE((*image)->close().ok());
  expect_qemu_check_clean(dir.file("a.qcow2"));
  std::vector<uint8_t> all = qemu_read_all(dir.file("a.qcow2"), dir.file("a.raw"));
  EXPECT_EQ(all[69999], 0);
  EXPECT_EQ(all[70000], 0x61);
  EXPECT_EQ(all[70999], 0x61);
  EXPECT_EQ(all[71000], 0);
}

}  // namespace
}  // namespace vessel::block
