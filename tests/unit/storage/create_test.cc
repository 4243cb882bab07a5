// Creating images through the image layer: sizes, backing files, qemu-img's
// errors; and the info read back.
#include "storage/create.h"

#include <gtest/gtest.h>

#include "storage/info.h"
#include "storage_test_util.h"

namespace vessel::storage {
namespace {

using namespace testing;

TEST(CreateTest, RoundsTheSizeUpToSectors) {
  TempDir dir;
  CreateRequest request = create_request(dir.file("a.raw"), block::ImageFormat::kRaw);
  request.size = 1234;
  auto plan = plan_create(request);
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  EXPECT_EQ(plan->size, 1536u);
  EXPECT_EQ(plan->formatting_line(), "Formatting '" + dir.file("a.raw") + "', fmt=raw size=1536");
}

TEST(CreateTest, OverlayTakesItsSizeAndFormatFromTheBackingFile) {
  TempDir dir;
  const std::string base = dir.file("base.raw"), top = dir.file("top.qcow2");
  make_image(base, block::ImageFormat::kRaw, 3 << 20);
  write_bytes(base, 4096, std::vector<uint8_t>(512, 0x5a));
  make_image(top, block::ImageFormat::kQcow2, 0, "base.raw");  // relative to the overlay

  const ImageSpec spec = file_spec(top);
  auto chain = describe_images(spec, InfoScope::kBackingChain);
  ASSERT_TRUE(chain.ok()) << chain.error().message();
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[0].format, "qcow2");
  EXPECT_EQ((*chain)[0].virtual_size, 3u << 20);
  EXPECT_EQ((*chain)[0].q.backing_file, "base.raw");
  EXPECT_EQ((*chain)[0].q.backing_format, "raw");  // probed
  EXPECT_EQ((*chain)[0].full_backing, base);
  EXPECT_EQ((*chain)[1].format, "raw");
  EXPECT_EQ(read_bytes(top, 4096, 512), std::vector<uint8_t>(512, 0x5a));

  auto one = describe_images(spec, InfoScope::kImage);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
}

TEST(CreateTest, UncheckedBackingNeedsSizeAndFormat) {
  TempDir dir;
  CreateRequest request = create_request(dir.file("top.qcow2"), block::ImageFormat::kQcow2);
  request.backing_file = "absent.qcow2";
  request.backing_check = BackingCheck::kUnchecked;
  auto plan = plan_create(request);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().message(),
            dir.file("top.qcow2") + ": Backing file specified without backing format");
  request.backing_format = "qcow2";
  request.size = 1 << 20;
  EXPECT_TRUE(plan_create(request).ok());
}

TEST(CreateTest, Errors) {
  TempDir dir;
  const std::string path = dir.file("x");
  CreateRequest raw = create_request(path, block::ImageFormat::kRaw);
  raw.size = 512;
  raw.backing_file = "b";
  auto raw_backing = plan_create(raw);
  ASSERT_FALSE(raw_backing.ok());
  EXPECT_EQ(raw_backing.error().message(),
            path + ": the raw format does not support backing files");

  auto no_size = plan_create(create_request(path, block::ImageFormat::kQcow2));
  ASSERT_FALSE(no_size.ok());
  EXPECT_EQ(no_size.error().message(),
            path + ": image size is required (e.g. 'vessel img create -f qcow2 " + path + " 10G')");

  CreateRequest overlay = create_request(path, block::ImageFormat::kQcow2);
  overlay.backing_file = dir.file("none");
  auto missing = plan_create(overlay);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.error().message().starts_with("could not open backing file: "))
      << missing.error().message();
}

}  // namespace
}  // namespace vessel::storage
