// The convert copy engine: data, zeros and compressed clusters reach the
// target, progress goes from 0 to the size.
#include "storage/convert.h"

#include <gtest/gtest.h>

#include "storage_test_util.h"

namespace vessel::storage {
namespace {

using namespace testing;

constexpr uint64_t kSize = 3 << 20;

void copy(const std::string& from, const std::string& to, Compression compress,
          std::vector<uint64_t>& progress) {
  auto src = open_image(from, "", false);
  ASSERT_TRUE(src.ok()) << src.error().message();
  auto dst = open_image(to, "", true);
  ASSERT_TRUE(dst.ok()) << dst.error().message();
  ConvertCopy request{.source = *src->backend, .target = *dst, .size = kSize, .compress = compress};
  auto copied = convert_copy(request, [&](uint64_t done, uint64_t total) {
    EXPECT_EQ(total, kSize);
    progress.push_back(done);
  });
  ASSERT_TRUE(copied.ok()) << copied.error().message();
  ASSERT_TRUE(dst->qcow2 != nullptr ? dst->qcow2->close().ok() : dst->backend->flush().ok());
}

TEST(ConvertTest, CopiesDataAndReportsProgress) {
  for (Compression compress : {Compression::kNone, Compression::kCompressed}) {
    TempDir dir;
    const std::string from = dir.file("from.raw"), to = dir.file("to.qcow2");
    make_image(from, block::ImageFormat::kRaw, kSize);
    std::vector<uint8_t> data(8192);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + 1);
    write_bytes(from, (2 << 20) + 4096, data);
    make_image(to, block::ImageFormat::kQcow2, kSize);
    std::vector<uint64_t> progress;
    copy(from, to, compress, progress);
    EXPECT_EQ(read_bytes(to, (2 << 20) + 4096, data.size()), data);
    EXPECT_EQ(read_bytes(to, 0, 4096), std::vector<uint8_t>(4096, 0));
    ASSERT_FALSE(progress.empty());
    EXPECT_EQ(progress.front(), 0u);
    EXPECT_EQ(progress.back(), kSize);
  }
}

}  // namespace
}  // namespace vessel::storage
