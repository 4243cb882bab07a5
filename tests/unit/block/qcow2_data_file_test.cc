// Images with an external data file, beyond the qemu-io differential test
// (qcow2_differential_test.cc): what an untrusted image may make us open,
// the data file given instead of the named one, and malformed images that
// must be clear errors (names, flags, L2 entries that do not map a cluster
// to its guest offset, compressed clusters).
#include <gtest/gtest.h>

#include "block/qcow2.h"
#include "qcow2_test_util.h"

namespace vessel::block {
namespace {

using namespace testing;

std::string q(const std::string& path) {
  return "'" + path + "'";
}

// x.qcow2 with its data in x.data (absolute name), cluster 1 written by qemu-io.
std::string make_image(const TempDir& dir, const std::string& options = "") {
  const std::string image = dir.file("x.qcow2");
  RunResult r = run("qemu-img create -q -f qcow2 -o data_file=" + q(dir.file("x.data")) + options +
                    " " + q(image) + " 1M");
  EXPECT_EQ(r.status, 0) << r.output;
  r = run("qemu-io -c 'write -P 0x3c 64k 64k' " + q(image));
  EXPECT_EQ(r.status, 0) << r.output;
  return image;
}

uint64_t first_l2_table(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  uint64_t l1 = qcow2::load_be64(&bytes[qcow2::field::kL1TableOffset]);
  return qcow2::load_be64(&bytes[l1]) & qcow2::kL1OffsetMask;
}

std::string open_error(const std::string& path, Qcow2OpenOptions options = {}) {
  auto image = Qcow2Image::open(path, options);
  return image.ok() ? "" : image.error().message();
}

TEST(Qcow2DataFile, ReadsWhatQemuWrote) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string image = make_image(dir);
  auto opened = Qcow2Image::open(image, {});
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_TRUE((*opened)->info().external_data);
  EXPECT_EQ((*opened)->info().data_file, dir.file("x.data"));
  EXPECT_EQ((*opened)->data_path(), dir.file("x.data"));
  std::vector<uint8_t> all = read_all(**opened);
  EXPECT_EQ(all[65535], 0);
  EXPECT_EQ(all[65536], 0x3c);
  EXPECT_EQ(all[131071], 0x3c);
  EXPECT_EQ(all[131072], 0);
  // The data is in the data file, at the guest offset.
  EXPECT_EQ(read_file(dir.file("x.data"))[65536], 0x3c);
}

TEST(Qcow2DataFile, UntrustedImagesNameNoFile) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string image = make_image(dir);
  Qcow2OpenOptions untrusted;
  untrusted.backing = Qcow2BackingPolicy::kRefuse;
  EXPECT_NE(open_error(image, untrusted).find("not opened for an untrusted image"),
            std::string::npos);
  // A data file given by the caller is used instead of the one named.
  ASSERT_EQ(run("cp " + q(dir.file("x.data")) + " " + q(dir.file("copy.data"))).status, 0);
  untrusted.data_file = dir.file("copy.data");
  auto opened = Qcow2Image::open(image, untrusted);
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_EQ((*opened)->data_path(), dir.file("copy.data"));
  EXPECT_EQ(read_all(**opened)[65536], 0x3c);
  // Only for images that have a data file.
  ASSERT_EQ(run("qemu-img create -q -f qcow2 " + q(dir.file("plain.qcow2")) + " 1M").status, 0);
  EXPECT_NE(open_error(dir.file("plain.qcow2"), untrusted).find("'data-file' can only be set"),
            std::string::npos);
  // The image itself is no data file.
  Qcow2OpenOptions self;
  self.data_file = image;
  EXPECT_NE(open_error(image, self).find("is the image itself"), std::string::npos);
}

TEST(Qcow2DataFile, MalformedImagesAreClearErrors) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string image = make_image(dir);
  const std::vector<uint8_t> original = read_file(image);
  const uint64_t l2 = first_l2_table(image);

  // The data file is missing.
  ASSERT_EQ(run("mv " + q(dir.file("x.data")) + " " + q(dir.file("away.data"))).status, 0);
  EXPECT_NE(open_error(image).find("cannot open its external data file"), std::string::npos);
  ASSERT_EQ(run("mv " + q(dir.file("away.data")) + " " + q(dir.file("x.data"))).status, 0);

  // Raw external data without the external data file bit.
  std::vector<uint8_t> bytes = original;
  bytes[qcow2::field::kIncompatibleFeatures + 7] &= static_cast<uint8_t>(~4);
  bytes[qcow2::field::kAutoclearFeatures + 7] |= 2;
  write_file(image, bytes);
  EXPECT_NE(open_error(image).find("data-file-raw requires a data file"), std::string::npos);

  // The external data file bit without a name (and none given).
  bytes = original;
  for (size_t i = qcow2::kHeaderLengthV3; i + 8 <= 4096; i += 8) {
    if (qcow2::load_be32(&bytes[i]) == qcow2::ext::kExternalDataFile) {
      qcow2::store_be32(&bytes[i], 0x12345678);  // now an unknown extension
    }
  }
  write_file(image, bytes);
  EXPECT_NE(open_error(image).find("does not name it"), std::string::npos);

  // Cluster 1 mapped to another offset of the data file.
  write_file(image, original);
  patch_file(image, l2 + 8, be64((uint64_t{1} << 63) | 0x20000));
  auto opened = Qcow2Image::open(image, {});
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  std::vector<uint8_t> buf(65536);
  auto r = (*opened)->read(65536, buf);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("guest offset"), std::string::npos) << r.error().message();
  opened->reset();

  // A compressed cluster ("neither compressed clusters nor internal
  // snapshots are supported").
  write_file(image, original);
  patch_file(image, l2 + 8, be64((uint64_t{1} << 62) | 0x30000));
  opened = Qcow2Image::open(image, {});
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  r = (*opened)->read(65536, buf);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("compressed"), std::string::npos) << r.error().message();
}

TEST(Qcow2DataFile, NoCompressionNoSnapshots) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  std::string image = make_image(dir);
  auto opened = Qcow2Image::open(image, {.access = Access::kReadWrite});
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  std::vector<uint8_t> cluster(65536, 0);
  auto c = (*opened)->write_compressed(0, cluster);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("external data file"), std::string::npos);
  auto s = (*opened)->create_snapshot("s1");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("external data file"), std::string::npos);
  ASSERT_TRUE((*opened)->close().ok());
  expect_qemu_check_clean(image);
}

TEST(Qcow2DataFile, GuestClusterZeroLivesAtOffsetZero) {
  REQUIRE_QEMU_TOOLS();
  // "The offset may only be 0 with bit 63 set ... when an external data file
  // is used": guest cluster 0 is mapped by an entry whose offset is 0.
  TempDir dir;
  Qcow2CreateOptions create;
  create.size = 1 << 20;
  create.data_file = dir.file("z.data");
  ASSERT_TRUE(Qcow2Image::create(dir.file("z.qcow2"), create).ok());
  auto opened = Qcow2Image::open(dir.file("z.qcow2"), {.access = Access::kReadWrite});
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  std::vector<uint8_t> data(1000, 0x4d);
  ASSERT_TRUE((*opened)->write(100, data).ok());
  auto where = (*opened)->cluster_allocation(0);
  ASSERT_TRUE(where.ok());
  EXPECT_EQ(where->allocation, Qcow2Image::Allocation::kData);
  EXPECT_EQ(where->host_offset, 0u);
  ASSERT_TRUE((*opened)->close().ok());
  expect_qemu_check_clean(dir.file("z.qcow2"));
  RunResult r =
      run("qemu-io -c 'read -P 0x4d 100 1000' -c 'read -P 0 0 100' " + q(dir.file("z.qcow2")));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.find("failed"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(dir.file("z.data"))[100], 0x4d);
}

}  // namespace
}  // namespace vessel::block
