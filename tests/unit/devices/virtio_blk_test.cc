#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "block/raw_file.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/virtio_mmio.h"
#include "virtio_test_driver.h"

namespace vessel::devices::virtio {
namespace {

using testing::Driver;
using testing::kData;
using testing::kDescTable;
using testing::kIndirectTable;
using testing::kRamBase;
using testing::kRamSize;
namespace reg = testing::reg;

constexpr uint64_t kSectors = 64;
constexpr uint32_t kIn = 0, kOut = 1, kFlush = 4, kGetId = 8, kDiscard = 11, kWriteZeroes = 13;
constexpr uint8_t kOk = 0, kIoErr = 1, kUnsupp = 2;
constexpr uint64_t kFeatureSegMax = 1ull << 2, kFeatureRo = 1ull << 5, kFeatureBlkSize = 1ull << 6,
                   kFeatureFlush = 1ull << 9, kFeatureDiscard = 1ull << 13,
                   kFeatureWriteZeroes = 1ull << 14;
constexpr uint64_t kDriverFeatures =
    feature::kVersion1 | feature::kIndirectDesc | kFeatureSegMax | kFeatureBlkSize | kFeatureFlush;

// Guest-memory layout of the test requests.
constexpr uint64_t kHeader = kData;
constexpr uint64_t kStatus = kData + 0x100;
constexpr uint64_t kBuffer = kData + 0x1000;

uint8_t pattern(uint64_t byte) {
  return static_cast<uint8_t>(byte * 13 + (byte >> 9));
}

struct Header {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};

// One range of a DISCARD or WRITE_ZEROES request.
struct Range {
  uint64_t sector;
  uint32_t num_sectors;
  uint32_t flags;
};
constexpr uint32_t kUnmap = 1;

class VirtioBlkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ram_.map_ram(kRamBase, kRamSize).ok());
    char name[] = "/tmp/vessel-blk-XXXXXX";
    int fd = mkstemp(name);
    ASSERT_GE(fd, 0);
    path_ = name;
    std::vector<uint8_t> data(kSectors * 512);
    for (size_t i = 0; i < data.size(); ++i) data[i] = pattern(i);
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ::close(fd);
  }
  void TearDown() override { unlink(path_.c_str()); }

  void make_device(bool read_only = false) {
    auto backend = block::RawFile::open(path_, read_only);
    ASSERT_TRUE(backend.ok()) << backend.error().message();
    dev_ = std::make_unique<VirtioMmio>(
        ram_, [this](bool level) { irq_ = level; },
        std::make_unique<VirtioBlk>(std::move(*backend), read_only, "vessel-disk-0"));
    drv_ = std::make_unique<Driver>(ram_, *dev_);
  }
  void bring_up(bool read_only = false) {
    make_device(read_only);
    drv_->init(kDriverFeatures | (read_only ? kFeatureRo : 0), 128);
  }

  // Header, optional data and status in three descriptors starting at `head`
  // (or through an indirect table); returns the status byte.
  uint8_t request(uint32_t type, uint64_t sector, uint32_t data_len, bool indirect = false) {
    drv_->poke(kHeader, Header{type, 0, sector});
    drv_->poke<uint8_t>(kStatus, 0xff);
    bool device_writes_data = type != kOut && type != kDiscard && type != kWriteZeroes;
    uint64_t table = indirect ? kIndirectTable : kDescTable;
    uint16_t n = 0;
    drv_->set_desc(table, n, kHeader, 16, kDescFlagNext, static_cast<uint16_t>(n + 1));
    ++n;
    if (data_len) {
      drv_->set_desc(table, n, kBuffer, data_len,
                     kDescFlagNext | (device_writes_data ? kDescFlagWrite : 0),
                     static_cast<uint16_t>(n + 1));
      ++n;
    }
    drv_->set_desc(table, n, kStatus, 1, kDescFlagWrite);
    ++n;
    if (indirect) drv_->set_desc(0, kIndirectTable, 16u * n, kDescFlagIndirect);
    uint16_t before = drv_->used_idx();
    drv_->make_available(0);
    drv_->kick();
    EXPECT_EQ(drv_->used_idx(), static_cast<uint16_t>(before + 1));
    auto used = drv_->used(before);
    EXPECT_EQ(used.id, 0u);
    EXPECT_EQ(used.len, device_writes_data ? data_len + 1 : 1);
    return drv_->peek<uint8_t>(kStatus);
  }

  std::vector<uint8_t> file_bytes(uint64_t offset, size_t len) {
    std::vector<uint8_t> out(len);
    int fd = ::open(path_.c_str(), O_RDONLY);
    EXPECT_EQ(pread(fd, out.data(), len, static_cast<off_t>(offset)), static_cast<ssize_t>(len));
    ::close(fd);
    return out;
  }

  memory::AddressSpace ram_;
  std::string path_;
  bool irq_ = false;
  std::unique_ptr<VirtioMmio> dev_;
  std::unique_ptr<Driver> drv_;
};

TEST_F(VirtioBlkTest, IdentifiesItselfAndItsDisk) {
  make_device();
  EXPECT_EQ(drv_->rd(reg::kMagic), 0x74726976u);
  EXPECT_EQ(drv_->rd(reg::kVersion), 2u);
  EXPECT_EQ(drv_->rd(reg::kDeviceId), 2u);
  EXPECT_NE(drv_->rd(reg::kVendorId), 0u);
  EXPECT_EQ(drv_->rd(reg::kQueueNumMax), 256u);
  drv_->wr(reg::kQueueSel, 1);
  EXPECT_EQ(drv_->rd(reg::kQueueNumMax), 0u);  // only one queue

  uint64_t features = drv_->device_features();
  EXPECT_TRUE(features & feature::kVersion1);
  EXPECT_TRUE(features & feature::kIndirectDesc);
  EXPECT_FALSE(features & feature::kEventIdx);
  EXPECT_TRUE(features & kFeatureFlush);
  EXPECT_TRUE(features & kFeatureSegMax);
  EXPECT_TRUE(features & kFeatureBlkSize);
  EXPECT_FALSE(features & kFeatureRo);
  EXPECT_TRUE(features & kFeatureDiscard);
  EXPECT_TRUE(features & kFeatureWriteZeroes);

  uint64_t capacity = drv_->rd(reg::kConfig) | (uint64_t{drv_->rd(reg::kConfig + 4)} << 32);
  EXPECT_EQ(capacity, kSectors);
  EXPECT_EQ(drv_->rd(reg::kConfig + 12), 254u);       // seg_max
  EXPECT_EQ(drv_->rd(reg::kConfig + 20), 512u);       // blk_size
  EXPECT_GT(drv_->rd(reg::kConfig + 36), 0u);         // max_discard_sectors
  EXPECT_GT(drv_->rd(reg::kConfig + 40), 0u);         // max_discard_seg
  EXPECT_EQ(drv_->rd(reg::kConfig + 44), 1u);         // discard_sector_alignment
  EXPECT_GT(drv_->rd(reg::kConfig + 48), 0u);         // max_write_zeroes_sectors
  EXPECT_GT(drv_->rd(reg::kConfig + 52), 0u);         // max_write_zeroes_seg
  EXPECT_EQ(drv_->rd(reg::kConfig + 56) & 0xff, 1u);  // write_zeroes_may_unmap
  uint64_t byte = 0;
  ASSERT_TRUE(dev_->mmio_read(reg::kConfig + 0, 1, byte));
  EXPECT_EQ(byte, kSectors);
  ASSERT_TRUE(dev_->mmio_read(reg::kConfig + 0x40, 4, byte));
  EXPECT_EQ(byte, 0u);  // beyond the config space
}

TEST_F(VirtioBlkTest, FeatureNegotiationRequiresVersion1AndASubset) {
  make_device();
  EXPECT_FALSE(drv_->negotiate(kFeatureFlush));  // legacy driver
  EXPECT_FALSE(drv_->negotiate(kDriverFeatures | feature::kEventIdx));
  EXPECT_FALSE(drv_->negotiate(kDriverFeatures | kFeatureRo));
  EXPECT_TRUE(drv_->negotiate(feature::kVersion1));
  // Features are frozen once FEATURES_OK is set.
  drv_->wr(reg::kDriverFeaturesSel, 0);
  drv_->wr(reg::kDriverFeatures, 0xffffffff);
  drv_->setup_queue(16);
  drv_->driver_ok();
  EXPECT_EQ(drv_->rd(reg::kStatus),
            status::kAcknowledge | status::kDriver | status::kFeaturesOk | status::kDriverOk);
}

TEST_F(VirtioBlkTest, ReadsSectorsAndInterrupts) {
  bring_up();
  EXPECT_FALSE(irq_);
  EXPECT_EQ(request(kIn, 3, 1024), kOk);
  auto data = drv_->peek_bytes(kBuffer, 1024);
  for (size_t i = 0; i < data.size(); ++i) ASSERT_EQ(data[i], pattern(3 * 512 + i)) << i;
  EXPECT_TRUE(irq_);
  EXPECT_EQ(drv_->rd(reg::kInterruptStatus), 1u);
  drv_->wr(reg::kInterruptAck, 1);
  EXPECT_FALSE(irq_);
  EXPECT_EQ(drv_->rd(reg::kInterruptStatus), 0u);
}

TEST_F(VirtioBlkTest, WritesAndFlushesToTheFile) {
  bring_up();
  std::vector<uint8_t> data(1536);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(0xa5 ^ i);
  drv_->poke_bytes(kBuffer, data);
  EXPECT_EQ(request(kOut, 10, 1536), kOk);
  EXPECT_EQ(request(kFlush, 0, 0), kOk);
  EXPECT_EQ(file_bytes(10 * 512, 1536), data);
  EXPECT_EQ(file_bytes(9 * 512, 512)[0], pattern(9 * 512));  // neighbours untouched
  // And the guest reads back what it wrote.
  drv_->poke_bytes(kBuffer, std::vector<uint8_t>(1536, 0));
  EXPECT_EQ(request(kIn, 10, 1536), kOk);
  EXPECT_EQ(drv_->peek_bytes(kBuffer, 1536), data);
}

TEST_F(VirtioBlkTest, GetIdReturnsSerial) {
  bring_up();
  drv_->poke_bytes(kBuffer, std::vector<uint8_t>(20, 0xee));
  EXPECT_EQ(request(kGetId, 0, 20), kOk);
  auto id = drv_->peek_bytes(kBuffer, 20);
  std::string expected = "vessel-disk-0";
  expected.resize(20, '\0');
  EXPECT_EQ(std::string(id.begin(), id.end()), expected);
}

TEST_F(VirtioBlkTest, OutOfRangeAndMalformedRequestsFailCleanly) {
  bring_up();
  EXPECT_EQ(request(kIn, kSectors, 512), kIoErr);
  EXPECT_EQ(request(kIn, kSectors - 1, 1024), kIoErr);
  EXPECT_EQ(request(kOut, UINT64_MAX, 512), kIoErr);
  EXPECT_EQ(request(kIn, UINT64_MAX / 512 + 1, 512), kIoErr);  // sector * 512 overflows
  EXPECT_EQ(request(kIn, 0, 100), kIoErr);                     // not whole sectors
  EXPECT_EQ(request(kIn, kSectors - 1, 512), kOk);
  EXPECT_EQ(request(kIn, kSectors, 0), kOk);  // empty read at the end
  EXPECT_EQ(request(99, 0, 512), kUnsupp);
  EXPECT_EQ(request(12, 0, 0), kUnsupp);  // GET_LIFETIME: not offered
  EXPECT_FALSE(drv_->needs_reset());
}

TEST_F(VirtioBlkTest, RequestWithoutHeaderOrStatusNeedsReset) {
  bring_up();
  // No writable status byte: the device cannot answer.
  drv_->poke(kHeader, Header{kIn, 0, 0});
  drv_->set_desc(0, kHeader, 16, 0);
  drv_->make_available(0);
  drv_->kick();
  EXPECT_TRUE(drv_->needs_reset());
  EXPECT_TRUE(irq_);
  EXPECT_EQ(drv_->used_idx(), 0);

  // A header shorter than 16 bytes.
  drv_->wr(reg::kStatus, 0);
  drv_->init(kDriverFeatures, 16);
  drv_->set_desc(0, kHeader, 8, kDescFlagNext, 1);
  drv_->set_desc(1, kStatus, 1, kDescFlagWrite);
  drv_->make_available(0);
  drv_->kick();
  EXPECT_TRUE(drv_->needs_reset());

  drv_->wr(reg::kStatus, 0);
  drv_->init(kDriverFeatures, 16);
  EXPECT_EQ(request(kIn, 0, 512), kOk);
}

TEST_F(VirtioBlkTest, ReadOnlyDiskRefusesWrites) {
  bring_up(/*read_only=*/true);
  EXPECT_TRUE(drv_->device_features() & kFeatureRo);
  EXPECT_FALSE(drv_->device_features() & (kFeatureDiscard | kFeatureWriteZeroes));
  drv_->poke(kBuffer, Range{0, 1, 0});
  EXPECT_EQ(request(kDiscard, 0, 16), kIoErr);
  EXPECT_EQ(request(kWriteZeroes, 0, 16), kIoErr);
  drv_->poke_bytes(kBuffer, std::vector<uint8_t>(512, 0x11));
  EXPECT_EQ(request(kOut, 0, 512), kIoErr);
  EXPECT_EQ(file_bytes(0, 512)[1], pattern(1));
  EXPECT_EQ(request(kIn, 0, 512), kOk);
  EXPECT_EQ(request(kFlush, 0, 0), kOk);
}

TEST_F(VirtioBlkTest, WriteZeroesAndDiscardReadBackZeros) {
  bring_up();
  const std::vector<uint8_t> zeros(4 * 512, 0);
  drv_->poke(kBuffer, Range{2, 4, 0});
  drv_->poke(kBuffer + 16, Range{40, 4, kUnmap});
  EXPECT_EQ(request(kWriteZeroes, 0, 32), kOk);
  drv_->poke(kBuffer, Range{16, 4, 0});
  EXPECT_EQ(request(kDiscard, 0, 16), kOk);
  for (uint64_t sector : {2, 40, 16}) {
    EXPECT_EQ(file_bytes(sector * 512, zeros.size()), zeros) << sector;
    EXPECT_EQ(request(kIn, sector, 4 * 512), kOk);
    EXPECT_EQ(drv_->peek_bytes(kBuffer, zeros.size()), zeros) << sector;
  }
  // The sectors around each range keep their data.
  for (uint64_t sector : {1, 6, 15, 20, 39, 44}) {
    EXPECT_EQ(file_bytes(sector * 512, 1)[0], pattern(sector * 512)) << sector;
  }
}

TEST_F(VirtioBlkTest, DiscardGivesSpaceBackToTheHost) {
  bring_up();
  struct stat before;
  ASSERT_EQ(stat(path_.c_str(), &before), 0);
  drv_->poke(kBuffer, Range{8, 48, 0});  // 24 KiB, whole 4 KiB host blocks
  EXPECT_EQ(request(kDiscard, 0, 16), kOk);
  struct stat after;
  ASSERT_EQ(stat(path_.c_str(), &after), 0);
  EXPECT_EQ(after.st_size, before.st_size);
  EXPECT_LT(after.st_blocks, before.st_blocks) << "the discarded range is still allocated";
}

TEST_F(VirtioBlkTest, MalformedRangeRequestsFailCleanly) {
  bring_up();
  drv_->poke(kBuffer, Range{0, 1, kUnmap});
  EXPECT_EQ(request(kDiscard, 0, 16), kUnsupp);  // §5.2.6.2: unmap is for WRITE_ZEROES only
  drv_->poke(kBuffer, Range{0, 1, 2});
  EXPECT_EQ(request(kWriteZeroes, 0, 16), kUnsupp);  // unknown flag
  drv_->poke(kBuffer, Range{kSectors - 1, 2, 0});
  EXPECT_EQ(request(kWriteZeroes, 0, 16), kIoErr);  // past the end
  drv_->poke(kBuffer, Range{UINT64_MAX / 512 + 1, 1, 0});
  EXPECT_EQ(request(kDiscard, 0, 16), kIoErr);     // sector * 512 overflows
  EXPECT_EQ(request(kDiscard, 0, 12), kIoErr);     // not whole ranges
  EXPECT_EQ(request(kWriteZeroes, 0, 0), kIoErr);  // no range at all
  // A valid range after a bad one: nothing of the request is carried out.
  drv_->poke(kBuffer, Range{0, 1, 0});
  drv_->poke(kBuffer + 16, Range{kSectors, 1, 0});
  EXPECT_EQ(request(kWriteZeroes, 0, 32), kIoErr);
  EXPECT_EQ(file_bytes(0, 2)[1], pattern(1));
  EXPECT_FALSE(drv_->needs_reset());
}

TEST_F(VirtioBlkTest, IndirectTableAndAnyLayout) {
  bring_up();
  EXPECT_EQ(request(kIn, 7, 512, /*indirect=*/true), kOk);
  EXPECT_EQ(drv_->peek<uint8_t>(kBuffer + 5), pattern(7 * 512 + 5));

  // Header and data in one readable buffer; data and status in one writable one.
  std::vector<uint8_t> out(16 + 512, 0x3c);
  Header write_header{kOut, 0, 2};
  std::memcpy(out.data(), &write_header, sizeof write_header);
  drv_->poke_bytes(kBuffer, out);
  drv_->set_desc(0, kBuffer, 16 + 512, kDescFlagNext, 1);
  drv_->set_desc(1, kStatus, 1, kDescFlagWrite);
  drv_->make_available(0);
  drv_->kick();
  EXPECT_EQ(drv_->peek<uint8_t>(kStatus), kOk);
  EXPECT_EQ(file_bytes(2 * 512, 512), std::vector<uint8_t>(512, 0x3c));

  drv_->poke(kHeader, Header{kIn, 0, 2});
  drv_->set_desc(0, kHeader, 16, kDescFlagNext, 1);
  drv_->set_desc(1, kBuffer, 513, kDescFlagWrite);
  drv_->make_available(0);
  drv_->kick();
  EXPECT_EQ(drv_->peek<uint8_t>(kBuffer + 512), kOk);
  EXPECT_EQ(drv_->peek_bytes(kBuffer, 512), std::vector<uint8_t>(512, 0x3c));
}

TEST_F(VirtioBlkTest, ProcessesEveryAvailableChainAndHonoursNoInterrupt) {
  bring_up();
  drv_->poke(kHeader, Header{kIn, 0, 1});
  drv_->poke(kHeader + 16, Header{kIn, 0, 2});
  drv_->set_desc(0, kHeader, 16, kDescFlagNext, 1);
  drv_->set_desc(1, kBuffer, 512, kDescFlagWrite | kDescFlagNext, 2);
  drv_->set_desc(2, kStatus, 1, kDescFlagWrite);
  drv_->set_desc(3, kHeader + 16, 16, kDescFlagNext, 4);
  drv_->set_desc(4, kBuffer + 512, 512, kDescFlagWrite | kDescFlagNext, 5);
  drv_->set_desc(5, kStatus + 1, 1, kDescFlagWrite);
  drv_->set_avail_flags(1);  // VIRTQ_AVAIL_F_NO_INTERRUPT
  drv_->make_available(0);
  drv_->make_available(3);
  drv_->kick();
  EXPECT_EQ(drv_->used_idx(), 2);
  EXPECT_EQ(drv_->used(0).id, 0u);
  EXPECT_EQ(drv_->used(1).id, 3u);
  EXPECT_EQ(drv_->peek<uint8_t>(kBuffer + 512), pattern(2 * 512));
  EXPECT_FALSE(irq_);
  drv_->set_avail_flags(0);
  drv_->make_available(0);
  drv_->kick();
  EXPECT_TRUE(irq_);
}

TEST_F(VirtioBlkTest, NotificationsBeforeDriverOkAreIgnored) {
  make_device();
  ASSERT_TRUE(drv_->negotiate(kDriverFeatures));
  drv_->setup_queue(16);
  drv_->poke(kHeader, Header{kIn, 0, 0});
  drv_->set_desc(0, kHeader, 16, kDescFlagNext, 1);
  drv_->set_desc(1, kStatus, 1, kDescFlagWrite);
  drv_->make_available(0);
  drv_->kick();
  EXPECT_EQ(drv_->used_idx(), 0);
  drv_->driver_ok();
  drv_->kick();
  EXPECT_EQ(drv_->used_idx(), 1);
}

TEST_F(VirtioBlkTest, ResetStopsQueuesAndClearsInterrupts) {
  bring_up();
  EXPECT_EQ(request(kIn, 0, 512), kOk);
  EXPECT_TRUE(irq_);
  drv_->wr(reg::kStatus, 0);
  EXPECT_FALSE(irq_);
  EXPECT_EQ(drv_->rd(reg::kStatus), 0u);
  EXPECT_EQ(drv_->rd(reg::kQueueReady), 0u);
  EXPECT_EQ(drv_->rd(reg::kInterruptStatus), 0u);
  drv_->init(kDriverFeatures, 64);
  EXPECT_EQ(request(kIn, 1, 512), kOk);
}

TEST_F(VirtioBlkTest, SaveLoadRoundTrip) {
  bring_up();
  EXPECT_EQ(request(kIn, 4, 512), kOk);
  drv_->wr(reg::kQueueSel, 0);
  StateWriter w;
  dev_->save(w);

  // A second device on the same guest RAM and disk picks up where the first stopped.
  auto backend = block::RawFile::open(path_, false);
  ASSERT_TRUE(backend.ok());
  bool irq2 = false;
  VirtioMmio copy(
      ram_, [&](bool level) { irq2 = level; },
      std::make_unique<VirtioBlk>(std::move(*backend), false, "vessel-disk-0"));
  StateReader r(w.data());
  Result<void> loaded = copy.load(r);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  EXPECT_TRUE(r.at_end());
  EXPECT_TRUE(irq2);
  for (uint64_t off :
       {reg::kStatus, reg::kInterruptStatus, reg::kQueueNum, reg::kQueueReady, reg::kQueueDescLow,
        reg::kQueueDriverLow, reg::kQueueDeviceLow, reg::kConfigGeneration, reg::kConfig}) {
    uint64_t a = 0, b = 0;
    ASSERT_TRUE(dev_->mmio_read(off, 4, a));
    ASSERT_TRUE(copy.mmio_read(off, 4, b));
    EXPECT_EQ(a, b) << std::hex << off;
  }
  dev_.reset();
  drv_.reset();
  Driver drv2(ram_, copy);
  drv2.adopt(128, 1);
  drv2.poke(kHeader, Header{kIn, 0, 5});
  drv2.set_desc(0, kHeader, 16, kDescFlagNext, 1);
  drv2.set_desc(1, kBuffer, 512, kDescFlagWrite | kDescFlagNext, 2);
  drv2.set_desc(2, kStatus, 1, kDescFlagWrite);
  drv2.make_available(0);
  drv2.kick();
  EXPECT_FALSE(drv2.needs_reset());
  EXPECT_EQ(drv2.used_idx(), 2);  // the ring continued where the first device stopped
  EXPECT_EQ(drv2.peek<uint8_t>(kBuffer + 1), pattern(5 * 512 + 1));
}

TEST_F(VirtioBlkTest, LoadRejectsADifferentDisk) {
  bring_up();
  StateWriter w;
  dev_->save(w);
  ASSERT_EQ(truncate(path_.c_str(), 32 * 512), 0);
  auto backend = block::RawFile::open(path_, false);
  ASSERT_TRUE(backend.ok());
  VirtioMmio copy(ram_, nullptr,
                  std::make_unique<VirtioBlk>(std::move(*backend), false, "vessel-disk-0"));
  StateReader r(w.data());
  EXPECT_FALSE(copy.load(r).ok());
}

}  // namespace
}  // namespace vessel::devices::virtio
