// Editing qcow2 images in place: resize (grow in place, grow moving the L1
// table, shrink), amend (version and lazy refcounts), set_backing and
// make_empty. Each result must read back as expected through Qcow2Image and
// through QEMU, and `qemu-img check` must find it clean (no leaks).
#include "qcow2_test_util.h"

namespace vessel::block::testing {
namespace {

std::unique_ptr<Qcow2Image> open_rw(const std::string& path) {
  auto image = Qcow2Image::open(path, {Access::kReadWrite, 0});
  EXPECT_TRUE(image.ok()) << image.error().message();
  return image.ok() ? std::move(image).value() : nullptr;
}

void create(const std::string& path, uint64_t size, uint32_t cluster_size = 65536,
            bool lazy_refcounts = false, const std::string& backing = "") {
  Qcow2CreateOptions options;
  options.size = size;
  options.cluster_size = cluster_size;
  options.lazy_refcounts = lazy_refcounts;
  options.backing_file = backing;
  if (!backing.empty()) options.backing_format = "qcow2";
  auto r = Qcow2Image::create(path, options);
  ASSERT_TRUE(r.ok()) << r.error().message();
}

// Fills [offset, offset + length) with `byte` and records it in `model`.
void fill(Qcow2Image& image, std::vector<uint8_t>& model, uint64_t offset, uint64_t length,
          uint8_t byte) {
  std::vector<uint8_t> data(length, byte);
  auto r = image.write(offset, data);
  ASSERT_TRUE(r.ok()) << r.error().message();
  std::fill_n(model.begin() + static_cast<ptrdiff_t>(offset), length, byte);
}

void expect_clean_and_equal(const TempDir& dir, const std::string& path,
                            const std::vector<uint8_t>& model) {
  RunResult check = qemu_check(path);
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_EQ(first_difference(read_all(path), model), -1);
  EXPECT_EQ(first_difference(qemu_read_all(path, dir.file("view.raw")), model), -1);
}

TEST(Qcow2Edit, GrowInPlaceAndMovingTheL1Table) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  for (uint32_t cluster_size : {512u, 4096u, 65536u}) {
    SCOPED_TRACE(cluster_size);
    const std::string path = dir.file("grow.qcow2");
    create(path, 1 << 20, cluster_size);
    std::vector<uint8_t> model(1 << 20, 0);
    auto image = open_rw(path);
    ASSERT_NE(image, nullptr);
    fill(*image, model, 4096, 70000, 0x11);
    // With 512-byte clusters the new L1 table (256 KiB, 512 clusters) is
    // longer than the 256 clusters one refcount block counts.
    const uint64_t new_size = cluster_size == 512 ? (uint64_t{1} << 30) : (uint64_t{8} << 30);
    auto r = image->resize(new_size, false);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(image->size(), new_size);
    // The new area reads zeros and takes writes.
    std::vector<uint8_t> tail(4096);
    ASSERT_TRUE(image->read(new_size - 4096, tail).ok());
    EXPECT_EQ(first_difference(tail, std::vector<uint8_t>(4096, 0)), -1);
    std::vector<uint8_t> data(4096, 0x22);
    ASSERT_TRUE(image->write(new_size - 4096, data).ok());
    ASSERT_TRUE(image->close().ok());
    image.reset();
    RunResult check = qemu_check(path);
    EXPECT_EQ(check.status, 0) << check.output;
    auto reopened = Qcow2Image::open(path, {});
    ASSERT_TRUE(reopened.ok()) << reopened.error().message();
    EXPECT_EQ((*reopened)->size(), new_size);
    std::vector<uint8_t> head(model.size());
    ASSERT_TRUE((*reopened)->read(0, head).ok());
    EXPECT_EQ(first_difference(head, model), -1);
    ASSERT_TRUE((*reopened)->read(new_size - 4096, tail).ok());
    EXPECT_EQ(first_difference(tail, data), -1);
  }
}

TEST(Qcow2Edit, ShrinkFreesTheTailAndNeedsPermission) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  // 4 KiB clusters: one L2 table maps 2 MiB, so whole tables go as well.
  for (uint32_t cluster_size : {4096u, 65536u}) {
    SCOPED_TRACE(cluster_size);
    const std::string path = dir.file("shrink.qcow2");
    create(path, 16 << 20, cluster_size);
    std::vector<uint8_t> model(16 << 20, 0);
    auto image = open_rw(path);
    ASSERT_NE(image, nullptr);
    fill(*image, model, 0, 16 << 20, 0x33);
    ASSERT_TRUE(image->flush().ok());
    EXPECT_FALSE(image->resize(1 << 20, false).ok());
    EXPECT_FALSE(image->resize((1 << 20) + 100, true).ok());  // not a multiple of 512
    EXPECT_EQ(image->size(), uint64_t{16} << 20);
    const uint64_t new_size = (3 << 20) + 1536;  // inside a cluster
    auto r = image->resize(new_size, true);
    ASSERT_TRUE(r.ok()) << r.error().message();
    ASSERT_TRUE(image->close().ok());
    image.reset();
    model.resize(new_size);
    expect_clean_and_equal(dir, path, model);
    if (cluster_size == 65536) {
      // The file lost the freed tail (with 4 KiB clusters a refcount block
      // at 16 MiB keeps it long).
      struct stat st;
      ASSERT_EQ(stat(path.c_str(), &st), 0);
      EXPECT_LT(static_cast<uint64_t>(st.st_size), uint64_t{4} << 20);
    }
    // Growing again: clusters past the end are gone; as in QEMU, the rest of
    // the cluster that held the end keeps its bytes.
    image = open_rw(path);
    ASSERT_NE(image, nullptr);
    ASSERT_TRUE(image->resize(8 << 20, false).ok());
    ASSERT_TRUE(image->close().ok());
    image.reset();
    model.resize(qcow2::round_up(new_size, cluster_size), 0x33);
    model.resize(8 << 20, 0);
    expect_clean_and_equal(dir, path, model);
  }
}

TEST(Qcow2Edit, ShrinkKeepsInternalSnapshots) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  const std::string path = dir.file("snap.qcow2");
  ASSERT_EQ(run("qemu-img create -q -f qcow2 " + path + " 4M").status, 0);
  ASSERT_EQ(run("qemu-io -c 'write -P 0x44 0 4M' " + path).status, 0);
  ASSERT_EQ(run("qemu-img snapshot -c s1 " + path).status, 0);
  auto image = open_rw(path);
  ASSERT_NE(image, nullptr);
  std::vector<uint8_t> model(4 << 20, 0x44);
  fill(*image, model, 0, 1 << 20, 0x55);
  ASSERT_TRUE(image->resize(1 << 20, true).ok());
  ASSERT_TRUE(image->resize(2 << 20, false).ok());
  ASSERT_TRUE(image->close().ok());
  image.reset();
  model.resize(1 << 20);
  model.resize(2 << 20, 0);
  expect_clean_and_equal(dir, path, model);
  RunResult snap = run("qemu-img convert -l s1 -O raw " + path + " " + dir.file("s1.raw"));
  ASSERT_EQ(snap.status, 0) << snap.output;
  std::vector<uint8_t> s1 = read_file(dir.file("s1.raw"));
  ASSERT_GE(s1.size(), size_t{2} << 20);
  EXPECT_EQ(first_difference(std::vector<uint8_t>(s1.begin(), s1.begin() + (2 << 20)),
                             std::vector<uint8_t>(2 << 20, 0x44)),
            -1);
}

TEST(Qcow2Edit, AmendDowngradesZeroClustersAndUpgrades) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  const std::string path = dir.file("amend.qcow2");
  create(path, 4 << 20, 65536, true);
  std::vector<uint8_t> model(4 << 20, 0);
  auto image = open_rw(path);
  ASSERT_NE(image, nullptr);
  fill(*image, model, 0, 2 << 20, 0x66);
  ASSERT_TRUE(image->write_zeroes(0, 65536, ZeroMode::kKeepAllocation).ok());
  ASSERT_TRUE(image->write_zeroes(1 << 20, 131072, ZeroMode::kDeallocate).ok());
  std::fill_n(model.begin(), 65536, 0);
  std::fill_n(model.begin() + (1 << 20), 131072, 0);

  Qcow2AmendOptions v2;
  v2.set_version = true;
  v2.version = Qcow2Version::kV2;
  auto r = image->amend(v2);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(image->info().version, 2u);
  EXPECT_FALSE(image->info().lazy_refcounts);
  ASSERT_TRUE(image->close().ok());
  image.reset();
  expect_clean_and_equal(dir, path, model);
  EXPECT_NE(run("qemu-img info " + path).output.find("compat: 0.10"), std::string::npos);

  image = open_rw(path);
  ASSERT_NE(image, nullptr);
  Qcow2AmendOptions lazy_v2;
  lazy_v2.set_lazy_refcounts = true;
  lazy_v2.lazy_refcounts = true;
  EXPECT_FALSE(image->amend(lazy_v2).ok());  // version 2 has no lazy refcounts
  Qcow2AmendOptions v3 = lazy_v2;
  v3.set_version = true;
  v3.version = Qcow2Version::kV3;
  r = image->amend(v3);
  ASSERT_TRUE(r.ok()) << r.error().message();
  fill(*image, model, 3 << 20, 4096, 0x77);  // lazily counted
  ASSERT_TRUE(image->close().ok());
  image.reset();
  expect_clean_and_equal(dir, path, model);
  RunResult info = run("qemu-img info " + path);
  EXPECT_NE(info.output.find("compat: 1.1"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("lazy refcounts: true"), std::string::npos) << info.output;
}

TEST(Qcow2Edit, SetBackingAndMakeEmpty) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  const std::string base = dir.file("base.qcow2"), other = dir.file("other.qcow2"),
                    top = dir.file("top.qcow2");
  create(base, 1 << 20);
  create(other, 1 << 20);
  ASSERT_EQ(run("qemu-io -c 'write -P 0x10 0 1M' " + base).status, 0);
  ASSERT_EQ(run("qemu-io -c 'write -P 0x20 0 1M' " + other).status, 0);
  create(top, 1 << 20, 65536, false, "base.qcow2");
  auto image = open_rw(top);
  ASSERT_NE(image, nullptr);
  std::vector<uint8_t> model(1 << 20, 0x10);
  fill(*image, model, 65536, 65536, 0x30);
  auto r = image->set_backing("other.qcow2", "qcow2");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(image->info().backing_file, "other.qcow2");
  // Reads go to the new backing file at once.
  std::vector<uint8_t> first(512);
  ASSERT_TRUE(image->read(0, first).ok());
  EXPECT_EQ(first[0], 0x20);
  // A name that does not fit in the header cluster is refused cleanly.
  EXPECT_FALSE(image->set_backing(std::string(2000, 'x'), "raw").ok());
  EXPECT_EQ(image->info().backing_file, "other.qcow2");
  r = image->make_empty();
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_TRUE(image->close().ok());
  image.reset();
  RunResult check = qemu_check(top);
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_EQ(first_difference(qemu_read_all(top, dir.file("view.raw")),
                             std::vector<uint8_t>(1 << 20, 0x20)),
            -1);
  EXPECT_EQ(run("qemu-img map --output=json " + top).output.find("\"depth\": 0"),
            std::string::npos);
}

}  // namespace
}  // namespace vessel::block::testing
