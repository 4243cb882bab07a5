// The extent size hint of new image files: Qcow2Image::create sets it on
// the image and its data file (QEMU's 1 MiB unless told otherwise), refuses
// a hint wider than the 32-bit field, and where the file system takes no
// hint (tmpfs) says why through `warn` and makes the image all the same.
#include "block/extent_size_hint.h"

#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/vfs.h>

#include <cstdlib>
#include <filesystem>

#include "block/qcow2.h"
#include "qcow2_test_util.h"

namespace vessel::block {
namespace {

using namespace testing;

TEST(ExtentSizeHint, TooLargeIsRefused) {
  TempDir dir;
  Qcow2CreateOptions create;
  create.size = 1 << 20;
  create.extent_size_hint = kMaxExtentSizeHint + 1;
  auto made = Qcow2Image::create(dir.file("a.qcow2"), create);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message().find("Extent size hint is too large"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.file("a.qcow2")));
  create.extent_size_hint = kMaxExtentSizeHint;
  EXPECT_TRUE(Qcow2Image::create(dir.file("a.qcow2"), create).ok());
}

TEST(ExtentSizeHint, RefusedByTheFileSystemIsAWarning) {
  struct statfs fs {};
  if (statfs("/dev/shm", &fs) != 0 || fs.f_type != TMPFS_MAGIC) {
    GTEST_SKIP() << "no tmpfs at /dev/shm";
  }
  char name[] = "/dev/shm/vessel-hint-XXXXXX";
  ASSERT_NE(mkdtemp(name), nullptr);
  const std::string dir = name;
  std::vector<std::string> warnings;
  Qcow2CreateOptions create;
  create.size = 1 << 20;
  create.data_file = dir + "/a.data";
  create.warn = [&](const std::string& w) { warnings.push_back(w); };
  ASSERT_TRUE(Qcow2Image::create(dir + "/a.qcow2", create).ok());
  // The image file and the data file.
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_EQ(warnings[0].rfind("Failed to set extent size hint: ", 0), 0u) << warnings[0];
  auto image = Qcow2Image::open(dir + "/a.qcow2", {});
  EXPECT_TRUE(image.ok()) << image.error().message();
  // A hint of 0 asks for nothing.
  warnings.clear();
  create.extent_size_hint = 0;
  ASSERT_TRUE(Qcow2Image::create(dir + "/b.qcow2", create).ok());
  EXPECT_TRUE(warnings.empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vessel::block
