// Untrusted images: every malformed header, table or entry gives one error
// that names the file, never a crash or a huge allocation (the suite also
// runs under AddressSanitizer). Images are made by Qcow2Image::create and
// then damaged, so no external tool is needed.
#include <gtest/gtest.h>

#include <random>

#include "block/qcow2.h"
#include "block/qcow2_compress.h"
#include "qcow2_test_util.h"

namespace vessel::block {
namespace {

using namespace testing;
using namespace qcow2;

constexpr uint64_t kCluster = 4096;
constexpr uint64_t kDiskSize = 1 << 20;

// A 1 MiB, 4 KiB-cluster image with data in its first four clusters.
struct Fixture {
  TempDir dir;
  std::string path = dir.file("bad.qcow2");
  uint64_t l1_offset = 0;
  uint64_t l2_offset = 0;
  uint64_t data_offset = 0;  // host offset of guest cluster 0
  uint64_t reftable_offset = 0;

  explicit Fixture(Qcow2Version version = Qcow2Version::kV3) {
    Qcow2CreateOptions create;
    create.size = kDiskSize;
    create.cluster_size = kCluster;
    create.version = version;
    auto created = Qcow2Image::create(path, create);
    EXPECT_TRUE(created.ok()) << created.error().message();
    auto image = Qcow2Image::open(path, {Access::kReadWrite, 0});
    EXPECT_TRUE(image.ok()) << image.error().message();
    std::vector<uint8_t> data(4 * kCluster, 0x3c);
    EXPECT_TRUE((*image)->write(0, data).ok());
    EXPECT_TRUE((*image)->close().ok());
    std::vector<uint8_t> file = read_file(path);
    l1_offset = load_be64(&file[field::kL1TableOffset]);
    reftable_offset = load_be64(&file[field::kRefcountTableOffset]);
    l2_offset = load_be64(&file[l1_offset]) & kL1OffsetMask;
    data_offset = load_be64(&file[l2_offset]) & kL2OffsetMask;
  }
  void patch(uint64_t offset, const std::vector<uint8_t>& bytes) {
    patch_file(path, offset, bytes);
  }
  // Puts the undamaged image back.
  void restore() {
    if (original.empty()) original = read_file(path);
    write_file(path, original);
  }

 private:
  std::vector<uint8_t> original;
};

// Opening fails with a message that names the file and contains `what`.
void expect_open_error(const std::string& path, const std::string& what,
                       Access access = Access::kReadOnly) {
  auto image = Qcow2Image::open(path, {access, 0});
  ASSERT_FALSE(image.ok()) << "opened although it should not";
  EXPECT_NE(image.error().message().find(path), std::string::npos) << image.error().message();
  EXPECT_NE(image.error().message().find(what), std::string::npos) << image.error().message();
}

// Opening works, reading the whole disk fails with `what`.
void expect_read_error(const std::string& path, const std::string& what) {
  auto image = Qcow2Image::open(path, {});
  ASSERT_TRUE(image.ok()) << image.error().message();
  std::vector<uint8_t> data(kDiskSize);
  auto r = (*image)->read(0, data);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find(path), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find(what), std::string::npos) << r.error().message();
}

TEST(Qcow2Malformed, TheUndamagedImageOpens) {
  Fixture f;
  EXPECT_EQ(read_all(f.path), [] {
    std::vector<uint8_t> v(kDiskSize, 0);
    std::fill_n(v.begin(), 4 * kCluster, 0x3c);
    return v;
  }());
}

TEST(Qcow2Malformed, HeaderFields) {
  struct Case {
    uint64_t offset;
    std::vector<uint8_t> bytes;
    const char* error;
  };
  const std::vector<Case> cases = {
      {field::kMagic, be32(0x12345678), "not a qcow2 image"},
      {field::kVersion, be32(1), "unsupported qcow2 version 1"},
      {field::kVersion, be32(4), "unsupported qcow2 version 4"},
      {field::kClusterBits, be32(8), "cluster size"},
      {field::kClusterBits, be32(22), "cluster size"},
      {field::kClusterBits, be32(0xffffffff), "cluster size"},
      {field::kHeaderLength, be32(96), "header length"},
      {field::kHeaderLength, be32(108), "header length"},
      {field::kHeaderLength, be32(1 << 20), "header length"},
      {field::kRefcountOrder, be32(7), "refcount_order"},
      {field::kIncompatibleFeatures, be64(uint64_t{1} << 9), "bit 9"},
      {field::kIncompatibleFeatures, be64(uint64_t{1} << 63 | 1 << 5), "bit 5, bit 63"},
      {field::kIncompatibleFeatures, be64(kIncompatExternalData), "external data file"},
      {field::kIncompatibleFeatures, be64(kIncompatExtendedL2), "extended L2 entries"},
      {field::kIncompatibleFeatures, be64(kIncompatCompressionType), "compression type"},
      {field::kCompressionType, {1}, "compression type"},
      {field::kCryptMethod, be32(1), "encrypted"},
      {field::kL1Size, be32(0x7fffffff), "L1 table"},
      {field::kL1Size, be32(0), "too small"},
      {field::kSize, be64(uint64_t{1} << 62), "too small"},
      {field::kL1TableOffset, be64(3 * kCluster + 8), "not aligned"},
      {field::kL1TableOffset, be64(uint64_t{1} << 40), "beyond the end of the file"},
      {field::kL1TableOffset, be64(0), "overlaps the header"},
      {field::kL1TableOffset, be64(kCluster), "overlaps the refcount table"},
      {field::kRefcountTableOffset, be64(0), "overlaps the header"},
      {field::kRefcountTableOffset, be64(kCluster + 512), "not aligned"},
      {field::kRefcountTableOffset, be64(uint64_t{1} << 50), "beyond the end of the file"},
      {field::kRefcountTableClusters, be32(0), "does not contain a reference count table"},
      {field::kRefcountTableClusters, be32(0xffffffff), "too large"},
      {field::kNbSnapshots, be32(0xffffffff), "snapshots"},
      {field::kNbSnapshots, be32(3), "snapshot table"},  // at offset 0: the header
      {field::kBackingFileOffset, be64(kCluster - 4), "backing file name"},
      {field::kBackingFileOffset, be64(8), "backing file name"},
  };
  Fixture f;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.error);
    f.restore();
    f.patch(c.offset, c.bytes);
    expect_open_error(f.path, c.error);
  }
}

TEST(Qcow2Malformed, SnapshotTable) {
  Fixture f;
  // A snapshot table in a spare cluster past the end of the file's data,
  // with an entry whose L1 table lies outside the file.
  uint64_t table = 64 * kCluster;
  std::vector<uint8_t> entry(40 + 16, 0);
  store_be64(&entry[0], uint64_t{1} << 40);  // L1 offset
  store_be32(&entry[8], 16);                 // L1 size
  store_be32(&entry[36], 16);                // extra data size
  f.patch(table, entry);
  f.patch(field::kNbSnapshots, be32(1));
  f.patch(field::kSnapshotsOffset, be64(table));
  expect_open_error(f.path, "snapshot 0: L1 table offset");

  store_be64(&entry[0], 5 * kCluster);
  store_be32(&entry[36], 100000);  // extra data far too large
  f.patch(table, entry);
  expect_open_error(f.path, "extra data");

  store_be32(&entry[36], 16);
  store_be16(&entry[12], 0xffff);  // ID running past the end of the file
  f.patch(table, entry);
  expect_open_error(f.path, "runs past the end of the file");

  f.patch(field::kSnapshotsOffset, be64(table + 8));
  expect_open_error(f.path, "snapshot table offset");
}

TEST(Qcow2Malformed, HeaderExtensions) {
  Fixture f;
  // An extension claiming more bytes than the header cluster has.
  std::vector<uint8_t> ext = be32(ext::kBackingFormat);
  std::vector<uint8_t> length = be32(0x7ffffff0);
  ext.insert(ext.end(), length.begin(), length.end());
  f.patch(kHeaderLengthV3, ext);
  expect_open_error(f.path, "runs past the header area");
}

TEST(Qcow2Malformed, BackingFileName) {
  Fixture f;
  std::string name = "bad.qcow2";  // the image itself
  f.patch(512, std::vector<uint8_t>(name.begin(), name.end()));
  f.patch(field::kBackingFileOffset, be64(512));
  f.patch(field::kBackingFileSize, be32(static_cast<uint32_t>(name.size())));
  expect_open_error(f.path, "is the image itself");

  f.patch(field::kBackingFileSize, be32(2000));
  expect_open_error(f.path, "backing file name length");

  f.patch(field::kBackingFileSize, be32(5));
  f.patch(512, {'n', 'o', 'n', 'e', '!'});
  expect_open_error(f.path, "cannot open backing file");
}

TEST(Qcow2Malformed, BackingChainLoopAndDepth) {
  TempDir dir;
  // a -> b -> a
  Qcow2CreateOptions create;
  create.size = 65536;
  create.cluster_size = 4096;
  ASSERT_TRUE(Qcow2Image::create(dir.file("a.qcow2"), create).ok());
  create.backing_file = "a.qcow2";
  create.backing_format = "qcow2";
  ASSERT_TRUE(Qcow2Image::create(dir.file("b.qcow2"), create).ok());
  ASSERT_TRUE(Qcow2Image::create(dir.file("a2.qcow2"),
                                 [&] {
                                   auto o = create;
                                   o.backing_file = "b.qcow2";
                                   return o;
                                 }())
                  .ok());
  ASSERT_EQ(rename(dir.file("a2.qcow2").c_str(), dir.file("a.qcow2").c_str()), 0);
  expect_open_error(dir.file("a.qcow2"), "loop");

  // A chain of 70 images: refused, not followed to the end.
  create.backing_file.clear();
  ASSERT_TRUE(Qcow2Image::create(dir.file("chain0.qcow2"), create).ok());
  for (int i = 1; i < 70; ++i) {
    create.backing_file = "chain" + std::to_string(i - 1) + ".qcow2";
    ASSERT_TRUE(Qcow2Image::create(dir.file("chain" + std::to_string(i) + ".qcow2"), create).ok());
  }
  expect_open_error(dir.file("chain69.qcow2"), "deeper than 64");
  // 60 deep is fine.
  auto ok = Qcow2Image::open(dir.file("chain60.qcow2"), {});
  EXPECT_TRUE(ok.ok()) << ok.error().message();
}

TEST(Qcow2Malformed, TruncatedFile) {
  Fixture f;
  f.restore();
  ASSERT_EQ(truncate(f.path.c_str(), 50), 0);
  expect_open_error(f.path, "too short");
  f.restore();
  ASSERT_EQ(truncate(f.path.c_str(), 2 * kCluster), 0);  // no L1 table left
  expect_open_error(f.path, "L1 table");
}

TEST(Qcow2Malformed, L1Entries) {
  Fixture f;
  f.restore();
  f.patch(f.l1_offset, be64(f.l2_offset | 0x100));
  expect_open_error(f.path, "reserved bits");
  f.restore();
  f.patch(f.l1_offset, be64((f.l2_offset + 512) | kOflagCopied));
  expect_open_error(f.path, "misaligned");
  f.restore();
  f.patch(f.l1_offset, be64((uint64_t{1} << 48) | kOflagCopied));
  expect_open_error(f.path, "past the end of the file");
  f.restore();
  f.patch(f.l1_offset, be64(f.reftable_offset | kOflagCopied));
  expect_open_error(f.path, "metadata");
}

TEST(Qcow2Malformed, L2Entries) {
  struct Case {
    uint64_t entry;
    const char* error;
  };
  Fixture f;
  const Fixture& probe = f;
  const std::vector<Case> cases = {
      {probe.l1_offset | kOflagCopied, "points into metadata"},
      {probe.reftable_offset | kOflagCopied, "points into metadata"},
      {probe.l2_offset | kOflagCopied, "points into metadata"},
      {(uint64_t{1} << 40) | kOflagCopied, "past the end of the file"},
      {(probe.data_offset + 512) | kOflagCopied, "misaligned"},
      {probe.data_offset | 0x10 | kOflagCopied, "reserved bits"},
      {kOflagCopied, "marked copied but has no offset"},
      {kOflagCompressed | kOflagCopied | probe.data_offset, "compressed and marked copied"},
      {kOflagCompressed | (uint64_t{1} << 40), "outside the file"},
      {kOflagCompressed | 100, "outside the file"},
      {kOflagCompressed | probe.data_offset, "compressed cluster"},  // not deflate data
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.error);
    f.restore();
    f.patch(f.l2_offset + 8, be64(c.entry));  // guest cluster 1
    expect_read_error(f.path, c.error);
  }
}

TEST(Qcow2Malformed, CompressedDataReachingIntoMetadata) {
  Fixture f;
  // Move the L2 table right after the data, then point a compressed cluster
  // at the end of the last data cluster with four sectors: two of them lie
  // in the L2 table.
  std::vector<uint8_t> file = read_file(f.path);
  uint64_t moved = round_up(file.size(), kCluster);
  f.patch(moved,
          std::vector<uint8_t>(file.begin() + static_cast<ptrdiff_t>(f.l2_offset),
                               file.begin() + static_cast<ptrdiff_t>(f.l2_offset + kCluster)));
  f.patch(f.l1_offset, be64(moved | kOflagCopied));
  Geometry g{12};
  uint64_t entry = kOflagCompressed | (moved - 1024) | (uint64_t{3} << g.compressed_offset_bits());
  f.patch(moved + 8, be64(entry));
  expect_read_error(f.path, "inside metadata");
}

TEST(Qcow2Malformed, ZeroFlagInVersion2) {
  Fixture f(Qcow2Version::kV2);
  f.patch(f.l2_offset + 8, be64(kOflagZero));
  expect_read_error(f.path, "zero flag in a version 2 image");
}

TEST(Qcow2Malformed, RefcountTableEntries) {
  Fixture f;
  f.restore();
  f.patch(f.reftable_offset + 8, be64(3 * kCluster + 512));
  expect_open_error(f.path, "refcount table entry 1");
  f.restore();
  f.patch(f.reftable_offset, be64(uint64_t{1} << 45));
  expect_open_error(f.path, "refcount table entry 0");
}

TEST(Qcow2Malformed, CorruptBitAllowsReadOnlyOnly) {
  Fixture f;
  f.patch(field::kIncompatibleFeatures, be64(kIncompatCorrupt));
  expect_open_error(f.path, "marked corrupt", Access::kReadWrite);
  auto ro = Qcow2Image::open(f.path, {});
  ASSERT_TRUE(ro.ok()) << ro.error().message();
  EXPECT_TRUE((*ro)->info().corrupt);
  EXPECT_EQ(read_all(**ro)[0], 0x3c);
}

TEST(Qcow2Malformed, CorruptionFoundWhileWritingStopsWrites) {
  Fixture f;
  f.patch(f.l2_offset + 8, be64(f.l1_offset | kOflagCopied));  // guest cluster 1 → L1 table
  {
    auto image = Qcow2Image::open(f.path, {Access::kReadWrite, 0});
    ASSERT_TRUE(image.ok()) << image.error().message();
    std::vector<uint8_t> data(100, 1);
    auto w = (*image)->write(kCluster, data);
    ASSERT_FALSE(w.ok());
    EXPECT_NE(w.error().message().find("points into metadata"), std::string::npos);
    // Nothing else is written either, not even elsewhere.
    EXPECT_FALSE((*image)->write(8 * kCluster, data).ok());
  }
  // The L1 table survived and the header now says corrupt.
  std::vector<uint8_t> file = read_file(f.path);
  EXPECT_EQ(load_be64(&file[f.l1_offset]) & kL1OffsetMask, f.l2_offset);
  EXPECT_NE(load_be64(&file[field::kIncompatibleFeatures]) & kIncompatCorrupt, 0u);
  expect_open_error(f.path, "marked corrupt", Access::kReadWrite);
}

TEST(Qcow2Malformed, CompressedClustersWrittenByHand) {
  // Valid compressed clusters in both formats read back; their bytes cut
  // short give an error.
  Fixture f;
  for (CompressionType type : {CompressionType::kZlib, CompressionType::kZstd}) {
    f.restore();
    if (type == CompressionType::kZstd) {
      f.patch(field::kIncompatibleFeatures, be64(kIncompatCompressionType));
      f.patch(field::kCompressionType, {1});
    }
    std::vector<uint8_t> cluster(kCluster);
    for (size_t i = 0; i < cluster.size(); ++i) cluster[i] = static_cast<uint8_t>(i / 100);
    auto packed = qcow2_compress(type, cluster);
    ASSERT_TRUE(packed.ok());
    ASSERT_FALSE(packed->empty());
    // Stored at an odd offset inside the data cluster of guest cluster 2.
    uint64_t host = f.data_offset + 2 * kCluster + 100;
    f.patch(host, *packed);
    uint64_t end = host + packed->size();
    uint64_t sectors = (end - 1) / 512 - host / 512;  // additional sectors
    Geometry g{12};
    uint64_t entry = kOflagCompressed | host | (sectors << g.compressed_offset_bits());
    f.patch(f.l2_offset + 8, be64(entry));
    std::vector<uint8_t> data = read_all(f.path);
    EXPECT_TRUE(std::equal(cluster.begin(), cluster.end(), data.begin() + kCluster));

    // Claim too few sectors: the stream is cut short.
    f.patch(f.l2_offset + 8, be64(kOflagCompressed | host));
    if (packed->size() > 512 - 100) expect_read_error(f.path, "compressed cluster");
  }
}

TEST(Qcow2Malformed, RandomDamageNeverCrashes) {
  Fixture f;
  std::vector<uint8_t> original = read_file(f.path);
  std::mt19937 rng(42);
  std::vector<uint8_t> data(kDiskSize);
  std::vector<uint8_t> block(3000, 0x77);
  int opened = 0;
  for (int i = 0; i < 150; ++i) {
    std::vector<uint8_t> damaged = original;
    // Hit the metadata clusters (header, refcount table and block, L1, L2).
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int j = 0; j < flips; ++j) {
      uint64_t pos = rng() % std::min<uint64_t>(damaged.size(), f.data_offset);
      if (rng() % 2 == 0) pos = (pos & ~uint64_t{7}) + rng() % 8;  // bias to entry bytes
      damaged[pos] = static_cast<uint8_t>(rng());
    }
    write_file(f.path, damaged);
    auto image = Qcow2Image::open(f.path, {i % 4 == 0 ? Access::kReadWrite : Access::kReadOnly, 0});
    if (!image.ok()) {
      EXPECT_NE(image.error().message().find(f.path), std::string::npos) << image.error().message();
      continue;
    }
    ++opened;
    uint64_t size = std::min<uint64_t>((*image)->size(), kDiskSize);
    (void)(*image)->read(0, std::span<uint8_t>(data).first(size));
    if (!(*image)->read_only() && size > 3 * kCluster) {
      (void)(*image)->write(kCluster + 5, block);
      (void)(*image)->write_zeroes(0, kCluster, ZeroMode::kDeallocate);
      (void)(*image)->flush();
    }
  }
  EXPECT_GT(opened, 0);
}

// Found by fuzzing: a refcount table whose first entry is 0 says the header
// (and every metadata cluster) is free. Allocating must not hand out cluster
// 0: a refcount block placed there reads back as "no block" and allocation
// looped for ever; any metadata cluster reported free is corruption.
TEST(Qcow2Malformed, MetadataWithRefcountZeroIsNeverAllocated) {
  Fixture f;
  f.patch(f.reftable_offset, be64(0));
  std::vector<uint8_t> header_before = read_file(f.path);
  header_before.resize(kCluster);
  auto image = Qcow2Image::open(f.path, {Access::kReadWrite, 0});
  ASSERT_TRUE(image.ok()) << image.error().message();
  std::vector<uint8_t> data(kCluster, 0x77);
  auto written = (*image)->write(10 * kCluster, data);
  ASSERT_FALSE(written.ok());
  EXPECT_NE(written.error().message().find("refcount is 0"), std::string::npos)
      << written.error().message();
  image->reset();
  std::vector<uint8_t> header_after = read_file(f.path);
  header_after.resize(kCluster);
  // Only the corrupt bit may have changed in the header cluster.
  header_after[field::kIncompatibleFeatures + 7] &= static_cast<uint8_t>(~kIncompatCorrupt);
  EXPECT_EQ(header_after, header_before);
}

// Untrusted images (the fuzz target) are opened without following backing
// file names to arbitrary host paths.
TEST(Qcow2Malformed, BackingFilesCanBeRefused) {
  TempDir dir;
  Qcow2CreateOptions base;
  base.size = kDiskSize;
  ASSERT_TRUE(Qcow2Image::create(dir.file("base.qcow2"), base).ok());
  Qcow2CreateOptions top;
  top.backing_file = "base.qcow2";
  top.backing_format = "qcow2";
  ASSERT_TRUE(Qcow2Image::create(dir.file("top.qcow2"), top).ok());
  Qcow2OpenOptions options;
  EXPECT_TRUE(Qcow2Image::open(dir.file("top.qcow2"), options).ok());
  options.backing = Qcow2BackingPolicy::kRefuse;
  auto refused = Qcow2Image::open(dir.file("top.qcow2"), options);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("backing file (\"base.qcow2\")"), std::string::npos)
      << refused.error().message();
  EXPECT_TRUE(Qcow2Image::open(dir.file("base.qcow2"), options).ok());
}

// Found by fuzzing: a snapshot entry with no extra data, ID or name (all
// sizes 0) was read through a reference into an empty buffer.
TEST(Qcow2Malformed, SnapshotEntryWithEmptyFields) {
  Fixture f;
  const uint64_t table = read_file(f.path).size();
  f.patch(table + kCluster - 1, {0});  // a cluster of zeros at the end
  f.patch(field::kSnapshotsOffset, be64(table));
  f.patch(field::kNbSnapshots, be32(1));
  auto image = Qcow2Image::open(f.path, {});
  ASSERT_TRUE(image.ok()) << image.error().message();
  ASSERT_EQ((*image)->snapshots().size(), 1u);
  EXPECT_EQ((*image)->snapshots()[0].id, "");
  EXPECT_EQ((*image)->snapshots()[0].name, "");
}

// Found by fuzzing: in a file shorter than its backing file name, the bounds
// check wrapped around and the name was copied from far past the header.
TEST(Qcow2Malformed, BackingFileNameLongerThanTheFile) {
  Fixture f;
  std::vector<uint8_t> file = read_file(f.path);
  file.resize(200);
  std::fill_n(file.begin() + kHeaderLengthV3, 8, 0);  // end of the header extensions
  write_file(f.path, file);
  f.patch(field::kBackingFileOffset, be64(5000));
  f.patch(field::kBackingFileSize, be32(500));
  auto image = Qcow2Image::open(f.path, {});
  ASSERT_FALSE(image.ok());
  EXPECT_NE(image.error().message().find("lies outside the header cluster"), std::string::npos)
      << image.error().message();
}

}  // namespace
}  // namespace vessel::block
