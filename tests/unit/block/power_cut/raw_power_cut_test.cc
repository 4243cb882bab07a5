// Power cuts under a raw image writer: the file is the disk, so what a
// completed flush covered must read back and nothing else may appear.
#include <gtest/gtest.h>

#include "block/raw_file.h"
#include "guest_workload.h"
#include "host_io_journal.h"
#include "power_cut.h"
#include "qcow2_test_util.h"

namespace vessel::block::testing {
namespace {

constexpr uint64_t kDiskSize = 1 << 20;

TEST(RawPowerCut, FlushedWritesSurvive) {
  TempDir dir;
  const std::string image = dir.file("disk.raw");
  write_file(image, std::vector<uint8_t>(kDiskSize, 0));
  ASSERT_TRUE(start_host_io_journal(image));
  GuestModel model(kDiskSize);
  {
    auto raw = RawFile::open(image, false);
    ASSERT_TRUE(raw.ok()) << raw.error().message();
    GuestWorkload w;
    w.seed = 21;
    w.requests = 200;
    w.cluster_size = 4096;
    // A discard keeps the data where the file system cannot punch holes:
    // its result is not defined.
    w.discards = false;
    GuestRun run = run_guest_workload(**raw, model, w);
    ASSERT_EQ(run.error, "");
  }
  HostIoRecord record = stop_host_io_journal();
  ASSERT_EQ(record.unmodeled.size(), 0u) << record.unmodeled.front();

  int cuts = 0;
  for_each_power_cut(std::vector<uint8_t>(kDiskSize, 0), record.ops, PowerCutPlan{},
                     [&](const PowerCut& cut) {
                       ++cuts;
                       EXPECT_EQ(cut.file.size(), kDiskSize) << cut.what;
                       EXPECT_EQ(model.verify(cut.file, cut.position), "") << cut.what;
                       return !::testing::Test::HasFailure();
                     });
  RecordProperty("cuts", cuts);
}

}  // namespace
}  // namespace vessel::block::testing
