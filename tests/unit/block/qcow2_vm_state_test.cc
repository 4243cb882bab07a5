// The VM state area of internal snapshots (QEMU's savevm layout): where it
// starts, writing and reading it across L2 tables (small clusters, extended
// L2 entries, a backing file), snapshots that keep it while the active disk
// lets go of it, the snapshot entry's VM state fields as qemu-img lists them,
// and a VM state that QEMU's own savevm wrote, read back at the same offset.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "block/qcow2.h"
#include "qcow2_test_util.h"

namespace vessel::block {
namespace {

using namespace testing;

std::unique_ptr<Qcow2Image> open_rw(const std::string& path) {
  auto image = Qcow2Image::open(path, {Access::kReadWrite, 0});
  EXPECT_TRUE(image.ok()) << image.error().message();
  return image.ok() ? std::move(*image) : nullptr;
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (uint8_t& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

void create(const std::string& path, uint64_t size, uint32_t cluster_size, bool extended_l2 = false,
            const std::string& backing = "") {
  Qcow2CreateOptions options;
  options.size = size;
  options.cluster_size = cluster_size;
  options.extended_l2 = extended_l2;
  if (!backing.empty()) {
    options.backing_file = backing;
    options.backing_format = "raw";
  }
  auto created = Qcow2Image::create(path, options);
  ASSERT_TRUE(created.ok()) << created.error().message();
}

TEST(Qcow2VmState, OffsetIsTheDiskRoundedUpToOneL1Entry) {
  TempDir dir;
  struct Case {
    uint64_t size;
    uint32_t cluster_size;
    bool extended_l2;
    uint64_t offset;
  };
  // One L1 entry maps cluster_size * (cluster_size / 8) bytes, or / 16 with
  // extended L2 entries.
  const Case cases[] = {
      {64 << 20, 65536, false, 512 << 20},
      {512 << 20, 65536, false, 512 << 20},
      {(512 << 20) + 512, 65536, false, uint64_t{1} << 30},
      {100 << 10, 512, false, 128 << 10},
      {16 << 20, 16384, true, 16 << 20},
      {1 << 20, 16384, true, 16 << 20},
  };
  for (const Case& c : cases) {
    const std::string path = dir.file("img.qcow2");
    create(path, c.size, c.cluster_size, c.extended_l2);
    auto image = Qcow2Image::open(path, {});
    ASSERT_TRUE(image.ok()) << image.error().message();
    EXPECT_EQ((*image)->vm_state_offset(), c.offset) << c.size << " " << c.cluster_size;
  }
}

struct Layout {
  const char* name;
  uint32_t cluster_size;
  bool extended_l2;
  bool backing;
};

class Qcow2VmStateRoundTrip : public ::testing::TestWithParam<Layout> {};

// A VM state much larger than one L2 table maps, written in uneven pieces,
// reads back whole; a snapshot keeps it while the active disk drops it; the
// disk itself never changes; QEMU finds the image clean and lists the VM size.
TEST_P(Qcow2VmStateRoundTrip, WriteSnapshotDiscardApplyDelete) {
  REQUIRE_QEMU_TOOLS();
  const Layout layout = GetParam();
  TempDir dir;
  const std::string path = dir.file("img.qcow2");
  const uint64_t cs = layout.cluster_size;
  const uint64_t disk_size = 37 * cs + 512;
  std::vector<uint8_t> disk(disk_size, 0);
  std::string backing;
  if (layout.backing) {
    // Larger than the disk: the VM state area lies over backing data, which
    // partial writes there must not mix into the state.
    write_file(dir.file("base.raw"), std::vector<uint8_t>(disk_size * 64, 0xee));
    std::fill(disk.begin(), disk.end(), 0xee);
    backing = "base.raw";
  }
  create(path, disk_size, layout.cluster_size, layout.extended_l2, backing);
  const uint64_t l1_span = cs * (cs / (layout.extended_l2 ? 16 : 8));
  // Several L2 tables' worth where tables are small; 8 MiB at most.
  const std::vector<uint8_t> state =
      random_bytes(std::min<uint64_t>(3 * l1_span, 8 << 20) + 12345, 7);
  const uint64_t middle = std::min<uint64_t>(l1_span, state.size() / 2);

  {
    auto image = open_rw(path);
    ASSERT_TRUE(image);
    std::vector<uint8_t> data(3 * cs, 0x5a);
    ASSERT_TRUE(image->write(cs + 100, data).ok());
    std::fill_n(disk.begin() + static_cast<ptrdiff_t>(cs + 100), data.size(), 0x5a);
    // Uneven pieces: partial clusters and subclusters at both ends.
    uint64_t pos = 0;
    for (uint64_t piece : {uint64_t{1000}, cs - 1, 5 * cs + 7, middle + 3}) {
      auto r = image->write_vm_state(pos, std::span(state).subspan(pos, piece));
      ASSERT_TRUE(r.ok()) << r.error().message();
      pos += piece;
    }
    ASSERT_TRUE(image->write_vm_state(pos, std::span(state).subspan(pos)).ok());
    std::vector<uint8_t> back(state.size());
    ASSERT_TRUE(image->read_vm_state(0, back).ok());
    EXPECT_EQ(first_difference(back, state), -1);
    EXPECT_EQ(first_difference(read_all(*image), disk), -1);

    Qcow2NewSnapshot snap;
    snap.name = "vm1";
    snap.vm_state_size = state.size();
    snap.vm_clock_nsec = 3'723'456'000'000;  // 01:02:03.456
    snap.icount = -1;
    auto id = image->create_snapshot(snap);
    ASSERT_TRUE(id.ok()) << id.error().message();
    ASSERT_TRUE(image->discard_vm_state().ok());
    // The active disk has no VM state any more (it reads zeros, or the
    // backing file, as QEMU's does) ...
    std::vector<uint8_t> gone(state.size());
    ASSERT_TRUE(image->read_vm_state(0, gone).ok());
    if (!layout.backing) {
      EXPECT_EQ(std::count(gone.begin(), gone.end(), 0), static_cast<ptrdiff_t>(gone.size()));
    }
    EXPECT_EQ(first_difference(read_all(*image), disk), -1);
    ASSERT_TRUE(image->close().ok());
  }
  expect_qemu_check_clean(path);
  RunResult list = run("qemu-img snapshot -l '" + path + "'");
  EXPECT_EQ(list.status, 0) << list.output;
  EXPECT_NE(list.output.find("vm1"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("01:02:03.456"), std::string::npos) << list.output;
  EXPECT_EQ(list.output.find(" 0 B "), std::string::npos) << list.output;

  // ... and the snapshot has it: read through a read-only view of the
  // snapshot, and through the active disk once the snapshot is applied.
  {
    Qcow2OpenOptions view;
    view.snapshot_name = "vm1";
    auto image = Qcow2Image::open(path, view);
    ASSERT_TRUE(image.ok()) << image.error().message();
    std::vector<uint8_t> back(state.size());
    ASSERT_TRUE((*image)->read_vm_state(0, back).ok());
    EXPECT_EQ(first_difference(back, state), -1);
  }
  {
    auto image = open_rw(path);
    ASSERT_TRUE(image);
    ASSERT_TRUE(image->write(0, std::vector<uint8_t>(cs, 0x11)).ok());
    ASSERT_TRUE(image->apply_snapshot(0).ok());
    EXPECT_EQ(first_difference(read_all(*image), disk), -1);
    std::vector<uint8_t> back(state.size());
    ASSERT_TRUE(image->read_vm_state(0, back).ok());
    EXPECT_EQ(first_difference(back, state), -1);
    // A part from the middle, across clusters (and L2 tables where small).
    std::vector<uint8_t> part(2 * cs + 3);
    ASSERT_TRUE(image->read_vm_state(middle - cs, part).ok());
    EXPECT_TRUE(
        std::equal(part.begin(), part.end(), state.begin() + static_cast<ptrdiff_t>(middle - cs)));
    ASSERT_TRUE(image->discard_vm_state().ok());
    ASSERT_TRUE(image->delete_snapshot(0).ok());
    ASSERT_TRUE(image->close().ok());
  }
  expect_qemu_check_clean(path);
  RunResult none = run("qemu-img snapshot -l '" + path + "'");
  EXPECT_EQ(none.output.find("vm1"), std::string::npos) << none.output;
}

INSTANTIATE_TEST_SUITE_P(Layouts, Qcow2VmStateRoundTrip,
                         ::testing::Values(Layout{"small_clusters", 512, false, false},
                                           Layout{"default_clusters", 65536, false, false},
                                           Layout{"extended_l2", 16384, true, false},
                                           Layout{"backing_file", 1024, false, true}),
                         [](const auto& p) { return std::string(p.param.name); });

// The entry's VM state fields: vm_state_size in both the 32-bit field and
// vm_state_size_large, the VM clock and icount, kept across a reopen.
TEST(Qcow2VmState, SnapshotEntryFields) {
  TempDir dir;
  const std::string path = dir.file("img.qcow2");
  create(path, 1 << 20, 65536);
  {
    auto image = open_rw(path);
    ASSERT_TRUE(image);
    Qcow2NewSnapshot snap;
    snap.name = "s";
    snap.vm_state_size = 123456;
    snap.vm_clock_nsec = 42;
    snap.icount = -1;
    ASSERT_TRUE(image->write_vm_state(0, random_bytes(123456, 1)).ok());
    ASSERT_TRUE(image->create_snapshot(snap).ok());
    ASSERT_TRUE(image->create_snapshot("disk-only").ok());
    ASSERT_TRUE(image->close().ok());
  }
  auto image = Qcow2Image::open(path, {});
  ASSERT_TRUE(image.ok());
  const auto& list = (*image)->snapshots();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].vm_state_size, 123456u);
  EXPECT_EQ(list[0].vm_clock_nsec, 42u);
  EXPECT_EQ(list[0].icount, -1);
  EXPECT_GE(list[0].extra_data_size, 24u);
  EXPECT_NE(list[0].date_sec, 0u);
  EXPECT_EQ(list[1].vm_state_size, 0u);
  EXPECT_EQ(list[1].icount, 0);
  // The raw entry: vm_state_size (32 bits) at byte 32, vm_state_size_large
  // first in the extra data at byte 40.
  const std::vector<uint8_t> file = read_file(path);
  uint64_t table = 0;
  for (int i = 0; i < 8; ++i) table = (table << 8) | file[64 + i];
  ASSERT_LT(table + 48, file.size());
  EXPECT_EQ(qcow2::load_be32(&file[table + 32]), 123456u);
  EXPECT_EQ(qcow2::load_be64(&file[table + 40]), 123456u);
}

TEST(Qcow2VmState, RefusedWhereItCannotBe) {
  TempDir dir;
  const std::string path = dir.file("img.qcow2");
  create(path, 1 << 20, 512);
  {
    auto image = Qcow2Image::open(path, {});
    ASSERT_TRUE(image.ok());
    auto r = (*image)->write_vm_state(0, std::vector<uint8_t>(10, 1));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("read-only"), std::string::npos) << r.error().message();
  }
  auto image = open_rw(path);
  ASSERT_TRUE(image);
  // 512-byte clusters: an L1 table of 32 MiB maps 128 GiB at most.
  auto r = image->write_vm_state(uint64_t{200} << 30, std::vector<uint8_t>(10, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("does not fit"), std::string::npos) << r.error().message();
  r = image->write_vm_state(UINT64_MAX - 4, std::vector<uint8_t>(10, 1));
  EXPECT_FALSE(r.ok());
  std::vector<uint8_t> out(10);
  EXPECT_FALSE(image->read_vm_state(UINT64_MAX - 4, out).ok());
  ASSERT_TRUE(image->close().ok());
  expect_qemu_check_clean(path);
}

// QEMU's own savevm (a stopped VM on the virt board) with 512-byte clusters:
// its VM state, "QEVM" first, is where vm_state_offset() says, read through
// the snapshot; the image stays writable and clean here.
TEST(Qcow2VmState, ReadsWhatQemuSaved) {
  REQUIRE_QEMU_TOOLS();
  if (std::system("command -v qemu-system-riscv64 >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "qemu-system-riscv64 is not installed";
  }
  TempDir dir;
  const std::string path = dir.file("qemu.qcow2");
  ASSERT_EQ(run("qemu-img create -f qcow2 -o cluster_size=512 '" + path + "' 100K").status, 0);
  RunResult saved =
      run("printf 'savevm s1\\nquit\\n' | timeout 120 qemu-system-riscv64 -M virt "
          "-S -display none -nodefaults -monitor stdio -drive file='" +
          path + "',if=virtio,format=qcow2");
  ASSERT_EQ(saved.status, 0) << saved.output;
  Qcow2OpenOptions view;
  view.snapshot_name = "s1";
  auto image = Qcow2Image::open(path, view);
  ASSERT_TRUE(image.ok()) << image.error().message();
  ASSERT_EQ((*image)->snapshots().size(), 1u);
  const Qcow2Snapshot& s = (*image)->snapshots()[0];
  EXPECT_GT(s.vm_state_size, 32u * 1024);  // past the first L2 table's 32 KiB
  std::vector<uint8_t> head(8);
  ASSERT_TRUE((*image)->read_vm_state(0, head).ok());
  // migration/savevm.c: QEMU_VM_FILE_MAGIC "QEVM", QEMU_VM_FILE_VERSION 3.
  EXPECT_EQ(std::string(head.begin(), head.begin() + 4), "QEVM");
  EXPECT_EQ(qcow2::load_be32(&head[4]), 3u);
  image->reset();

  // QEMU left the active L1 table longer than the disk needs.
  auto rw = open_rw(path);
  ASSERT_TRUE(rw);
  ASSERT_TRUE(rw->write(0, std::vector<uint8_t>(4096, 0x33)).ok());
  ASSERT_TRUE(rw->write_vm_state(0, random_bytes(70000, 3)).ok());
  ASSERT_TRUE(rw->discard_vm_state().ok());
  ASSERT_TRUE(rw->close().ok());
  expect_qemu_check_clean(path);
}

}  // namespace
}  // namespace vessel::block
