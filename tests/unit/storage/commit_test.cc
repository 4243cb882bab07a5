// Committing an overlay through the image layer: the data reaches the base,
// the top is emptied or kept, progress is reported, the errors are qemu-img's.
#include "storage/commit.h"

#include <gtest/gtest.h>

#include "storage/chain.h"
#include "storage_test_util.h"

namespace vessel::storage {
namespace {

using namespace testing;

constexpr uint64_t kSize = 2 << 20;

struct Overlay {
  TempDir dir;
  std::string base = dir.file("base.qcow2");
  std::string top = dir.file("top.qcow2");
  Overlay() {
    make_image(base, block::ImageFormat::kQcow2, kSize);
    write_bytes(base, 0, std::vector<uint8_t>(4096, 0x01));
    make_image(top, block::ImageFormat::kQcow2, 0, base);
    write_bytes(top, 65536, std::vector<uint8_t>(4096, 0x02));
  }
};

TEST(CommitTest, WritesTheTopIntoTheBaseAndEmptiesIt) {
  Overlay o;
  uint64_t last_done = 0, last_total = 0;
  CommitRequest request;
  request.top = file_spec(o.top);
  auto committed = commit_image(request, [&](uint64_t done, uint64_t total) {
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
  });
  ASSERT_TRUE(committed.ok()) << committed.error().message();
  EXPECT_EQ(last_done, kSize);
  EXPECT_EQ(last_total, kSize);
  EXPECT_EQ(read_bytes(o.base, 65536, 4096), std::vector<uint8_t>(4096, 0x02));
  EXPECT_EQ(read_bytes(o.base, 0, 4096), std::vector<uint8_t>(4096, 0x01));
  // Emptied: it reads through to the base, which now holds the same.
  auto chain = open_chain(o.top, "qcow2");
  ASSERT_TRUE(chain.ok()) << chain.error().message();
  auto extent = extent_at(*chain, 0, 65536, 4096);
  ASSERT_TRUE(extent.ok()) << extent.error().message();
  EXPECT_EQ(extent->depth, 1u);
  EXPECT_EQ(read_bytes(o.top, 65536, 4096), std::vector<uint8_t>(4096, 0x02));
}

TEST(CommitTest, KeepsTheTopWhenAsked) {
  Overlay o;
  CommitRequest request;
  request.top = file_spec(o.top);
  request.base = "base.qcow2";
  request.top_after = CommitTop::kKeep;
  ASSERT_TRUE(commit_image(request).ok());
  EXPECT_EQ(read_bytes(o.base, 65536, 4096), std::vector<uint8_t>(4096, 0x02));
  EXPECT_EQ(read_bytes(o.top, 65536, 4096), std::vector<uint8_t>(4096, 0x02));
}

TEST(CommitTest, Errors) {
  Overlay o;
  CommitRequest request;
  request.top = file_spec(o.top);
  request.base = "other.qcow2";
  auto unknown = commit_image(request);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message(),
            "Did not find 'other.qcow2' in the backing chain of '" + o.top + "'");
  request = CommitRequest();
  request.top = file_spec(o.base);
  auto alone = commit_image(request);
  ASSERT_FALSE(alone.ok());
  EXPECT_EQ(alone.error().message(), o.base + ": Image does not have a backing file");
}

}  // namespace
}  // namespace vessel::storage
