// Power cuts while Qcow2Image::store_bitmaps() replaces an image's bitmap
// directory (one bitmap removed, one kept, one added with bits set): every
// cut must leave either the old bitmaps or the new ones, each with its bits,
// and an image that qemu-img check finds clean or leaking only.
#include <gtest/gtest.h>

#include "host_io_journal.h"
#include "power_cut.h"
#include "qcow2_test_util.h"

namespace vessel::block::testing {
namespace {

// Name and bits of every bitmap of the image at `path`, read by Vessel.
std::vector<std::pair<std::string, std::vector<uint8_t>>> bitmaps_of(const std::string& path) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> out;
  auto image = Qcow2Image::open(path, {});
  EXPECT_TRUE(image.ok()) << image.error().message();
  if (!image.ok()) return out;
  for (size_t i = 0; i < (*image)->bitmaps().size(); ++i) {
    auto bits = (*image)->read_bitmap(i);
    EXPECT_TRUE(bits.ok()) << bits.error().message();
    if (bits.ok()) out.emplace_back((*image)->bitmaps()[i].name, bits->bytes);
  }
  return out;
}

TEST(Qcow2BitmapPowerCut, OldOrNewBitmapsAndNoDamage) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  const std::string image = dir.file("b.qcow2");
  const std::string scratch = dir.file("cut.qcow2");
  ASSERT_EQ(run("qemu-img create -q -f qcow2 -o cluster_size=4096 '" + image + "' 4M").status, 0);
  for (const char* name : {"gone", "kept"}) {
    ASSERT_EQ(run("qemu-img bitmap --add -g 512 '" + image + "' " + name).status, 0);
  }
  ASSERT_EQ(run("qemu-io -c 'write 0 64k' -c 'write 3M 4k' '" + image + "'").status, 0);
  const auto before = bitmaps_of(image);
  ASSERT_EQ(before.size(), 2u);
  const std::vector<uint8_t> base = read_file(image);

  ASSERT_TRUE(start_host_io_journal(image));
  {
    auto opened = Qcow2Image::open(image, {Access::kReadWrite, 0});
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    Qcow2Image& q = **opened;
    Qcow2BitmapEdit kept{q.bitmaps()[1], true, {}};
    Qcow2BitmapEdit added;
    added.entry.name = "added";
    added.entry.flags = qcow2::kBitmapAuto;
    added.entry.granularity_bits = 9;
    added.keep_table = false;
    added.bits = Qcow2BitmapBits::empty(9, q.size());
    for (size_t i = 100; i < added.bits.bytes.size(); i += 7) added.bits.bytes[i] = 0x5a;
    auto stored = q.store_bitmaps({kept, added});
    ASSERT_TRUE(stored.ok()) << stored.error().message();
    ASSERT_TRUE(q.close().ok());
  }
  const HostIoRecord record = stop_host_io_journal();
  ASSERT_EQ(record.unmodeled.size(), 0u) << record.unmodeled.front();
  const auto after = bitmaps_of(image);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0], before[1]);

  int cuts = 0, old_seen = 0, new_seen = 0;
  for_each_power_cut(base, record.ops, PowerCutPlan{}, [&](const PowerCut& cut) {
    SCOPED_TRACE(cut.what);
    ++cuts;
    write_file(scratch, cut.file);
    RunResult check = qemu_check(scratch);
    EXPECT_TRUE(check.status == 0 || check.status == 3) << check.output;
    const auto found = bitmaps_of(scratch);
    old_seen += found == before;
    new_seen += found == after;
    EXPECT_TRUE(found == before || found == after) << "neither the old nor the new bitmaps";
    return !::testing::Test::HasFailure();
  });
  EXPECT_GT(old_seen, 0);
  EXPECT_GT(new_seen, 0);
  std::fprintf(stderr, "%zu host ops: %d cuts (%d old, %d new)\n", record.ops.size(), cuts,
               old_seen, new_seen);
}

}  // namespace
}  // namespace vessel::block::testing
