// Power cuts under a qcow2 writer. A seeded guest (guest_workload.h) runs on
// an image whose file is journaled (host_io_journal.h); then the file is
// rebuilt as power cuts in every sync interval would leave it (power_cut.h),
// and each must be
//   - consistent: `qemu-img check` finds leaks at most, and so does
//     Qcow2Image::repair; an image left dirty (lazy refcounts, a snapshot
//     in progress) is first repaired by a read-write open, as the qcow2 spec
//     asks ("Dirty bit ... must scan L1/L2 tables to repair refcounts");
//   - durable: every write a completed flush covered reads back, and no
//     sector holds anything no request wrote there (guest_model.h);
//   - and a snapshot whose creation returned must exist and hold the disk
//     as it was then.
#include <gtest/gtest.h>

#include <functional>
#include <string_view>
#include <unordered_set>

#include "guest_workload.h"
#include "host_io_journal.h"
#include "power_cut.h"
#include "qcow2_test_util.h"

namespace vessel::block::testing {
namespace {

struct Qcow2PowerCutCase {
  const char* name;
  uint32_t cluster_size = 4096;
  Qcow2Version version = Qcow2Version::kV3;
  uint32_t refcount_bits = 16;
  bool lazy_refcounts = false;
  // Bytes of L2 cache (0: all tables); a small cache evicts, and so writes,
  // tables between flushes.
  uint64_t l2_cache_bytes = 0;
  bool compressed = false;
  bool snapshot = false;
  uint64_t disk_size = 4 << 20;
  uint64_t max_run = 0;  // see GuestWorkload
  // Bytes written and flushed from the start of the disk before the journal
  // starts, so that the workload begins with a fuller image file.
  uint64_t prefill = 0;
  int requests = 100;
  uint32_t seed = 1;
  // The workload must have moved the refcount table to a larger one.
  bool grows_refcount_table = false;
};

std::ostream& operator<<(std::ostream& out, const Qcow2PowerCutCase& c) {
  return out << c.name;
}

constexpr std::string_view kSnapshotName = "power-cut";

class Qcow2PowerCut : public ::testing::TestWithParam<Qcow2PowerCutCase> {
 protected:
  // Runs the guest on a new image with its file journaled.
  void record() {
    const Qcow2PowerCutCase& c = GetParam();
    Qcow2CreateOptions create;
    create.size = c.disk_size;
    create.cluster_size = c.cluster_size;
    create.version = c.version;
    create.refcount_bits = c.refcount_bits;
    create.lazy_refcounts = c.lazy_refcounts;
    ASSERT_TRUE(Qcow2Image::create(image_, create).ok());
    ASSERT_NO_FATAL_FAILURE(prefill());
    base_ = read_file(image_);

    ASSERT_TRUE(start_host_io_journal(image_));
    auto opened = Qcow2Image::open(image_, {Access::kReadWrite, c.l2_cache_bytes});
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    Qcow2Image& q = **opened;
    GuestWorkload w;
    w.seed = c.seed;
    w.requests = c.requests;
    w.cluster_size = c.cluster_size;
    w.max_run = c.max_run;
    if (c.compressed) {
      w.write_compressed = [&](uint64_t offset, std::span<const uint8_t> data) {
        return q.write_compressed(offset, data);
      };
    }
    if (c.snapshot) {
      w.midway = [&]() -> Result<void> {
        TRY(q.create_snapshot(kSnapshotName));
        return Ok();
      };
    }
    GuestRun run = run_guest_workload(q, model_, w);
    ASSERT_EQ(run.error, "");
    snapshot_mark_ = run.midway_mark;
    snapshot_done_ = c.snapshot ? run.midway_done : SIZE_MAX;
    // Closing is part of the run: it writes the last refcounts and clears
    // the dirty bit.
    Result<void> closed = q.close();
    ASSERT_TRUE(closed.ok()) << closed.error().message();
    opened->reset();
    record_ = stop_host_io_journal();
    ASSERT_EQ(record_.unmodeled.size(), 0u) << record_.unmodeled.front();
  }

  // Before the journal: what every cut starts from, so its writes are promised.
  void prefill() {
    const uint64_t chunk = 64 << 10;
    if (GetParam().prefill == 0) return;
    auto opened = Qcow2Image::open(image_, {Access::kReadWrite, 0});
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    std::vector<uint8_t> data(chunk);
    for (uint64_t offset = 0; offset < GetParam().prefill; offset += chunk) {
      model_.write(offset, data, 0);
      ASSERT_TRUE((*opened)->write(offset, data).ok());
    }
    ASSERT_TRUE((*opened)->close().ok());
    model_.flush_done(0);
  }

  // Checks the image of one cut; false once something failed. An image seen
  // before (the same bytes from another cut) is only checked for contents.
  bool check(const PowerCut& cut) {
    SCOPED_TRACE(cut.what);
    ++cuts_;
    write_file(scratch_, cut.file);
    bool has_snapshot = false;
    check_contents(cut, &has_snapshot);
    const bool first_time =
        seen_
            .insert(std::hash<std::string_view>()(
                std::string_view(reinterpret_cast<const char*>(cut.file.data()), cut.file.size())))
            .second;
    if (first_time && !HasFailure()) check_consistency(cut);
    if (first_time && has_snapshot && !HasFailure()) {
      write_file(scratch_, cut.file);  // as the cut left it, not as repaired
      check_snapshot();
    }
    return !HasFailure();
  }

  bool dirty(const std::vector<uint8_t>& file) const {
    return GetParam().version == Qcow2Version::kV3 &&
           file.size() >= qcow2::field::kIncompatibleFeatures + 8 &&
           (qcow2::load_be64(&file[qcow2::field::kIncompatibleFeatures]) & qcow2::kIncompatDirty);
  }

  // The guest disk of the image as the cut left it.
  void check_contents(const PowerCut& cut, bool* has_snapshot) {
    auto image = Qcow2Image::open(scratch_, {});
    ASSERT_TRUE(image.ok()) << image.error().message();
    disk_.resize((*image)->size());
    auto read = (*image)->read(0, disk_);
    ASSERT_TRUE(read.ok()) << read.error().message();
    EXPECT_EQ(model_.verify(disk_, cut.position), "");
    // The snapshot table names the one snapshot, or (before its creation
    // returned) possibly nothing; never anything else.
    const auto& snapshots = (*image)->snapshots();
    ASSERT_LE(snapshots.size(), 1u);
    if (!snapshots.empty()) {
      EXPECT_EQ(snapshots[0].name, kSnapshotName);
      EXPECT_EQ(snapshots[0].id, "1");
    }
    EXPECT_TRUE(!snapshots.empty() || cut.position < snapshot_done_)
        << "the snapshot was created before the cut, but is gone";
    *has_snapshot = !snapshots.empty();
  }

  // qemu-img check, then Qcow2Image::repair (which changes the file).
  void check_consistency(const PowerCut& cut) {
    ++unique_;
    const bool left_dirty = dirty(cut.file);
    int status = -1;
    if (have_qemu_tools() && !left_dirty) {
      RunResult check = qemu_check(scratch_);
      status = check.status;
      EXPECT_TRUE(status == 0 || status == 3) << check.output;
      ++qemu_checks_;
    }
    // A read-write open repairs a dirty image; repair() then counts again.
    auto rw = Qcow2Image::open(scratch_, {Access::kReadWrite, 0});
    ASSERT_TRUE(rw.ok()) << rw.error().message();
    auto report = (*rw)->repair(Qcow2Image::RepairMode::kLeaks);
    ASSERT_TRUE(report.ok()) << report.error().message();
    for (const std::string& line : report->messages) {
      EXPECT_NE(line.rfind("ERROR", 0), 0u) << line;
    }
    ASSERT_TRUE((*rw)->close().ok());
    leaky_ += status == 3 || report->leaks_fixed > 0;
    // A dirty image meets qemu-img only now, repaired. (Leaks repaired by
    // Vessel are qcow2_crash_test's business.)
    if (have_qemu_tools() && left_dirty) {
      expect_qemu_check_clean(scratch_);
      ++qemu_checks_;
    }
  }

  // The snapshot in the table holds the disk as it was when it was taken.
  void check_snapshot() {
    auto rw = Qcow2Image::open(scratch_, {Access::kReadWrite, 0});
    ASSERT_TRUE(rw.ok()) << rw.error().message();
    auto index = (*rw)->find_snapshot(kSnapshotName);
    ASSERT_TRUE(index.ok());
    ASSERT_TRUE((*rw)->apply_snapshot(*index).ok());
    EXPECT_EQ(model_.verify_exact(read_all(**rw), snapshot_mark_), "");
    ++snapshots_;
  }

  TempDir dir_;
  const std::string image_ = dir_.file("image.qcow2");
  const std::string scratch_ = dir_.file("cut.qcow2");
  std::vector<uint8_t> base_;
  GuestModel model_{GetParam().disk_size};
  HostIoRecord record_;
  size_t snapshot_mark_ = 0;
  size_t snapshot_done_ = SIZE_MAX;
  std::unordered_set<size_t> seen_;
  std::vector<uint8_t> disk_;  // kept between cuts: allocating it each time costs more than reading
  int cuts_ = 0, unique_ = 0, qemu_checks_ = 0, leaky_ = 0, snapshots_ = 0;
};

TEST_P(Qcow2PowerCut, FlushedWritesSurviveAndTheImageStaysConsistent) {
  if (!have_qemu_tools()) std::fprintf(stderr, "qemu-img missing: Vessel's own check only\n");
  ASSERT_NO_FATAL_FAILURE(record());
  size_t syncs = 0;
  int table_moves = 0;  // header writes of the refcount table's offset and size
  for (const HostOp& op : record_.ops) {
    syncs += op.kind == HostOp::Kind::kSync;
    table_moves +=
        op.kind == HostOp::Kind::kWrite && op.offset == qcow2::field::kRefcountTableOffset;
  }
  PowerCutPlan plan;
  plan.seed = GetParam().seed;
  for_each_power_cut(base_, record_.ops, plan, [&](const PowerCut& cut) { return check(cut); });
  if (GetParam().grows_refcount_table) {
    EXPECT_GT(table_moves, 0) << "the workload never outgrew the refcount table";
  }
  RecordProperty("host_ops", static_cast<int>(record_.ops.size()));
  RecordProperty("syncs", static_cast<int>(syncs));
  RecordProperty("refcount_table_moves", table_moves);
  RecordProperty("cuts", cuts_);
  RecordProperty("distinct_images", unique_);
  RecordProperty("qemu_checks", qemu_checks_);
  RecordProperty("leaky_images", leaky_);
  RecordProperty("snapshots_checked", snapshots_);
  std::fprintf(
      stderr,
      "%zu KiB image, %zu host ops, %zu syncs: %d cuts, %d distinct images (%d leaky), %d qemu-img "
      "checks, %d snapshots checked\n",
      read_file(image_).size() >> 10, record_.ops.size(), syncs, cuts_, unique_, leaky_,
      qemu_checks_, snapshots_);
}

INSTANTIATE_TEST_SUITE_P(
    Images, Qcow2PowerCut,
    ::testing::Values(
        Qcow2PowerCutCase{.name = "v3_64k", .cluster_size = 65536, .compressed = true, .seed = 11},
        // Hundreds of L2 tables and refcount blocks of 64 entries, an image
        // file filled almost to what one cluster of refcount table covers
        // (2 MiB) so that the workload outgrows it, and an L2 cache of two
        // tables that writes them between flushes.
        Qcow2PowerCutCase{.name = "v3_512_tiny_cache",
                          .cluster_size = 512,
                          .refcount_bits = 64,
                          .l2_cache_bytes = 1024,
                          .max_run = 128 << 10,
                          .prefill = 1920 << 10,
                          .requests = 70,
                          .seed = 12,
                          .grows_refcount_table = true},
        Qcow2PowerCutCase{.name = "v2_4k", .version = Qcow2Version::kV2, .seed = 13},
        Qcow2PowerCutCase{.name = "v3_4k_lazy", .lazy_refcounts = true, .seed = 14},
        Qcow2PowerCutCase{.name = "v3_4k_snapshot",
                          .l2_cache_bytes = 8192,
                          .compressed = true,
                          .snapshot = true,
                          .seed = 15}),
    [](const auto& test) { return std::string(test.param.name); });

}  // namespace
}  // namespace vessel::block::testing
