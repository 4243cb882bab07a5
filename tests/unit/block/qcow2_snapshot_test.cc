// Internal snapshots: create, apply and delete through Qcow2Image, checked
// against QEMU (qemu-img check after every step, snapshot contents read by
// qemu-img convert -l), snapshots taken by one tool used by the other, a
// differential run against qemu-io + qemu-img snapshot, and malformed
// snapshot tables that must fail without damage.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "block/qcow2.h"
#include "crash_test_util.h"
#include "qcow2_test_util.h"

namespace vessel::block {
namespace {

using namespace testing;

std::unique_ptr<Qcow2Image> open_rw(const std::string& path) {
  auto image = Qcow2Image::open(path, {Access::kReadWrite, 0});
  EXPECT_TRUE(image.ok()) << image.error().message();
  return image.ok() ? std::move(*image) : nullptr;
}

// qemu-img check finds neither errors nor leaks.
void expect_clean(const std::string& path, const std::string& step) {
  RunResult check = qemu_check(path);
  EXPECT_EQ(check.status, 0) << step << ":\n" << check.output;
}

// A snapshot's contents as QEMU reads them.
std::vector<uint8_t> qemu_snapshot_contents(const std::string& path, const std::string& name,
                                            const std::string& raw) {
  RunResult r = run("qemu-img convert -f qcow2 -l snapshot.name=" + name + " -O raw '" + path +
                    "' '" + raw + "'");
  EXPECT_EQ(r.status, 0) << r.output;
  return read_file(raw);
}

void fill(std::vector<uint8_t>& model, uint64_t offset, uint64_t length, uint8_t value) {
  std::fill_n(model.begin() + static_cast<ptrdiff_t>(offset), length, value);
}

struct Variant {
  const char* name;
  uint32_t cluster_size;
  Qcow2Version version;
  uint32_t refcount_bits;
  bool backing;
  bool compressed;
  bool lazy_refcounts;
};

class Qcow2SnapshotRoundTrip : public ::testing::TestWithParam<Variant> {};

// Write A, snapshot, write B, snapshot, apply the first (reads A), the second
// (reads B), delete both: qemu-img check is clean at every step, QEMU reads
// each snapshot as saved, and nothing leaks at the end.
TEST_P(Qcow2SnapshotRoundTrip, CreateApplyDelete) {
  REQUIRE_QEMU_TOOLS();
  const Variant v = GetParam();
  const uint64_t cs = v.cluster_size;
  const uint64_t size = 64 * cs + 3 * 512;
  TempDir dir;
  const std::string path = dir.file("img.qcow2");
  const std::string raw = dir.file("out.raw");
  std::vector<uint8_t> model(size, 0);
  Qcow2CreateOptions create;
  create.size = size;
  create.cluster_size = v.cluster_size;
  create.version = v.version;
  create.refcount_bits = v.refcount_bits;
  create.lazy_refcounts = v.lazy_refcounts;
  if (v.backing) {
    std::vector<uint8_t> base(size / 2);
    for (size_t i = 0; i < base.size(); ++i) base[i] = static_cast<uint8_t>(i * 7 + 3);
    write_file(dir.file("base.raw"), base);
    std::copy(base.begin(), base.end(), model.begin());
    create.backing_file = "base.raw";
    create.backing_format = "raw";
  }
  ASSERT_TRUE(Qcow2Image::create(path, create).ok());

  // State A: whole clusters, a partial one, zeros over backing data, and a
  // compressed cluster.
  {
    auto image = open_rw(path);
    ASSERT_TRUE(image);
    std::vector<uint8_t> data(5 * cs + 100, 0xa1);
    ASSERT_TRUE(image->write(cs, data).ok());
    fill(model, cs, data.size(), 0xa1);
    ASSERT_TRUE(image->write_zeroes(10 * cs, 2 * cs, ZeroMode::kKeepAllocation).ok());
    fill(model, 10 * cs, 2 * cs, 0);
    if (v.compressed) {
      std::vector<uint8_t> cluster(cs, 0xc3);
      ASSERT_TRUE(image->write_compressed(20 * cs, cluster).ok());
      ASSERT_TRUE(image->write_compressed(21 * cs, cluster).ok());
      fill(model, 20 * cs, 2 * cs, 0xc3);
    }
    auto id = image->create_snapshot("a");
    ASSERT_TRUE(id.ok()) << id.error().message();
    EXPECT_EQ(*id, "1");
    ASSERT_TRUE(image->close().ok());
  }
  const std::vector<uint8_t> state_a = model;
  expect_clean(path, "after creating a");
  EXPECT_EQ(first_difference(qemu_snapshot_contents(path, "a", raw), state_a), -1);

  // State B: overwrite parts of everything, then snapshot again.
  {
    auto image = open_rw(path);
    ASSERT_TRUE(image);
    std::vector<uint8_t> data(3 * cs, 0xb2);
    ASSERT_TRUE(image->write(2 * cs + 17, data).ok());  // shared clusters: copied
    fill(model, 2 * cs + 17, data.size(), 0xb2);
    ASSERT_TRUE(image->write(40 * cs, data).ok());  // unallocated
    fill(model, 40 * cs, data.size(), 0xb2);
    ASSERT_TRUE(image->write_zeroes(4 * cs, cs, ZeroMode::kDeallocate).ok());
    fill(model, 4 * cs, cs, 0);
    if (v.compressed) {
      ASSERT_TRUE(image->write(20 * cs + 5, std::vector<uint8_t>(10, 0xb2)).ok());
      fill(model, 20 * cs + 5, 10, 0xb2);
    }
    EXPECT_EQ(first_difference(read_all(*image), model), -1);
    auto id = image->create_snapshot("b");
    ASSERT_TRUE(id.ok()) << id.error().message();
    EXPECT_EQ(*id, "2");
    ASSERT_TRUE(image->close().ok());
  }
  const std::vector<uint8_t> state_b = model;
  expect_clean(path, "after creating b");
  EXPECT_EQ(first_difference(qemu_snapshot_contents(path, "a", raw), state_a), -1);
  EXPECT_EQ(first_difference(qemu_snapshot_contents(path, "b", raw), state_b), -1);

  // Write C on top, then go back to A: A again, for us and for QEMU.
  {
    auto image = open_rw(path);
    ASSERT_TRUE(image);
    ASSERT_TRUE(image->write(0, std::vector<uint8_t>(8 * cs, 0xcc)).ok());
    auto index = image->find_snapshot("a");
    ASSERT_TRUE(index.ok());
    auto applied = image->apply_snapshot(*index);
    ASSERT_TRUE(applied.ok()) << applied.error().message();
    EXPECT_EQ(first_difference(read_all(*image), state_a), -1);
    // Writes after applying copy the shared clusters, not change them.
    ASSERT_TRUE(image->write(cs + 1, std::vector<uint8_t>(cs, 0xdd)).ok());
    ASSERT_TRUE(image->close().ok());
  }
  expect_clean(path, "after applying a and writing");
  EXPECT_EQ(first_difference(qemu_snapshot_contents(path, "a", raw), state_a), -1);
  EXPECT_EQ(first_difference(qemu_snapshot_contents(path, "b", raw), state_b), -1);

  // Apply by ID, then delete both snapshots: B remains, nothing leaks.
  {
    auto image = open_rw(path);
    ASSERT_TRUE(image);
    auto index = image->find_snapshot("2");
    ASSERT_TRUE(index.ok());
    ASSERT_TRUE(image->apply_snapshot(*index).ok());
    ASSERT_TRUE(image->delete_snapshot(0).ok());
    EXPECT_EQ(image->snapshots().size(), 1u);
    ASSERT_TRUE(image->close().ok());
  }
  expect_clean(path, "after deleting a");
  {
    auto image = open_rw(path);
    ASSERT_TRUE(image);
    ASSERT_EQ(image->snapshots().size(), 1u);
    EXPECT_EQ(image->snapshots()[0].name, "b");
    ASSERT_TRUE(image->delete_snapshot(0).ok());
    EXPECT_EQ(first_difference(read_all(*image), state_b), -1);
    ASSERT_TRUE(image->close().ok());
  }
  expect_clean(path, "after deleting b");
  EXPECT_EQ(first_difference(qemu_read_all(path, raw), state_b), -1);
  EXPECT_EQ(run("qemu-img snapshot -l '" + path + "'").output, "");
}

INSTANTIATE_TEST_SUITE_P(
    Variants, Qcow2SnapshotRoundTrip,
    ::testing::Values(Variant{"v3_64k", 65536, Qcow2Version::kV3, 16, false, false, false},
                      Variant{"v3_4k_compressed", 4096, Qcow2Version::kV3, 16, false, true, false},
                      Variant{"v2_64k_compressed", 65536, Qcow2Version::kV2, 16, false, true,
                              false},
                      Variant{"v2_512_backing", 512, Qcow2Version::kV2, 16, true, false, false},
                      Variant{"v3_4k_backing_lazy", 4096, Qcow2Version::kV3, 16, true, true, true},
                      Variant{"v3_2m", 2 << 20, Qcow2Version::kV3, 16, false, false, false},
                      Variant{"v3_4k_refcount4", 4096, Qcow2Version::kV3, 4, false, true, false},
                      Variant{"v3_4k_refcount8", 4096, Qcow2Version::kV3, 8, false, false, false},
                      Variant{"v3_1k_refcount64", 1024, Qcow2Version::kV3, 64, true, true, false}),
    [](const ::testing::TestParamInfo<Variant>& p) { return std::string(p.param.name); });

// The table we write is QEMU's, field for field.
TEST(Qcow2Snapshot, TableEntryAsQemuWritesIt) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  const std::string path = dir.file("img.qcow2");
  ASSERT_EQ(run("qemu-img create -q -f qcow2 -o compat=0.10 '" + path + "' 1M").status, 0);
  {
    auto image = open_rw(path);
    ASSERT_TRUE(image);
    ASSERT_TRUE(image->create_snapshot("first").ok());
    ASSERT_TRUE(image->close().ok());
  }
  std::vector<uint8_t> file = read_file(path);
  ASSERT_EQ(qcow2::load_be32(&file[60]), 1u);
  uint64_t table = qcow2::load_be64(&file[64]);
  ASSERT_LT(table + 72, file.size());
  const uint8_t* e = &file[table];
  EXPECT_EQ(qcow2::load_be16(e + 12), 1);                  // id_str_size
  EXPECT_EQ(qcow2::load_be16(e + 14), 5);                  // name_size
  EXPECT_EQ(qcow2::load_be32(e + 20) % 1000, 0u);          // microseconds, as qemu-img
  EXPECT_EQ(qcow2::load_be64(e + 24), 0u);                 // vm_clock_nsec
  EXPECT_EQ(qcow2::load_be32(e + 36), 24u);                // extra data, also in version 2
  EXPECT_EQ(qcow2::load_be64(e + 40), 0u);                 // vm_state_size_large
  EXPECT_EQ(qcow2::load_be64(e + 48), uint64_t{1} << 20);  // disk_size
  EXPECT_EQ(qcow2::load_be64(e + 56), 0u);                 // icount, as qemu-img
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(e + 64), 6), "1first");
  RunResult list = run("qemu-img snapshot -l '" + path + "'");
  EXPECT_NE(list.output.find("1         first                 0 B"), std::string::npos)
      << list.output;
  expect_clean(path, "v2 snapshot");
}

// Snapshots made by qemu-img applied and deleted here, ours applied and
// deleted by qemu-img; the disks agree (qemu-img compare) at every step.
TEST(Qcow2Snapshot, InteroperatesWithQemuImg) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  const std::string theirs = dir.file("theirs.qcow2");
  const std::string ours = dir.file("ours.qcow2");
  const std::string raw = dir.file("out.raw");
  for (const std::string& p : {theirs, ours}) {
    ASSERT_EQ(run("qemu-img create -q -f qcow2 -o cluster_size=4096 '" + p + "' 1M").status, 0);
    ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x11 0 256k' '" + p + "'").status, 0);
  }
  auto same = [&](const std::string& step) {
    RunResult r = run("qemu-img compare -f qcow2 -F qcow2 '" + theirs + "' '" + ours + "'");
    EXPECT_EQ(r.status, 0) << step << ": " << r.output;
    expect_clean(theirs, step + " (theirs)");
    expect_clean(ours, step + " (ours)");
  };
  // QEMU's snapshot, our apply and delete.
  ASSERT_EQ(run("qemu-img snapshot -c q1 '" + theirs + "'").status, 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x22 4k 64k' '" + theirs + "'").status, 0);
  {
    auto image = open_rw(theirs);
    ASSERT_TRUE(image);
    ASSERT_EQ(image->snapshots().size(), 1u);
    EXPECT_EQ(image->snapshots()[0].icount, 0);
    EXPECT_EQ(image->snapshots()[0].disk_size, uint64_t{1} << 20);
    auto index = image->find_snapshot("q1");
    ASSERT_TRUE(index.ok());
    ASSERT_TRUE(image->apply_snapshot(*index).ok());
    ASSERT_TRUE(image->close().ok());
  }
  same("QEMU's snapshot applied by us");
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x33 100k 8k' '" + theirs + "'").status, 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x33 100k 8k' '" + ours + "'").status, 0);
  {
    auto image = open_rw(theirs);
    ASSERT_TRUE(image);
    ASSERT_TRUE(image->delete_snapshot(0).ok());
    ASSERT_TRUE(image->close().ok());
  }
  same("QEMU's snapshot deleted by us");

  // Our snapshot, QEMU's apply and delete.
  {
    auto image = open_rw(ours);
    ASSERT_TRUE(image);
    ASSERT_TRUE(image->create_snapshot("v1").ok());
    ASSERT_TRUE(image->write(0, std::vector<uint8_t>(300000, 0x44)).ok());
    ASSERT_TRUE(image->close().ok());
  }
  expect_clean(ours, "our snapshot, written after");
  std::vector<uint8_t> saved = qemu_read_all(theirs, raw);  // what ours held at the snapshot
  EXPECT_EQ(first_difference(qemu_snapshot_contents(ours, "v1", raw), saved), -1);
  RunResult applied = run("qemu-img snapshot -a v1 '" + ours + "'");
  ASSERT_EQ(applied.status, 0) << applied.output;
  same("our snapshot applied by QEMU");
  RunResult deleted = run("qemu-img snapshot -d v1 '" + ours + "'");
  ASSERT_EQ(deleted.status, 0) << deleted.output;
  same("our snapshot deleted by QEMU");

  // Mixed: IDs continue from QEMU's, lookups by ID before name.
  ASSERT_EQ(run("qemu-img snapshot -c 7 '" + ours + "'").status, 0);  // ID 1, name "7"
  {
    auto image = open_rw(ours);
    ASSERT_TRUE(image);
    auto id = image->create_snapshot("1");
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(*id, "2");
    auto by_id = image->find_snapshot("1");
    ASSERT_TRUE(by_id.ok());
    EXPECT_EQ(image->snapshots()[*by_id].name, "7");
    auto by_name = image->find_snapshot("7");
    ASSERT_TRUE(by_name.ok());
    EXPECT_EQ(*by_name, 0u);
    EXPECT_FALSE(image->find_snapshot("nope").ok());
    ASSERT_TRUE(image->close().ok());
  }
  RunResult list = run("qemu-img snapshot -l '" + ours + "'");
  EXPECT_NE(list.output.find("\n2         1    "), std::string::npos) << list.output;
  expect_clean(ours, "mixed IDs");
}

// QEMU recomputes "copied" flags in tables that only a snapshot still uses
// (when it drops the old active state on apply); applying such a snapshot
// must not take those flags over, or writes would change shared clusters.
TEST(Qcow2Snapshot, AppliesQemuSnapshotsWithStaleCopiedFlags) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  const std::string path = dir.file("img.qcow2");
  const std::string raw = dir.file("out.raw");
  ASSERT_EQ(run("qemu-img create -q -f qcow2 -o cluster_size=4096 '" + path + "' 1M").status, 0);
  ASSERT_EQ(run("qemu-img snapshot -c empty '" + path + "'").status, 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x21 0 64k' '" + path + "'").status, 0);
  ASSERT_EQ(run("qemu-img snapshot -c full '" + path + "'").status, 0);
  std::vector<uint8_t> full = qemu_read_all(path, raw);
  // The tables of "full" now belong to it alone; QEMU marks them copied.
  ASSERT_EQ(run("qemu-img snapshot -a empty '" + path + "'").status, 0);
  {
    auto image = open_rw(path);
    ASSERT_TRUE(image);
    auto index = image->find_snapshot("full");
    ASSERT_TRUE(index.ok());
    ASSERT_TRUE(image->apply_snapshot(*index).ok());
    ASSERT_TRUE(image->write(0, std::vector<uint8_t>(4096, 0x99)).ok());
    ASSERT_TRUE(image->close().ok());
  }
  expect_clean(path, "after applying and writing");
  EXPECT_EQ(first_difference(qemu_snapshot_contents(path, "full", raw), full), -1);
}

// A snapshot records the disk size; applying it restores that size.
TEST(Qcow2Snapshot, ApplyRestoresTheDiskSize) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  const std::string path = dir.file("img.qcow2");
  const std::string raw = dir.file("out.raw");
  ASSERT_EQ(run("qemu-img create -q -f qcow2 -o cluster_size=4096 '" + path + "' 1M").status, 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x55 0 512k' '" + path + "'").status, 0);
  std::vector<uint8_t> saved = qemu_read_all(path, raw);
  {
    auto image = open_rw(path);
    ASSERT_TRUE(image);
    ASSERT_TRUE(image->create_snapshot("small").ok());
    ASSERT_TRUE(image->close().ok());
  }
  // Grown past what the L1 table of the snapshot covers.
  ASSERT_EQ(run("qemu-img resize -f qcow2 '" + path + "' 64M").status, 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x66 40M 64k' '" + path + "'").status, 0);
  {
    auto image = open_rw(path);
    ASSERT_TRUE(image);
    EXPECT_EQ(image->size(), uint64_t{64} << 20);
    ASSERT_TRUE(image->apply_snapshot(0).ok());
    EXPECT_EQ(image->size(), uint64_t{1} << 20);
    EXPECT_EQ(first_difference(read_all(*image), saved), -1);
    ASSERT_TRUE(image->close().ok());
  }
  expect_clean(path, "after applying the smaller snapshot");
  EXPECT_EQ(first_difference(qemu_read_all(path, raw), saved), -1);
  // And the other way: a snapshot of the big disk, applied after shrinking.
  ASSERT_EQ(run("qemu-img resize -f qcow2 '" + path + "' 8M").status, 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x77 7M 64k' '" + path + "'").status, 0);
  std::vector<uint8_t> big = qemu_read_all(path, raw);
  {
    auto image = open_rw(path);
    ASSERT_TRUE(image);
    ASSERT_TRUE(image->create_snapshot("big").ok());
    ASSERT_TRUE(image->apply_snapshot(0).ok());
    EXPECT_EQ(image->size(), uint64_t{1} << 20);
    ASSERT_TRUE(image->apply_snapshot(1).ok());
    EXPECT_EQ(image->size(), uint64_t{8} << 20);
    EXPECT_EQ(first_difference(read_all(*image), big), -1);
    ASSERT_TRUE(image->close().ok());
  }
  expect_clean(path, "after applying the bigger snapshot");
  EXPECT_NE(run("qemu-img info '" + path + "'").output.find("virtual size: 8 MiB"),
            std::string::npos);
}

// Dropping whole L2 tables that a snapshot shares (emptying the image,
// shrinking it) takes the active table's reference off every cluster they
// map: qemu-img check finds no leak, and the snapshot still holds the disk.
TEST(Qcow2Snapshot, DroppingSharedTablesLeavesNoLeak) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  const std::string path = dir.file("img.qcow2");
  const std::string raw = dir.file("out.raw");
  ASSERT_EQ(run("qemu-img create -q -f qcow2 -o cluster_size=4096 '" + path + "' 8M").status, 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x55 0 6M' '" + path + "'").status, 0);
  std::vector<uint8_t> saved = qemu_read_all(path, raw);
  {
    auto image = open_rw(path);
    ASSERT_TRUE(image);
    ASSERT_TRUE(image->create_snapshot("s").ok());
    ASSERT_TRUE(image->resize(2 << 20, true).ok());
    ASSERT_TRUE(image->close().ok());
  }
  expect_clean(path, "after shrinking");
  {
    auto image = open_rw(path);
    ASSERT_TRUE(image);
    ASSERT_TRUE(image->make_empty().ok());
    ASSERT_TRUE(image->close().ok());
  }
  expect_clean(path, "after emptying");
  // (qemu-img convert -l would read it at the current, smaller size.)
  ASSERT_EQ(run("qemu-img snapshot -a s '" + path + "'").status, 0);
  EXPECT_EQ(first_difference(qemu_read_all(path, raw), saved), -1);
  ASSERT_EQ(run("qemu-img snapshot -d s '" + path + "'").status, 0);
  expect_clean(path, "after deleting the snapshot");
}

// One refcount bit cannot count a shared cluster: the snapshot is refused and
// the image is as before (no leak, data intact).
TEST(Qcow2Snapshot, RefusedWhenRefcountsCannotCountSharing) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  const std::string path = dir.file("img.qcow2");
  Qcow2CreateOptions create;
  create.size = 1 << 20;
  create.cluster_size = 4096;
  create.refcount_bits = 1;
  ASSERT_TRUE(Qcow2Image::create(path, create).ok());
  auto image = open_rw(path);
  ASSERT_TRUE(image);
  std::vector<uint8_t> data(20000, 0x5a);
  ASSERT_TRUE(image->write(0, data).ok());
  auto id = image->create_snapshot("x");
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.error().message().find("would exceed the maximum of 1"), std::string::npos)
      << id.error().message();
  EXPECT_TRUE(image->snapshots().empty());
  // Still writable in place and readable.
  ASSERT_TRUE(image->write(100, std::vector<uint8_t>(10, 0x5b)).ok());
  std::fill_n(data.begin() + 100, 10, 0x5b);
  std::vector<uint8_t> back(data.size());
  ASSERT_TRUE(image->read(0, back).ok());
  EXPECT_EQ(back, data);
  ASSERT_TRUE(image->close().ok());
  expect_clean(path, "after the refused snapshot");
}

// Read-only images refuse every change.
TEST(Qcow2Snapshot, ReadOnlyImagesRefuse) {
  TempDir dir;
  const std::string path = dir.file("img.qcow2");
  Qcow2CreateOptions create;
  create.size = 1 << 20;
  ASSERT_TRUE(Qcow2Image::create(path, create).ok());
  {
    auto image = open_rw(path);
    ASSERT_TRUE(image);
    ASSERT_TRUE(image->create_snapshot("s").ok());
  }
  auto image = Qcow2Image::open(path, {});
  ASSERT_TRUE(image.ok());
  EXPECT_FALSE((*image)->create_snapshot("t").ok());
  EXPECT_FALSE((*image)->apply_snapshot(0).ok());
  EXPECT_FALSE((*image)->delete_snapshot(0).ok());
  EXPECT_FALSE((*image)->delete_snapshot(1).ok());
  EXPECT_EQ((*image)->snapshots().size(), 1u);
}

// A snapshot whose tables point outside the file: apply and delete fail with
// an error naming the file, and change nothing.
TEST(Qcow2Snapshot, MalformedSnapshotTablesFailCleanly) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  const std::string good = dir.file("good.qcow2");
  ASSERT_EQ(run("qemu-img create -q -f qcow2 -o cluster_size=4096 '" + good + "' 1M").status, 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x11 0 64k' '" + good + "'").status, 0);
  ASSERT_EQ(run("qemu-img snapshot -c s '" + good + "'").status, 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x22 0 8k' '" + good + "'").status, 0);
  std::vector<uint8_t> original = read_file(good);
  uint64_t table = qcow2::load_be64(&original[64]);
  uint64_t snap_l1 = qcow2::load_be64(&original[table]);
  uint64_t l2 = qcow2::load_be64(&original[snap_l1]) & qcow2::kL1OffsetMask;
  uint64_t refcount_table = qcow2::load_be64(&original[48]);
  ASSERT_NE(l2, 0u);

  struct Damage {
    const char* what;
    uint64_t offset;
    uint64_t value;
  };
  const Damage damages[] = {
      {"L1 entry past the end of the file", snap_l1, uint64_t{1} << 40},
      {"L1 entry misaligned", snap_l1, l2 + 512},
      {"L1 entry on the refcount table", snap_l1, refcount_table},
      {"L2 entry past the end of the file", l2 + 8, uint64_t{1} << 40},
      {"L2 entry misaligned", l2 + 8, (l2 + 4096 * 3) | 0x200},
  };
  for (const Damage& d : damages) {
    SCOPED_TRACE(d.what);
    const std::string path = dir.file("bad.qcow2");
    write_file(path, original);
    patch_file(path, d.offset, be64(d.value));
    std::vector<uint8_t> before = read_file(path);
    auto image = Qcow2Image::open(path, {Access::kReadWrite, 0});
    if (!image.ok()) continue;  // refused at open: as clean as it gets
    std::vector<uint8_t> disk = read_all(**image);
    auto applied = (*image)->apply_snapshot(0);
    ASSERT_FALSE(applied.ok());
    EXPECT_NE(applied.error().message().find(path), std::string::npos);
    auto deleted = (*image)->delete_snapshot(0);
    ASSERT_FALSE(deleted.ok());
    EXPECT_NE(deleted.error().message().find(path), std::string::npos);
    EXPECT_EQ((*image)->snapshots().size(), 1u);
    EXPECT_EQ(first_difference(read_all(**image), disk), -1);
    ASSERT_TRUE((*image)->close().ok());
    // Byte for byte what it was: nothing was written.
    EXPECT_EQ(first_difference(read_file(path), before), -1);
  }
}

// Crash consistency: a process that writes, creates, applies and deletes
// snapshots is killed at random instants. In a version 3 image the result is
// clean but for leaks, or marked dirty and then repaired to that on the next
// read-write open; every snapshot still holds what was written before it.
[[noreturn]] void snapshot_writer(const std::string& path, uint64_t region, int report) {
  auto opened = Qcow2Image::open(path, {Access::kReadWrite, 0});
  if (!opened.ok()) _exit(1);
  report_ready(report);
  Qcow2Image& image = **opened;
  std::mt19937 rng(static_cast<uint32_t>(getpid()));
  for (int i = 1;; ++i) {
    // Snapshot "p<i>" holds pattern i over the whole region.
    std::vector<uint8_t> data(region / 4, static_cast<uint8_t>(i));
    for (uint64_t k = 0; k < 4; ++k) {
      if (!image.write(k * data.size(), data).ok()) _exit(2);
    }
    if (!image.create_snapshot("p" + std::to_string(i)).ok()) _exit(3);
    const auto& list = image.snapshots();
    if (i % 3 == 0 && !image.apply_snapshot(rng() % list.size()).ok()) _exit(4);
    if (list.size() > 4 && !image.delete_snapshot(rng() % list.size()).ok()) _exit(5);
  }
}

TEST(Qcow2SnapshotCrash, KilledWhileSnapshottingLeavesAtMostLeaks) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::mt19937 random(777);
  const uint64_t region = 256 << 10;
  int snapshots_checked = 0;
  for (int kill_number = 0; kill_number < 24; ++kill_number) {
    SCOPED_TRACE("kill " + std::to_string(kill_number));
    const std::string path = dir.file("crash" + std::to_string(kill_number) + ".qcow2");
    Qcow2CreateOptions create;
    create.size = 1 << 20;
    create.cluster_size = kill_number % 2 ? 4096 : 65536;
    ASSERT_TRUE(Qcow2Image::create(path, create).ok());
    std::vector<uint64_t> unused;
    ASSERT_NO_FATAL_FAILURE(
        kill_child_after([&](int report) { snapshot_writer(path, region, report); },
                         std::chrono::microseconds(20000 + random() % 200000), &unused));

    std::vector<uint8_t> header = read_file(path);
    ASSERT_GE(header.size(), 80u);
    if ((qcow2::load_be64(&header[72]) & qcow2::kIncompatDirty) != 0) {
      auto repaired = Qcow2Image::open(path, {Access::kReadWrite, 0});
      ASSERT_TRUE(repaired.ok()) << repaired.error().message();
      ASSERT_TRUE((*repaired)->close().ok());
    }
    RunResult check = qemu_check(path);
    EXPECT_TRUE(check.status == 0 || check.status == 3) << check.output;
    auto image = Qcow2Image::open(path, {});
    ASSERT_TRUE(image.ok()) << image.error().message();
    for (const Qcow2Snapshot& s : (*image)->snapshots()) {
      SCOPED_TRACE(s.name);
      uint8_t pattern = static_cast<uint8_t>(std::stoi(s.name.substr(1)));
      std::vector<uint8_t> contents = qemu_snapshot_contents(path, s.name, dir.file("s.raw"));
      ASSERT_EQ(contents.size(), uint64_t{1} << 20);
      EXPECT_EQ(first_difference(std::vector<uint8_t>(contents.begin(), contents.begin() + region),
                                 std::vector<uint8_t>(region, pattern)),
                -1);
      ++snapshots_checked;
    }
  }
  EXPECT_GT(snapshots_checked, 10);
}

// Differential: the same random writes, zero writes, discards and snapshot
// operations through qemu-io + qemu-img snapshot on one image and through
// Qcow2Image on another. The disks and every remaining snapshot must be
// identical.
struct DiffVariant {
  const char* name;
  uint32_t cluster_size;
  const char* compat;
  uint32_t seed;
};

class Qcow2SnapshotDifferential : public ::testing::TestWithParam<DiffVariant> {};

TEST_P(Qcow2SnapshotDifferential, SameOperationsSameSnapshots) {
  REQUIRE_QEMU_TOOLS();
  const DiffVariant v = GetParam();
  const uint64_t cs = v.cluster_size;
  const uint64_t size = 48 * cs + 512;
  TempDir dir;
  const std::string theirs = dir.file("theirs.qcow2");
  const std::string ours = dir.file("ours.qcow2");
  const std::string script_path = dir.file("script");
  std::mt19937 rng(v.seed);
  for (const std::string& p : {theirs, ours}) {
    RunResult r = run("qemu-img create -q -f qcow2 -o cluster_size=" + std::to_string(cs) +
                      ",compat=" + v.compat + " '" + p + "' " + std::to_string(size));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  std::string script;
  auto run_script = [&]() {
    if (script.empty()) return;
    write_file(script_path, std::vector<uint8_t>(script.begin(), script.end()));
    RunResult r = run("qemu-io -f qcow2 '" + theirs + "' < '" + script_path + "'");
    ASSERT_EQ(r.status, 0) << r.output;
    ASSERT_EQ(r.output.find("error"), std::string::npos) << r.output;
    script.clear();
  };
  std::vector<std::string> names;  // live snapshots, unique names
  int next_name = 0;
  auto image = open_rw(ours);
  ASSERT_TRUE(image);
  std::vector<uint8_t> buffer;
  for (int i = 0; i < 120; ++i) {
    uint32_t kind = rng() % 20;
    if (kind < 12) {
      uint64_t offset = rng() % 3 == 0 ? (rng() % 48) * cs : rng() % size;
      uint64_t length = std::min<uint64_t>(1 + rng() % (3 * cs), size - offset);
      std::string range = std::to_string(offset) + " " + std::to_string(length);
      if (kind < 9) {
        uint8_t pattern = static_cast<uint8_t>(rng());
        script += "write -P " + std::to_string(pattern) + " " + range + "\n";
        buffer.assign(length, pattern);
        ASSERT_TRUE(image->write(offset, buffer).ok());
      } else if (kind == 10) {
        script += "discard " + range + "\n";
        ASSERT_TRUE(image->discard(offset, length).ok());
      } else {
        bool unmap = kind == 11;
        script += std::string(unmap ? "write -z -u " : "write -z ") + range + "\n";
        ASSERT_TRUE(image
                        ->write_zeroes(offset, length,
                                       unmap ? ZeroMode::kDeallocate : ZeroMode::kKeepAllocation)
                        .ok());
      }
      continue;
    }
    run_script();
    if (kind < 15 || names.empty()) {
      std::string name = "s" + std::to_string(next_name++);
      RunResult r = run("qemu-img snapshot -c " + name + " '" + theirs + "'");
      ASSERT_EQ(r.status, 0) << r.output;
      auto id = image->create_snapshot(name);
      ASSERT_TRUE(id.ok()) << id.error().message();
      names.push_back(name);
    } else {
      size_t pick = rng() % names.size();
      bool apply = kind < 18;
      RunResult r = run("qemu-img snapshot " + std::string(apply ? "-a " : "-d ") + names[pick] +
                        " '" + theirs + "'");
      ASSERT_EQ(r.status, 0) << r.output;
      auto index = image->find_snapshot(names[pick]);
      ASSERT_TRUE(index.ok());
      auto done = apply ? image->apply_snapshot(*index) : image->delete_snapshot(*index);
      ASSERT_TRUE(done.ok()) << done.error().message();
      if (!apply) names.erase(names.begin() + static_cast<ptrdiff_t>(pick));
    }
  }
  run_script();
  ASSERT_TRUE(image->close().ok());

  expect_clean(ours, "ours at the end");
  expect_clean(theirs, "theirs at the end");
  RunResult compare = run("qemu-img compare -f qcow2 -F qcow2 '" + theirs + "' '" + ours + "'");
  EXPECT_EQ(compare.status, 0) << compare.output;
  RunResult list_theirs = run("qemu-img snapshot -l '" + theirs + "'");
  RunResult list_ours = run("qemu-img snapshot -l '" + ours + "'");
  // Same IDs and names in the same order (dates differ).
  auto ids_and_names = [](const std::string& text) {
    std::string out;
    size_t pos = 0;
    while ((pos = text.find('\n', pos)) != std::string::npos) {
      ++pos;
      out += text.substr(pos, 27) + "|";
    }
    return out;
  };
  EXPECT_EQ(ids_and_names(list_theirs.output), ids_and_names(list_ours.output));
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    EXPECT_EQ(first_difference(qemu_snapshot_contents(theirs, name, dir.file("t.raw")),
                               qemu_snapshot_contents(ours, name, dir.file("o.raw"))),
              -1);
  }
  EXPECT_GT(next_name, 3);
}

INSTANTIATE_TEST_SUITE_P(Variants, Qcow2SnapshotDifferential,
                         ::testing::Values(DiffVariant{"v3_4k", 4096, "1.1", 11},
                                           DiffVariant{"v2_4k", 4096, "0.10", 12},
                                           DiffVariant{"v3_64k", 65536, "1.1", 13},
                                           DiffVariant{"v3_512", 512, "1.1", 14}),
                         [](const ::testing::TestParamInfo<DiffVariant>& p) {
                           return std::string(p.param.name);
                         });

}  // namespace
}  // namespace vessel::block
