// Persistent dirty bitmaps recording writes (qcow2_bitmap_track.cc): the
// bits after writes, zeroes, discards and compressed writes against a model
// of the requests and against what qemu-io records for the same requests;
// the in-use flag while the image is open, after close and after a crash;
// resize; storing the bitmaps while they record.
#include <map>
#include <tuple>

#include "crash_test_util.h"
#include "qcow2_test_util.h"

namespace vessel::block::testing {
namespace {

constexpr uint64_t kDiskSize = 4 << 20;

enum class Kind { kWrite, kZero, kDiscard };
struct Request {
  Kind kind;
  uint64_t offset;
  uint64_t length;
};

// Unaligned and aligned ones, one crossing clusters, zeroes both ways.
const std::vector<Request> kRequests = {
    {Kind::kWrite, 1000, 5000},           {Kind::kWrite, 1 << 20, 200 << 10},
    {Kind::kZero, 2 << 20, 64 << 10},     {Kind::kZero, (3 << 20) + 4096, 512},
    {Kind::kDiscard, 3 << 20, 128 << 10}, {Kind::kWrite, kDiskSize - 512, 512},
};

// Three bitmaps: enabled with 64 KiB and 4 KiB granularity, disabled with 512 B.
void add_bitmaps(const std::string& path) {
  auto image = Qcow2Image::open(path, {Access::kReadWrite, 0});
  ASSERT_TRUE(image.ok()) << image.error().message();
  std::vector<Qcow2BitmapEdit> edits;
  for (auto [name, bits, enabled] :
       {std::tuple{"e64k", 16, true}, std::tuple{"e4k", 12, true}, std::tuple{"off", 9, false}}) {
    Qcow2BitmapEdit e;
    e.entry.name = name;
    e.entry.flags = enabled ? qcow2::kBitmapAuto : 0;
    e.entry.granularity_bits = static_cast<uint8_t>(bits);
    e.keep_table = false;
    e.bits = Qcow2BitmapBits::empty(e.entry.granularity_bits, kDiskSize);
    edits.push_back(std::move(e));
  }
  auto stored = (*image)->store_bitmaps(edits);
  ASSERT_TRUE(stored.ok()) << stored.error().message();
  ASSERT_TRUE((*image)->close().ok());
}

void create_with_bitmaps(const std::string& path) {
  Qcow2CreateOptions options;
  options.size = kDiskSize;
  ASSERT_TRUE(Qcow2Image::create(path, options).ok());
  ASSERT_NO_FATAL_FAILURE(add_bitmaps(path));
}

void apply(Qcow2Image& image, const std::vector<Request>& requests) {
  for (const Request& r : requests) {
    Result<void> done = Ok();
    if (r.kind == Kind::kWrite) {
      done = image.write(r.offset, std::vector<uint8_t>(r.length, 0x5a));
    } else if (r.kind == Kind::kZero) {
      done = image.write_zeroes(r.offset, r.length, ZeroMode::kDeallocate);
    } else {
      done = image.discard(r.offset, r.length);
    }
    ASSERT_TRUE(done.ok()) << done.error().message();
  }
}

// The bits a bitmap must have after `requests`, worked out apart from
// Qcow2BitmapBits: bit k is set when a request touches its bytes.
std::vector<bool> model_bits(const std::vector<Request>& requests, uint8_t granularity_bits,
                             uint64_t disk_size) {
  const uint64_t g = uint64_t{1} << granularity_bits;
  std::vector<bool> bits((disk_size + g - 1) / g, false);
  for (const Request& r : requests) {
    for (uint64_t k = 0; k < bits.size(); ++k) {
      if (k * g < r.offset + r.length && r.offset < (k + 1) * g) bits[k] = true;
    }
  }
  return bits;
}

std::vector<bool> as_bools(const Qcow2BitmapBits& b) {
  std::vector<bool> bits(b.bit_count());
  for (uint64_t k = 0; k < bits.size(); ++k) bits[k] = ((b.bytes[k / 8] >> (k % 8)) & 1) != 0;
  return bits;
}

struct Found {
  Qcow2Bitmap entry;
  std::vector<bool> bits;  // empty for a bitmap in use
};

// The bitmaps as a fresh read-only open finds them on disk.
std::map<std::string, Found> on_disk(const std::string& path) {
  std::map<std::string, Found> found;
  auto image = Qcow2Image::open(path, {Access::kReadOnly, 0});
  EXPECT_TRUE(image.ok()) << image.error().message();
  if (!image.ok()) return found;
  for (size_t i = 0; i < (*image)->bitmaps().size(); ++i) {
    Found f{(*image)->bitmaps()[i], {}};
    if (!f.entry.in_use()) {
      auto bits = (*image)->read_bitmap(i);
      EXPECT_TRUE(bits.ok()) << bits.error().message();
      if (bits.ok()) f.bits = as_bools(*bits);
    }
    found[f.entry.name] = std::move(f);
  }
  return found;
}

std::unique_ptr<Qcow2Image> open_rw(const std::string& path) {
  auto image = Qcow2Image::open(path, {Access::kReadWrite, 0});
  EXPECT_TRUE(image.ok()) << image.error().message();
  return image.ok() ? std::move(image).value() : nullptr;
}

TEST(Qcow2BitmapTrack, EnabledBitmapsRecordWritesZeroesAndDiscards) {
  TempDir dir;
  const std::string path = dir.file("t.qcow2");
  ASSERT_NO_FATAL_FAILURE(create_with_bitmaps(path));
  auto image = open_rw(path);
  ASSERT_NE(image, nullptr);
  ASSERT_NO_FATAL_FAILURE(apply(*image, kRequests));
  std::vector<Request> requests = kRequests;
  // A compressed cluster counts as much as any write.
  std::vector<uint8_t> cluster(65536, 0x33);
  ASSERT_TRUE(image->write_compressed(512 << 10, cluster).ok());
  requests.push_back({Kind::kWrite, 512 << 10, cluster.size()});

  // While open, the recording bitmaps are in use on disk; the disabled one is not.
  ASSERT_TRUE(image->flush().ok());
  auto open_state = on_disk(path);
  EXPECT_TRUE(open_state["e64k"].entry.in_use());
  EXPECT_TRUE(open_state["e4k"].entry.in_use());
  EXPECT_FALSE(open_state["off"].entry.in_use());
  // (bitmaps() shows them as opened: consistent.)
  for (const Qcow2Bitmap& b : image->bitmaps()) EXPECT_FALSE(b.in_use()) << b.name;

  ASSERT_TRUE(image->close().ok());
  auto closed = on_disk(path);
  ASSERT_EQ(closed.size(), 3u);
  for (const auto& [name, f] : closed) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(f.entry.in_use());
    const bool recorded = name != "off";
    EXPECT_EQ(f.entry.enabled(), recorded);
    const auto want = recorded ? model_bits(requests, f.entry.granularity_bits, kDiskSize)
                               : std::vector<bool>(kDiskSize >> 9, false);
    EXPECT_EQ(f.bits, want);
  }
  if (have_qemu_tools()) expect_qemu_check_clean(path);
}

TEST(Qcow2BitmapTrack, SameBitsAsQemuIo) {
  REQUIRE_QEMU_TOOLS();
  TempDir dir;
  const std::string ours = dir.file("ours.qcow2"), theirs = dir.file("theirs.qcow2");
  ASSERT_NO_FATAL_FAILURE(create_with_bitmaps(ours));
  ASSERT_EQ(run("cp " + ours + " " + theirs).status, 0);
  {
    auto image = open_rw(ours);
    ASSERT_NE(image, nullptr);
    ASSERT_NO_FATAL_FAILURE(apply(*image, kRequests));
    ASSERT_TRUE(image->close().ok());
  }
  // qemu-io passes discards on only with -d unmap.
  std::string qio = "qemu-io -d unmap";
  for (const Request& r : kRequests) {
    const std::string range = std::to_string(r.offset) + " " + std::to_string(r.length);
    qio += r.kind == Kind::kWrite  ? " -c 'write -P 0x5a " + range + "'"
           : r.kind == Kind::kZero ? " -c 'write -z " + range + "'"
                                   : " -c 'discard " + range + "'";
  }
  RunResult r = run(qio + " " + theirs);
  ASSERT_EQ(r.status, 0) << r.output;
  auto want = on_disk(theirs);
  auto got = on_disk(ours);
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, f] : want) {
    SCOPED_TRACE(name);
    EXPECT_EQ(got[name].entry.flags, f.entry.flags);
    EXPECT_EQ(got[name].bits, f.bits);
  }
  expect_qemu_check_clean(ours);
}

TEST(Qcow2BitmapTrack, CrashLeavesRecordingBitmapsInUseAndThenInconsistent) {
  TempDir dir;
  const std::string path = dir.file("crash.qcow2");
  ASSERT_NO_FATAL_FAILURE(create_with_bitmaps(path));
  std::vector<uint64_t> reported;
  ASSERT_NO_FATAL_FAILURE(kill_child_after(
      [&](int report_fd) {
        auto image = Qcow2Image::open(path, {Access::kReadWrite, 0});
        if (!image.ok() || !(*image)->write(0, std::vector<uint8_t>(4096, 1)).ok()) _exit(2);
        report_ready(report_fd);
        for (uint64_t i = 0;; i = (i + 1) % 1024) {
          if (!(*image)->write(i * 4096, std::vector<uint8_t>(4096, 2)).ok()) _exit(3);
        }
      },
      std::chrono::milliseconds(20), &reported));
  auto crashed = on_disk(path);
  EXPECT_TRUE(crashed["e64k"].entry.in_use());
  EXPECT_TRUE(crashed["e4k"].entry.in_use());
  EXPECT_FALSE(crashed["off"].entry.in_use());
  if (have_qemu_tools()) {
    RunResult info = run("qemu-img info " + path);
    EXPECT_EQ(info.status, 0) << info.output;
    EXPECT_NE(info.output.find("in-use"), std::string::npos) << info.output;
  }

  // Opened again and written: the inconsistent bitmaps record nothing and
  // stay in use (QEMU keeps them so); a resize refuses them, as QEMU's does.
  const uint64_t table_before = crashed["e4k"].entry.table_offset;
  auto image = open_rw(path);
  ASSERT_NE(image, nullptr);
  ASSERT_TRUE(image->write(1 << 20, std::vector<uint8_t>(4096, 3)).ok());
  auto resized = image->resize(kDiskSize * 2, false);
  ASSERT_FALSE(resized.ok());
  EXPECT_NE(resized.error().message().find("Bitmap 'e64k' is inconsistent and cannot be used"),
            std::string::npos)
      << resized.error().message();
  ASSERT_TRUE(image->close().ok());
  auto after = on_disk(path);
  EXPECT_TRUE(after["e64k"].entry.in_use());
  EXPECT_TRUE(after["e4k"].entry.in_use());
  EXPECT_EQ(after["e4k"].entry.table_offset, table_before);
  EXPECT_FALSE(after["off"].entry.in_use());
  EXPECT_EQ(after["off"].bits, std::vector<bool>(kDiskSize >> 9, false));
}

TEST(Qcow2BitmapTrack, ResizeKeepsTheBitsThatStillCoverTheDisk) {
  TempDir dir;
  const std::string path = dir.file("resize.qcow2");
  ASSERT_NO_FATAL_FAILURE(create_with_bitmaps(path));
  auto image = open_rw(path);
  ASSERT_NE(image, nullptr);
  const std::vector<Request> written = {{Kind::kWrite, 3 << 20, 1 << 20}};
  ASSERT_NO_FATAL_FAILURE(apply(*image, written));
  // Grown (the 512-byte bitmap's table to several clusters), then shrunk to
  // a size inside a 64 KiB bit, which stays set.
  const uint64_t grown = uint64_t{1} << 30, shrunk = (3 << 20) + 12288;
  ASSERT_TRUE(image->resize(grown, false).ok());
  auto after_grow = on_disk(path);
  EXPECT_FALSE(after_grow["e64k"].entry.in_use());
  EXPECT_EQ(after_grow["e4k"].bits, model_bits(written, 12, grown));
  ASSERT_TRUE(image->resize(shrunk, true).ok());
  // Still recording after the resize.
  const std::vector<Request> more = {{Kind::kWrite, 0, 512}};
  ASSERT_NO_FATAL_FAILURE(apply(*image, more));
  ASSERT_TRUE(image->close().ok());
  auto closed = on_disk(path);
  std::vector<Request> all = written;
  all.push_back(more[0]);
  all[0].length = shrunk - all[0].offset;
  EXPECT_EQ(closed["e64k"].bits, model_bits(all, 16, shrunk));
  EXPECT_EQ(closed["e4k"].bits, model_bits(all, 12, shrunk));
  EXPECT_EQ(closed["off"].bits, std::vector<bool>(shrunk >> 9, false));
  if (have_qemu_tools()) expect_qemu_check_clean(path);
}

TEST(Qcow2BitmapTrack, StoringWhileRecordingKeepsTheRecordedBits) {
  TempDir dir;
  const std::string path = dir.file("store.qcow2");
  ASSERT_NO_FATAL_FAILURE(create_with_bitmaps(path));
  auto image = open_rw(path);
  ASSERT_NE(image, nullptr);
  const std::vector<Request> first = {{Kind::kWrite, 0, 4096}};
  ASSERT_NO_FATAL_FAILURE(apply(*image, first));
  // What `vessel img bitmap` stores: every bitmap keeping its table.
  std::vector<Qcow2BitmapEdit> kept;
  for (const Qcow2Bitmap& b : image->bitmaps()) kept.push_back({b, true, {}});
  ASSERT_TRUE(image->store_bitmaps(kept).ok());
  auto stored = on_disk(path);
  EXPECT_FALSE(stored["e4k"].entry.in_use());
  EXPECT_EQ(stored["e4k"].bits, model_bits(first, 12, kDiskSize));
  // The next write marks them again and is recorded on top.
  const std::vector<Request> second = {{Kind::kWrite, 2 << 20, 4096}};
  ASSERT_NO_FATAL_FAILURE(apply(*image, second));
  EXPECT_TRUE(on_disk(path)["e4k"].entry.in_use());
  ASSERT_TRUE(image->close().ok());
  std::vector<Request> both = first;
  both.push_back(second[0]);
  EXPECT_EQ(on_disk(path)["e4k"].bits, model_bits(both, 12, kDiskSize));
  if (have_qemu_tools()) expect_qemu_check_clean(path);
}

}  // namespace
}  // namespace vessel::block::testing
