// Internal snapshots through the image layer: qemu-img's lookups (apply by
// ID before name, delete by name only) and its errors.
#include "storage/snapshot.h"

#include <gtest/gtest.h>

#include "storage_test_util.h"

namespace vessel::storage {
namespace {

using namespace testing;

constexpr uint64_t kSize = 1 << 20;

class SnapshotTest : public ::testing::Test {
 protected:
  // Snapshot ID 1 is named "2" and holds 0x11; ID 2 is named "other" and
  // holds 0x22; the disk then holds 0x33.
  void SetUp() override {
    make_image(path_, block::ImageFormat::kQcow2, kSize);
    write_bytes(path_, 0, std::vector<uint8_t>(512, 0x11));
    ASSERT_TRUE(create_snapshot(path_, "2").ok());
    write_bytes(path_, 0, std::vector<uint8_t>(512, 0x22));
    ASSERT_TRUE(create_snapshot(path_, "other").ok());
    write_bytes(path_, 0, std::vector<uint8_t>(512, 0x33));
  }
  uint8_t first_byte() { return read_bytes(path_, 0, 1)[0]; }

  TempDir dir_;
  std::string path_ = dir_.file("disk.qcow2");
};

TEST_F(SnapshotTest, ListsInCreationOrder) {
  auto list = list_snapshots(path_);
  ASSERT_TRUE(list.ok()) << list.error().message();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "1");
  EXPECT_EQ((*list)[0].name, "2");
  EXPECT_EQ((*list)[1].id, "2");
  EXPECT_EQ((*list)[1].name, "other");
}

TEST_F(SnapshotTest, ApplyLooksUpTheIdBeforeTheName) {
  // "2" is snapshot 1's name, but snapshot 2's ID: the ID wins.
  ASSERT_TRUE(apply_snapshot(path_, "2").ok());
  EXPECT_EQ(first_byte(), 0x22);
  ASSERT_TRUE(apply_snapshot(path_, "1").ok());
  EXPECT_EQ(first_byte(), 0x11);
}

TEST_F(SnapshotTest, ApplyFallsBackToTheName) {
  ASSERT_TRUE(apply_snapshot(path_, "other").ok());
  EXPECT_EQ(first_byte(), 0x22);
}

TEST_F(SnapshotTest, DeleteMatchesNamesOnly) {
  // ID 1 exists, but no snapshot is named "1".
  auto by_id = delete_snapshot(path_, "1");
  ASSERT_FALSE(by_id.ok());
  EXPECT_EQ(by_id.error().message(), path_ + ": Could not delete snapshot '1': snapshot not found");
  ASSERT_TRUE(delete_snapshot(path_, "2").ok());
  auto list = list_snapshots(path_);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "other");
}

TEST_F(SnapshotTest, ApplyOfAnUnknownSnapshotFails) {
  auto applied = apply_snapshot(path_, "missing");
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().message(),
            path_ + ": Could not apply snapshot 'missing': snapshot not found");
  EXPECT_EQ(first_byte(), 0x33);
}

TEST(SnapshotRawTest, RawImagesHaveNone) {
  TempDir dir;
  const std::string path = dir.file("disk.raw");
  make_image(path, block::ImageFormat::kRaw, kSize);
  auto list = list_snapshots(path);
  ASSERT_TRUE(list.ok()) << list.error().message();
  EXPECT_TRUE(list->empty());
  auto created = create_snapshot(path, "s");
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().message(),
            path + ": Could not create snapshot 's': raw images have no snapshots");
}

}  // namespace
}  // namespace vessel::storage
