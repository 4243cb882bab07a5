// virtio-net in front of a fake backend, driven through the virtio-mmio
// transport as a guest driver would: feature offer, configuration space,
// transmit and receive (single and mergeable buffers), back-pressure,
// hostile descriptor chains, reset and save/restore.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "devices/virtio/net.h"
#include "devices/virtio/virtio_mmio.h"
#include "net/net_backend.h"
#include "net/nic_config.h"
#include "virtio_test_driver.h"

namespace vessel::devices::virtio {
namespace {

using testing::Driver;
using testing::kData;
using testing::kIndirectTable;
using testing::kRamBase;
using testing::kRamSize;
using testing::Virtqueue;
namespace reg = testing::reg;

// virtio 1.2 §5.1.3 feature bits.
constexpr uint64_t kCsum = 1ull << 0, kGuestCsum = 1ull << 1, kMtu = 1ull << 3, kMac = 1ull << 5,
                   kGuestTso4 = 1ull << 7, kGuestTso6 = 1ull << 8, kGuestEcn = 1ull << 9,
                   kHostTso4 = 1ull << 11, kHostTso6 = 1ull << 12, kHostEcn = 1ull << 13,
                   kMrgRxbuf = 1ull << 15, kStatus = 1ull << 16;
constexpr uint64_t kOffloads =
    kCsum | kGuestCsum | kGuestTso4 | kGuestTso6 | kGuestEcn | kHostTso4 | kHostTso6 | kHostEcn;
constexpr uint64_t kBaseFeatures =
    feature::kVersion1 | feature::kIndirectDesc | kMac | kStatus | kMtu | kMrgRxbuf;

// struct virtio_net_hdr (§5.1.6).
constexpr size_t kHdr = 12;
constexpr uint8_t kNeedsCsum = 1, kDataValid = 2;
constexpr uint8_t kGsoNone = 0, kGsoTcpv4 = 1, kGsoUdp = 3, kGsoTcpv6 = 4, kGsoEcn = 0x80;
constexpr size_t kMaxFrame = 1500 + 14 + 4;

// Guest-memory layout: queue 0 receives, queue 1 transmits.
constexpr uint64_t kTxData = kData;
constexpr uint64_t kTxStride = 0x1000;
constexpr uint64_t kRxData = kData + 0x100000;
constexpr uint64_t kRxStride = 0x1000;
constexpr uint64_t kBigData = kData + 0x400000;

// What the fake backend saw, kept apart from it so that a test can look at it
// after the device (which owns the backend) is gone.
struct BackendLog {
  net::FrameSink* sink = nullptr;
  std::vector<std::vector<uint8_t>> sent;
  std::atomic<int> resumes{0};
  std::vector<net::Offloads> offloads;
  int stops = 0;

  // For a test playing the backend's I/O thread.
  std::mutex mutex;
  std::condition_variable resumed;
};

class FakeBackend : public net::NetBackend {
 public:
  FakeBackend(std::shared_ptr<BackendLog> log, bool vnet) : log_(std::move(log)), vnet_(vnet) {}
  void start(net::FrameSink& sink) override { log_->sink = &sink; }
  void stop() override { ++log_->stops; }
  void send(std::span<const iovec> pieces) override {
    std::vector<uint8_t> frame;
    for (const iovec& p : pieces) {
      const auto* bytes = static_cast<const uint8_t*>(p.iov_base);
      frame.insert(frame.end(), bytes, bytes + p.iov_len);
    }
    log_->sent.push_back(std::move(frame));
  }
  void resume_receive() override {
    {
      std::lock_guard lock(log_->mutex);
      ++log_->resumes;
    }
    log_->resumed.notify_all();
  }
  bool has_vnet_header() const override { return vnet_; }
  void set_offloads(const net::Offloads& offloads) override { log_->offloads.push_back(offloads); }

 private:
  std::shared_ptr<BackendLog> log_;
  bool vnet_;
};

// An Ethernet frame of `len` bytes whose contents depend on `seed`.
std::vector<uint8_t> make_frame(size_t len, uint8_t seed = 0) {
  std::vector<uint8_t> f(len);
  for (size_t i = 0; i < len; ++i) f[i] = static_cast<uint8_t>(i * 7 + seed * 31 + (i >> 8));
  if (len >= 14) {
    const uint8_t head[14] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52,
                              0x55, 0x0a, 0x00, 0x02, 0x02, 0x08, 0x00};
    std::memcpy(f.data(), head, sizeof head);
  }
  return f;
}

std::vector<uint8_t> header(uint8_t flags = 0, uint8_t gso = kGsoNone, uint16_t gso_size = 0) {
  std::vector<uint8_t> h(kHdr, 0);
  h[0] = flags;
  h[1] = gso;
  std::memcpy(&h[4], &gso_size, 2);
  return h;
}

std::vector<uint8_t> concat(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  std::vector<uint8_t> out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

uint16_t num_buffers(const std::vector<uint8_t>& hdr) {
  uint16_t n;
  std::memcpy(&n, &hdr[10], 2);
  return n;
}

class VirtioNetTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(ram_.map_ram(kRamBase, kRamSize).ok()); }
  void TearDown() override {
    drv_.reset();
    dev_.reset();
  }

  void make_device(bool vnet = false, net::MacAddress mac = net::default_mac(0)) {
    log_ = std::make_shared<BackendLog>();
    dev_ = std::make_unique<VirtioMmio>(
        ram_, [this](bool level) { irq_ = level; },
        std::make_unique<VirtioNet>(std::make_unique<FakeBackend>(log_, vnet), mac));
    drv_ = std::make_unique<Driver>(ram_, *dev_);
    rx_posted_ = 0;
  }
  VirtioNet& net() { return static_cast<VirtioNet&>(dev_->device()); }

  // Negotiates `features`, sets up both queues and sets DRIVER_OK.
  void bring_up(uint64_t features = kBaseFeatures, uint16_t rx_size = 256, uint16_t tx_size = 256) {
    ASSERT_TRUE(drv_->negotiate(features));
    drv_->setup(VirtioNet::kRxQueue, rx_size);
    drv_->setup(VirtioNet::kTxQueue, tx_size);
    drv_->driver_ok();
    ASSERT_EQ(dev_->device_status() & status::kDriverOk, status::kDriverOk);
    rx_posted_ = 0;
  }
  void start(bool vnet = false, uint64_t features = kBaseFeatures, uint16_t rx_size = 256) {
    make_device(vnet);
    bring_up(features, rx_size);
  }

  Virtqueue& rxq() { return drv_->queue(VirtioNet::kRxQueue); }
  Virtqueue& txq() { return drv_->queue(VirtioNet::kTxQueue); }

  bool deliver(const std::vector<uint8_t>& frame) {
    EXPECT_NE(log_->sink, nullptr);
    return log_->sink->deliver(frame);
  }

  // One transmit chain holding `bytes` in a single descriptor.
  void transmit(const std::vector<uint8_t>& bytes) {
    uint16_t head = static_cast<uint16_t>(txq().avail_idx() % txq().size());
    drv_->poke_bytes(kTxData + kTxStride * head, bytes);
    txq().set_desc(head, kTxData + kTxStride * head, static_cast<uint32_t>(bytes.size()), 0);
    txq().make_available(head);
    txq().kick();
  }

  // `count` receive chains of one `len`-byte buffer each, in ring order.
  void post_rx(unsigned count, uint32_t len, bool kick = true) {
    for (unsigned i = 0; i < count; ++i) {
      auto slot = static_cast<uint16_t>(rx_posted_++ % rxq().size());
      rxq().set_desc(slot, rx_buffer(slot), len, kDescFlagWrite);
      rxq().make_available(slot);
    }
    if (kick) rxq().kick();
  }
  static uint64_t rx_buffer(uint16_t slot) { return kRxData + kRxStride * slot; }

  memory::AddressSpace ram_;
  std::atomic<bool> irq_{false};
  std::shared_ptr<BackendLog> log_;
  std::unique_ptr<VirtioMmio> dev_;
  std::unique_ptr<Driver> drv_;
  unsigned rx_posted_ = 0;
};

// --- Feature offer and configuration space ---------------------------------

TEST_F(VirtioNetTest, OffersNoOffloadsWithoutVnetHeader) {
  make_device(false);
  EXPECT_EQ(drv_->rd(reg::kDeviceId), 1u);
  uint64_t f = drv_->device_features();
  EXPECT_EQ(f & (kMac | kStatus | kMtu | kMrgRxbuf | feature::kVersion1),
            kMac | kStatus | kMtu | kMrgRxbuf | feature::kVersion1);
  EXPECT_EQ(f & kOffloads, 0u);
  EXPECT_EQ(f & feature::kEventIdx, 0u);
  // The driver cannot have what is not offered.
  EXPECT_FALSE(drv_->negotiate(kBaseFeatures | kCsum));
  EXPECT_TRUE(drv_->negotiate(kBaseFeatures));
}

TEST_F(VirtioNetTest, OffersOffloadsWithVnetHeader) {
  make_device(true);
  EXPECT_EQ(drv_->device_features() & kOffloads, kOffloads);
  // What the driver takes to receive is passed on to the backend.
  ASSERT_TRUE(drv_->negotiate(kBaseFeatures | kGuestCsum | kGuestTso4 | kHostTso4 | kCsum));
  // Nothing is enabled before DRIVER_OK (the reset that starts the
  // negotiation disables everything).
  for (const net::Offloads& o : log_->offloads) EXPECT_FALSE(o.csum || o.tso4 || o.tso6 || o.ecn);
  size_t before = log_->offloads.size();
  drv_->setup(0, 16);
  drv_->setup(1, 16);
  drv_->driver_ok();
  ASSERT_EQ(log_->offloads.size(), before + 1);
  EXPECT_TRUE(log_->offloads.back().csum);
  EXPECT_TRUE(log_->offloads.back().tso4);
  EXPECT_FALSE(log_->offloads.back().tso6);
  EXPECT_FALSE(log_->offloads.back().ecn);
  // A reset takes them back.
  drv_->wr(reg::kStatus, 0);
  ASSERT_EQ(log_->offloads.size(), before + 2);
  EXPECT_FALSE(log_->offloads.back().csum);
  EXPECT_FALSE(log_->offloads.back().tso4);
}

TEST_F(VirtioNetTest, TwoQueuesOfUpTo256Entries) {
  make_device();
  for (uint32_t q : {0u, 1u}) {
    drv_->wr(reg::kQueueSel, q);
    EXPECT_EQ(drv_->rd(reg::kQueueNumMax), VirtioNet::kQueueSize);
  }
  drv_->wr(reg::kQueueSel, 2);
  EXPECT_EQ(drv_->rd(reg::kQueueNumMax), 0u);
}

uint64_t config(VirtioMmio& dev, uint64_t offset, unsigned size) {
  uint64_t v = 0;
  EXPECT_TRUE(dev.mmio_read(reg::kConfig + offset, size, v));
  return v;
}

TEST_F(VirtioNetTest, ConfigSpaceWithDefaultMac) {
  make_device();
  const uint8_t expected[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  for (unsigned i = 0; i < 6; ++i) EXPECT_EQ(config(*dev_, i, 1), expected[i]) << i;
  EXPECT_EQ(config(*dev_, 0, 4), 0x12005452u);
  EXPECT_EQ(config(*dev_, 6, 2), 1u);  // VIRTIO_NET_S_LINK_UP
  EXPECT_EQ(config(*dev_, 8, 2), 1u);  // max_virtqueue_pairs
  EXPECT_EQ(config(*dev_, 10, 2), 1500u);
  // Past the end: zeros; writes are ignored.
  EXPECT_EQ(config(*dev_, 12, 4), 0u);
  EXPECT_TRUE(dev_->mmio_write(reg::kConfig, 4, 0xffffffff));
  EXPECT_EQ(config(*dev_, 0, 1), 0x52u);
}

TEST_F(VirtioNetTest, ConfigSpaceWithExplicitMac) {
  make_device(false, {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee});
  EXPECT_EQ(config(*dev_, 0, 4), 0xccbbaa02u);
  EXPECT_EQ(config(*dev_, 4, 2), 0xeeddu);
  EXPECT_EQ(config(*dev_, 10, 2), 1500u);
}

// --- Transmit ---------------------------------------------------------------

TEST_F(VirtioNetTest, TransmitStripsTheHeaderForABackendWithoutOne) {
  start(false);
  std::vector<uint8_t> frame = make_frame(60);
  transmit(concat(header(), frame));
  ASSERT_EQ(log_->sent.size(), 1u);
  EXPECT_EQ(log_->sent[0], frame);
  EXPECT_EQ(txq().used_idx(), 1);
  EXPECT_EQ(txq().used(0).id, 0u);
  EXPECT_EQ(txq().used(0).len, 0u);
  EXPECT_TRUE(irq_);
  EXPECT_EQ(net().tx_dropped(), 0u);
}

TEST_F(VirtioNetTest, TransmitPassesTheHeaderToABackendWithOne) {
  start(true, kBaseFeatures | kCsum);
  std::vector<uint8_t> bytes = concat(header(kNeedsCsum), make_frame(100));
  bytes[6] = 34;  // csum_start
  bytes[8] = 16;  // csum_offset
  transmit(bytes);
  ASSERT_EQ(log_->sent.size(), 1u);
  EXPECT_EQ(log_->sent[0], bytes);
}

TEST_F(VirtioNetTest, TransmitGathersAFrameSplitOverDescriptors) {
  start(false);
  std::vector<uint8_t> frame = make_frame(300, 3);
  std::vector<uint8_t> bytes = concat(header(), frame);
  // 5 header bytes | 7 header bytes and 20 of the frame | 0 bytes | the rest.
  drv_->poke_bytes(kTxData, std::vector<uint8_t>(bytes.begin(), bytes.begin() + 5));
  drv_->poke_bytes(kTxData + 0x100, std::vector<uint8_t>(bytes.begin() + 5, bytes.begin() + 32));
  drv_->poke_bytes(kTxData + 0x300, std::vector<uint8_t>(bytes.begin() + 32, bytes.end()));
  txq().set_desc(4, kTxData, 5, kDescFlagNext, 9);
  txq().set_desc(9, kTxData + 0x100, 27, kDescFlagNext, 2);
  txq().set_desc(2, kTxData + 0x200, 0, kDescFlagNext, 7);
  txq().set_desc(7, kTxData + 0x300, static_cast<uint32_t>(bytes.size() - 32), 0);
  txq().make_available(4);
  txq().kick();
  ASSERT_EQ(log_->sent.size(), 1u);
  EXPECT_EQ(log_->sent[0], frame);
  EXPECT_EQ(txq().used(0).id, 4u);
  EXPECT_FALSE(drv_->needs_reset());
}

TEST_F(VirtioNetTest, TransmitThroughAnIndirectTable) {
  start(false);
  std::vector<uint8_t> frame = make_frame(1514, 5);
  drv_->poke_bytes(kTxData, header());
  drv_->poke_bytes(kTxData + 0x100, std::vector<uint8_t>(frame.begin(), frame.begin() + 1000));
  drv_->poke_bytes(kTxData + 0x1000, std::vector<uint8_t>(frame.begin() + 1000, frame.end()));
  drv_->set_desc(kIndirectTable, 0, kTxData, kHdr, kDescFlagNext, 1);
  drv_->set_desc(kIndirectTable, 1, kTxData + 0x100, 1000, kDescFlagNext, 2);
  drv_->set_desc(kIndirectTable, 2, kTxData + 0x1000, 514, 0);
  txq().set_desc(0, kIndirectTable, 48, kDescFlagIndirect);
  txq().make_available(0);
  txq().kick();
  ASSERT_EQ(log_->sent.size(), 1u);
  EXPECT_EQ(log_->sent[0], frame);
  EXPECT_EQ(txq().used_idx(), 1);
}

TEST_F(VirtioNetTest, TransmitSendsEveryAvailableFrameInOrder) {
  start(false);
  for (uint8_t i = 0; i < 5; ++i) {
    std::vector<uint8_t> bytes = concat(header(), make_frame(64 + i, i));
    drv_->poke_bytes(kTxData + kTxStride * i, bytes);
    txq().set_desc(i, kTxData + kTxStride * i, static_cast<uint32_t>(bytes.size()), 0);
    txq().make_available(i);
  }
  txq().kick();
  ASSERT_EQ(log_->sent.size(), 5u);
  for (uint8_t i = 0; i < 5; ++i) EXPECT_EQ(log_->sent[i], make_frame(64 + i, i));
  EXPECT_EQ(txq().used_idx(), 5);
}

TEST_F(VirtioNetTest, TransmitDropsFramesOfTheWrongSize) {
  start(false);
  transmit(concat(header(), make_frame(kMaxFrame)));  // the largest: sent
  transmit(concat(header(), make_frame(14)));         // an Ethernet header alone: sent
  ASSERT_EQ(log_->sent.size(), 2u);
  EXPECT_EQ(net().tx_dropped(), 0u);

  transmit(concat(header(), make_frame(kMaxFrame + 1)));
  transmit(concat(header(), make_frame(13)));
  transmit(header());
  EXPECT_EQ(log_->sent.size(), 2u);
  EXPECT_EQ(net().tx_dropped(), 3u);
  // Dropped frames' buffers still go back to the driver, and the device
  // carries on.
  EXPECT_EQ(txq().used_idx(), 5);
  EXPECT_FALSE(drv_->needs_reset());
  transmit(concat(header(), make_frame(60)));
  EXPECT_EQ(log_->sent.size(), 3u);
}

TEST_F(VirtioNetTest, TransmitDropsOffloadsThatWereNotNegotiated) {
  start(false);
  std::vector<uint8_t> big = make_frame(3000);
  transmit(concat(header(0, kGsoTcpv4, 1448), big));
  transmit(concat(header(kNeedsCsum), make_frame(100)));
  EXPECT_TRUE(log_->sent.empty());
  EXPECT_EQ(net().tx_dropped(), 2u);
  EXPECT_EQ(txq().used_idx(), 2);
  EXPECT_FALSE(drv_->needs_reset());
}

TEST_F(VirtioNetTest, TransmitPassesSegmentationOffloadsThatWereNegotiated) {
  start(true, kBaseFeatures | kCsum | kHostTso4);
  // A 30000-byte TCP/IPv4 segment, over descriptors.
  std::vector<uint8_t> bytes = concat(header(kNeedsCsum, kGsoTcpv4, 1448), make_frame(30000));
  drv_->poke_bytes(kBigData, bytes);
  txq().set_desc(0, kBigData, kHdr, kDescFlagNext, 1);
  txq().set_desc(1, kBigData + kHdr, static_cast<uint32_t>(bytes.size() - kHdr), 0);
  txq().make_available(0);
  txq().kick();
  ASSERT_EQ(log_->sent.size(), 1u);
  EXPECT_EQ(log_->sent[0], bytes);
  // IPv6 segmentation, ECN and UDP fragmentation were not negotiated, and
  // a frame that is not segmented must still fit the MTU.
  transmit(concat(header(0, kGsoTcpv6, 1448), make_frame(3000)));
  transmit(concat(header(0, kGsoTcpv4 | kGsoEcn, 1448), make_frame(3000)));
  transmit(concat(header(0, kGsoUdp, 1448), make_frame(3000)));
  transmit(concat(header(), make_frame(kMaxFrame + 1)));
  EXPECT_EQ(log_->sent.size(), 1u);
  EXPECT_EQ(net().tx_dropped(), 4u);
  EXPECT_FALSE(drv_->needs_reset());
}

// --- Receive ----------------------------------------------------------------

TEST_F(VirtioNetTest, ReceiveIntoSingleBuffers) {
  start(false, kBaseFeatures & ~kMrgRxbuf);
  post_rx(2, kHdr + kMaxFrame);
  std::vector<uint8_t> frame = make_frame(60, 1);
  EXPECT_TRUE(deliver(frame));
  ASSERT_EQ(rxq().used_idx(), 1);
  EXPECT_EQ(rxq().used(0).id, 0u);
  EXPECT_EQ(rxq().used(0).len, kHdr + 60);
  std::vector<uint8_t> hdr = drv_->peek_bytes(rx_buffer(0), kHdr);
  EXPECT_EQ(num_buffers(hdr), 1);
  EXPECT_EQ(hdr[0], 0);
  EXPECT_EQ(hdr[1], kGsoNone);
  EXPECT_EQ(drv_->peek_bytes(rx_buffer(0) + kHdr, 60), frame);
  EXPECT_TRUE(irq_);

  std::vector<uint8_t> full = make_frame(kMaxFrame, 2);
  EXPECT_TRUE(deliver(full));
  ASSERT_EQ(rxq().used_idx(), 2);
  EXPECT_EQ(rxq().used(1).len, kHdr + kMaxFrame);
  EXPECT_EQ(drv_->peek_bytes(rx_buffer(1) + kHdr, kMaxFrame), full);
  EXPECT_EQ(net().rx_dropped(), 0u);
}

TEST_F(VirtioNetTest, ReceiveIntoASingleBufferOfSeveralDescriptors) {
  start(false, kBaseFeatures & ~kMrgRxbuf);
  // The header in one descriptor, the frame in two more.
  rxq().set_desc(0, rx_buffer(0), kHdr, kDescFlagWrite | kDescFlagNext, 1);
  rxq().set_desc(1, rx_buffer(1), 100, kDescFlagWrite | kDescFlagNext, 2);
  rxq().set_desc(2, rx_buffer(2), 2000, kDescFlagWrite);
  rxq().make_available(0);
  rxq().kick();
  std::vector<uint8_t> frame = make_frame(500, 4);
  EXPECT_TRUE(deliver(frame));
  ASSERT_EQ(rxq().used_idx(), 1);
  EXPECT_EQ(rxq().used(0).len, kHdr + 500);
  EXPECT_EQ(num_buffers(drv_->peek_bytes(rx_buffer(0), kHdr)), 1);
  EXPECT_EQ(concat(drv_->peek_bytes(rx_buffer(1), 100), drv_->peek_bytes(rx_buffer(2), 400)),
            frame);
}

TEST_F(VirtioNetTest, ReceiveDropsAFrameThatDoesNotFitASingleBuffer) {
  start(false, kBaseFeatures & ~kMrgRxbuf);
  post_rx(2, 100);
  EXPECT_TRUE(deliver(make_frame(200)));
  EXPECT_EQ(net().rx_dropped(), 1u);
  // The buffer goes back empty; the next one still takes a small frame.
  ASSERT_EQ(rxq().used_idx(), 1);
  EXPECT_EQ(rxq().used(0).len, 0u);
  std::vector<uint8_t> frame = make_frame(80);
  EXPECT_TRUE(deliver(frame));
  ASSERT_EQ(rxq().used_idx(), 2);
  EXPECT_EQ(rxq().used(1).len, kHdr + 80);
  EXPECT_EQ(drv_->peek_bytes(rx_buffer(1) + kHdr, 80), frame);
  EXPECT_FALSE(drv_->needs_reset());
}

TEST_F(VirtioNetTest, ReceiveDropsFramesLargerThanTheMtu) {
  start(false);
  post_rx(8, 2048);
  EXPECT_TRUE(deliver(make_frame(kMaxFrame + 1)));
  EXPECT_EQ(net().rx_dropped(), 1u);
  EXPECT_EQ(rxq().used_idx(), 0);
}

TEST_F(VirtioNetTest, ReceiveMergesBuffersAndPublishesThemAtOnce) {
  start(false);
  // Chains of 512 bytes, one of them over two descriptors.
  post_rx(1, 512, false);
  rxq().set_desc(1, rx_buffer(1), 100, kDescFlagWrite | kDescFlagNext, 9);
  rxq().set_desc(9, rx_buffer(9), 412, kDescFlagWrite);
  rxq().make_available(1);
  rx_posted_ = 2;
  post_rx(2, 512);
  std::vector<uint8_t> frame = make_frame(1200, 9);
  EXPECT_TRUE(deliver(frame));
  // 12 + 1200 bytes: three chains, published together.
  ASSERT_EQ(rxq().used_idx(), 3);
  EXPECT_EQ(rxq().used(0).id, 0u);
  EXPECT_EQ(rxq().used(0).len, 512u);
  EXPECT_EQ(rxq().used(1).id, 1u);
  EXPECT_EQ(rxq().used(1).len, 512u);
  EXPECT_EQ(rxq().used(2).id, 2u);
  EXPECT_EQ(rxq().used(2).len, 1212u - 1024u);
  std::vector<uint8_t> got = drv_->peek_bytes(rx_buffer(0), 512);
  EXPECT_EQ(num_buffers(got), 3);
  got.erase(got.begin(), got.begin() + kHdr);
  for (auto [addr, len] :
       {std::pair{rx_buffer(1), 100}, std::pair{rx_buffer(9), 412}, std::pair{rx_buffer(2), 188}}) {
    std::vector<uint8_t> part = drv_->peek_bytes(addr, len);
    got.insert(got.end(), part.begin(), part.end());
  }
  EXPECT_EQ(got, frame);
  // The next frame starts in the fourth chain, with one buffer.
  EXPECT_TRUE(deliver(make_frame(60)));
  ASSERT_EQ(rxq().used_idx(), 4);
  EXPECT_EQ(rxq().used(3).id, 3u);
  EXPECT_EQ(num_buffers(drv_->peek_bytes(rx_buffer(3), kHdr)), 1);
}

// Another thread watching the used index never sees part of a merged frame.
TEST_F(VirtioNetTest, MergedBuffersAppearAllAtOnceToAConcurrentReader) {
  start(false);
  constexpr unsigned kFrames = 80;
  post_rx(3 * kFrames, 512);
  auto* used_idx = reinterpret_cast<uint16_t*>(ram_.ram_ptr(rxq().used_idx_addr(), 2));
  std::atomic<bool> done{false};
  std::set<uint16_t> seen;
  std::thread watcher([&] {
    while (!done.load()) {
      seen.insert(std::atomic_ref<uint16_t>(*used_idx).load(std::memory_order_acquire));
    }
  });
  for (unsigned i = 0; i < kFrames; ++i) {
    EXPECT_TRUE(deliver(make_frame(1200, static_cast<uint8_t>(i))));
  }
  done = true;
  watcher.join();
  EXPECT_EQ(rxq().used_idx(), 3 * kFrames);
  for (uint16_t idx : seen) EXPECT_EQ(idx % 3, 0) << idx;
}

TEST_F(VirtioNetTest, MergedReceiveWaitsForEnoughBuffers) {
  start(false);
  post_rx(2, 512);
  std::vector<uint8_t> frame = make_frame(1200, 6);
  // Two chains are not enough: nothing is consumed and the backend is told
  // to wait.
  EXPECT_FALSE(deliver(frame));
  EXPECT_EQ(rxq().used_idx(), 0);
  EXPECT_EQ(log_->resumes, 0);
  post_rx(1, 512);
  EXPECT_EQ(log_->resumes, 1);
  EXPECT_TRUE(deliver(frame));
  ASSERT_EQ(rxq().used_idx(), 3);
  for (uint16_t i = 0; i < 3; ++i) EXPECT_EQ(rxq().used(i).id, i);
  EXPECT_EQ(num_buffers(drv_->peek_bytes(rx_buffer(0), kHdr)), 3);
  EXPECT_EQ(net().rx_dropped(), 0u);
}

// A frame larger than every buffer the ring can hold together could never be
// delivered: it is dropped rather than stalling the backend for good.
TEST_F(VirtioNetTest, MergedReceiveDropsAFrameTheWholeRingCannotHold) {
  start(false, kBaseFeatures, 4);
  post_rx(4, 64);
  EXPECT_TRUE(deliver(make_frame(1000)));
  EXPECT_EQ(net().rx_dropped(), 1u);
  EXPECT_EQ(rxq().used_idx(), 0);
  EXPECT_EQ(log_->resumes, 0);
  // The buffers are still there for frames that fit.
  std::vector<uint8_t> frame = make_frame(100, 2);
  EXPECT_TRUE(deliver(frame));
  ASSERT_EQ(rxq().used_idx(), 2);
  EXPECT_EQ(rxq().used(0).id, 0u);
  EXPECT_EQ(rxq().used(1).len, kHdr + 100 - 64);
  EXPECT_EQ(concat(drv_->peek_bytes(rx_buffer(0) + kHdr, 64 - kHdr),
                   drv_->peek_bytes(rx_buffer(1), kHdr + 100 - 64)),
            frame);
  // With part of the ring in use, a frame that would fit the whole ring
  // waits for buffers instead.
  std::vector<uint8_t> large = make_frame(200, 3);
  EXPECT_FALSE(deliver(large));
  EXPECT_EQ(net().rx_dropped(), 1u);
  post_rx(2, 64);
  EXPECT_EQ(log_->resumes, 1);
  EXPECT_TRUE(deliver(large));
  EXPECT_EQ(rxq().used_idx(), 6);
  EXPECT_FALSE(drv_->needs_reset());
}

TEST_F(VirtioNetTest, ReceiveBackPressure) {
  start(false);
  std::vector<uint8_t> frame = make_frame(60, 7);
  EXPECT_FALSE(deliver(frame));
  EXPECT_FALSE(deliver(frame));  // still nothing: the backend waits again
  EXPECT_EQ(net().rx_dropped(), 0u);
  EXPECT_EQ(log_->resumes, 0);
  // A notification with no new buffers does not wake a backend that is
  // not waiting; one after a refusal does, once.
  post_rx(1, 2048);
  EXPECT_EQ(log_->resumes, 1);
  rxq().kick();
  EXPECT_EQ(log_->resumes, 1);
  EXPECT_TRUE(deliver(frame));
  ASSERT_EQ(rxq().used_idx(), 1);
  EXPECT_EQ(drv_->peek_bytes(rx_buffer(0) + kHdr, 60), frame);
  // Transmit notifications do not resume the receiver.
  EXPECT_FALSE(deliver(frame));
  transmit(concat(header(), make_frame(60)));
  EXPECT_EQ(log_->resumes, 1);
  post_rx(1, 2048);
  EXPECT_EQ(log_->resumes, 2);
}

TEST_F(VirtioNetTest, ReceiveWithoutBuffersSingleMode) {
  start(false, kBaseFeatures & ~kMrgRxbuf);
  EXPECT_FALSE(deliver(make_frame(60)));
  post_rx(1, 2048);
  EXPECT_EQ(log_->resumes, 1);
  EXPECT_TRUE(deliver(make_frame(60)));
  EXPECT_EQ(rxq().used_idx(), 1);
}

TEST_F(VirtioNetTest, DeliveryBeforeDriverOkIsDropped) {
  make_device();
  EXPECT_TRUE(deliver(make_frame(60)));
  EXPECT_EQ(net().rx_dropped(), 1u);
  ASSERT_TRUE(drv_->negotiate(kBaseFeatures));
  drv_->setup(0, 16);
  drv_->setup(1, 16);
  EXPECT_TRUE(deliver(make_frame(60)));  // queues ready but no DRIVER_OK yet
  EXPECT_EQ(net().rx_dropped(), 2u);
  EXPECT_EQ(rxq().used_idx(), 0);
  EXPECT_EQ(log_->resumes, 0);
}

TEST_F(VirtioNetTest, DeliveryToAQueueThatIsNotReadyIsDropped) {
  make_device();
  ASSERT_TRUE(drv_->negotiate(kBaseFeatures));
  drv_->setup(1, 16);  // transmit only
  drv_->driver_ok();
  EXPECT_TRUE(deliver(make_frame(60)));
  EXPECT_EQ(net().rx_dropped(), 1u);
}

TEST_F(VirtioNetTest, ReceiveFromABackendWithAVnetHeader) {
  start(true, kBaseFeatures | kGuestCsum);
  post_rx(4, 2048);
  // The backend's header is kept (flags valid with GUEST_CSUM), but
  // num_buffers is the device's.
  std::vector<uint8_t> hdr = header(kDataValid);
  hdr[10] = 0x77;
  std::vector<uint8_t> frame = make_frame(200, 3);
  EXPECT_TRUE(deliver(concat(hdr, frame)));
  ASSERT_EQ(rxq().used_idx(), 1);
  EXPECT_EQ(rxq().used(0).len, kHdr + 200);
  std::vector<uint8_t> got = drv_->peek_bytes(rx_buffer(0), kHdr + 200);
  EXPECT_EQ(got[0], kDataValid);
  EXPECT_EQ(num_buffers(got), 1);
  EXPECT_EQ(std::vector<uint8_t>(got.begin() + kHdr, got.end()), frame);

  // Segmented frames the guest did not ask for, and frames shorter than the
  // header, are dropped.
  EXPECT_TRUE(deliver(concat(header(0, kGsoTcpv4, 1448), make_frame(3000))));
  EXPECT_TRUE(deliver(std::vector<uint8_t>(kHdr - 1, 0)));
  EXPECT_EQ(rxq().used_idx(), 1);
  EXPECT_EQ(net().rx_dropped(), 2u);
}

TEST_F(VirtioNetTest, ReceiveClearsChecksumFlagsTheGuestDidNotNegotiate) {
  start(true);
  post_rx(1, 2048);
  EXPECT_TRUE(deliver(concat(header(kDataValid), make_frame(60))));
  ASSERT_EQ(rxq().used_idx(), 1);
  EXPECT_EQ(drv_->peek<uint8_t>(rx_buffer(0)), 0);
}

TEST_F(VirtioNetTest, ReceiveSegmentedFramesTheGuestAskedFor) {
  start(true, kBaseFeatures | kGuestCsum | kGuestTso4);
  post_rx(32, 4096);
  std::vector<uint8_t> frame = make_frame(60000, 8);
  EXPECT_TRUE(deliver(concat(header(kNeedsCsum, kGsoTcpv4, 1448), frame)));
  uint16_t chains = static_cast<uint16_t>((kHdr + frame.size() + 4095) / 4096);
  ASSERT_EQ(rxq().used_idx(), chains);
  std::vector<uint8_t> first = drv_->peek_bytes(rx_buffer(0), kHdr);
  EXPECT_EQ(first[0], kNeedsCsum);
  EXPECT_EQ(first[1], kGsoTcpv4);
  EXPECT_EQ(num_buffers(first), chains);
  std::vector<uint8_t> got;
  for (uint16_t i = 0; i < chains; ++i) {
    std::vector<uint8_t> part = drv_->peek_bytes(rx_buffer(i), rxq().used(i).len);
    got.insert(got.end(), part.begin(), part.end());
  }
  EXPECT_EQ(std::vector<uint8_t>(got.begin() + kHdr, got.end()), frame);
  EXPECT_EQ(net().rx_dropped(), 0u);

  // Only TCP/IPv4 segmentation without ECN was negotiated, and a frame that
  // is not segmented must still fit the MTU.
  EXPECT_TRUE(deliver(concat(header(kNeedsCsum, kGsoTcpv6, 1448), make_frame(3000))));
  EXPECT_TRUE(deliver(concat(header(kNeedsCsum, kGsoTcpv4 | kGsoEcn, 1448), make_frame(3000))));
  EXPECT_TRUE(deliver(concat(header(kNeedsCsum, kGsoUdp, 1448), make_frame(3000))));
  EXPECT_TRUE(deliver(concat(header(), make_frame(kMaxFrame + 1))));
  EXPECT_EQ(net().rx_dropped(), 4u);
  EXPECT_EQ(rxq().used_idx(), chains);
}

// A backend thread delivering as the real ones do (a refused frame is
// offered again after resume_receive()) while the driver hands out buffers
// a few at a time: every frame arrives, in order, none is lost or doubled.
TEST_F(VirtioNetTest, BackPressureWithAConcurrentBackendThread) {
  start(false, kBaseFeatures, 16);
  constexpr unsigned kFrames = 300;
  std::atomic<bool> stop{false};
  std::thread backend([&] {
    for (unsigned i = 0; i < kFrames && !stop; ++i) {
      std::vector<uint8_t> frame = make_frame(60 + i % 700, static_cast<uint8_t>(i));
      for (;;) {
        int ticket = log_->resumes.load();
        if (log_->sink->deliver(frame)) break;
        std::unique_lock lock(log_->mutex);
        log_->resumed.wait_for(lock, std::chrono::milliseconds(100),
                               [&] { return log_->resumes.load() != ticket || stop; });
        if (stop) return;
      }
    }
  });
  auto* used_idx = reinterpret_cast<uint16_t*>(ram_.ram_ptr(rxq().used_idx_addr(), 2));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  unsigned received = 0;
  uint16_t consumed = 0;
  bool intact = true;
  while (intact && received < kFrames && std::chrono::steady_clock::now() < deadline) {
    // Keep at most 16 buffers out, adding 3 at a time.
    unsigned out = rx_posted_ - consumed;
    unsigned add = std::min(3u, 16 - out);
    if (add) post_rx(add, 2048);
    uint16_t now = std::atomic_ref<uint16_t>(*used_idx).load(std::memory_order_acquire);
    for (; intact && consumed != now; ++consumed) {
      Virtqueue::UsedElem e = rxq().used(consumed);
      std::vector<uint8_t> expected =
          make_frame(60 + received % 700, static_cast<uint8_t>(received));
      EXPECT_EQ(e.id, consumed % 16u);
      EXPECT_EQ(e.len, kHdr + expected.size());
      EXPECT_EQ(drv_->peek_bytes(rx_buffer(consumed % 16) + kHdr, expected.size()), expected)
          << "frame " << received;
      intact = e.id == consumed % 16u && e.len == kHdr + expected.size() && !HasFailure();
      ++received;
    }
    std::this_thread::yield();
  }
  stop = true;
  backend.join();
  EXPECT_EQ(received, kFrames);
  EXPECT_EQ(net().rx_dropped(), 0u);
  EXPECT_FALSE(drv_->needs_reset());
}

// --- Hostile descriptor chains: DEVICE_NEEDS_RESET, nothing else -----------

struct BadChain {
  const char* name;
  // Builds the chain at head 0 of `q` (data at kData + 0x8000).
  void (*build)(Driver& d, Virtqueue& q);
};

constexpr uint64_t kBad = kData + 0x8000;

const BadChain kBadTransmitChains[] = {
    {"zero-length buffer", [](Driver&, Virtqueue& q) { q.set_desc(0, kBad, 0, 0); }},
    {"shorter than the header", [](Driver&, Virtqueue& q) { q.set_desc(0, kBad, kHdr - 1, 0); }},
    {"device-writable buffer",
     [](Driver&, Virtqueue& q) { q.set_desc(0, kBad, 100, kDescFlagWrite); }},
    {"writable buffer after the frame",
     [](Driver&, Virtqueue& q) {
       q.set_desc(0, kBad, 100, kDescFlagNext, 1);
       q.set_desc(1, kBad + 100, 16, kDescFlagWrite);
     }},
    {"descriptor loop",
     [](Driver&, Virtqueue& q) {
       q.set_desc(0, kBad, 20, kDescFlagNext, 1);
       q.set_desc(1, kBad, 20, kDescFlagNext, 0);
     }},
    {"buffer outside RAM", [](Driver&, Virtqueue& q) { q.set_desc(0, 0x1000, 100, 0); }},
    {"buffer past the end of RAM",
     [](Driver&, Virtqueue& q) { q.set_desc(0, kRamBase + kRamSize - 50, 100, 0); }},
    {"indirect loop",
     [](Driver& d, Virtqueue& q) {
       d.set_desc(kIndirectTable, 0, kBad, 100, kDescFlagNext, 1);
       d.set_desc(kIndirectTable, 1, kBad, 100, kDescFlagNext, 0);
       q.set_desc(0, kIndirectTable, 32, kDescFlagIndirect);
     }},
};

const BadChain kBadReceiveChains[] = {
    {"zero-length buffer", [](Driver&, Virtqueue& q) { q.set_desc(0, kBad, 0, kDescFlagWrite); }},
    {"device-readable buffer", [](Driver&, Virtqueue& q) { q.set_desc(0, kBad, 2048, 0); }},
    {"readable buffer before writable ones",
     [](Driver&, Virtqueue& q) {
       q.set_desc(0, kBad, 16, kDescFlagNext, 1);
       q.set_desc(1, kBad + 16, 2048, kDescFlagWrite);
     }},
    {"descriptor loop",
     [](Driver&, Virtqueue& q) { q.set_desc(0, kBad, 2048, kDescFlagWrite | kDescFlagNext, 0); }},
    {"buffer outside RAM",
     [](Driver&, Virtqueue& q) { q.set_desc(0, 0x1000, 2048, kDescFlagWrite); }},
    {"buffer past the end of RAM",
     [](Driver&, Virtqueue& q) { q.set_desc(0, kRamBase + kRamSize - 8, 2048, kDescFlagWrite); }},
};

TEST_F(VirtioNetTest, MalformedTransmitChainsNeedAReset) {
  for (const BadChain& bad : kBadTransmitChains) {
    SCOPED_TRACE(bad.name);
    start(false);
    bad.build(*drv_, txq());
    txq().make_available(0);
    txq().kick();
    EXPECT_TRUE(drv_->needs_reset());
    EXPECT_EQ(drv_->rd(reg::kInterruptStatus) & 2, 2u);
    EXPECT_TRUE(log_->sent.empty());
    EXPECT_EQ(txq().used_idx(), 0);
    // Broken until reset: receive drops, transmit ignores notifications.
    post_rx(1, 2048);
    EXPECT_TRUE(deliver(make_frame(60)));
    EXPECT_EQ(rxq().used_idx(), 0);
    // A reset brings it back.
    bring_up();
    transmit(concat(header(), make_frame(60)));
    EXPECT_EQ(log_->sent.size(), 1u);
    EXPECT_FALSE(drv_->needs_reset());
  }
}

TEST_F(VirtioNetTest, MalformedReceiveChainsNeedAReset) {
  for (bool merged : {true, false}) {
    for (const BadChain& bad : kBadReceiveChains) {
      SCOPED_TRACE(std::string(bad.name) + (merged ? " (merged)" : " (single)"));
      start(false, merged ? kBaseFeatures : kBaseFeatures & ~kMrgRxbuf);
      bad.build(*drv_, rxq());
      rxq().make_available(0);
      rxq().kick();
      EXPECT_FALSE(drv_->needs_reset());  // the device looks only when a frame comes
      EXPECT_TRUE(deliver(make_frame(60)));
      EXPECT_TRUE(drv_->needs_reset());
      EXPECT_EQ(rxq().used_idx(), 0);
      EXPECT_EQ(net().rx_dropped(), 1u);
      EXPECT_TRUE(deliver(make_frame(60)));
      EXPECT_EQ(net().rx_dropped(), 2u);
      bring_up();
      post_rx(1, 2048);
      EXPECT_TRUE(deliver(make_frame(60)));
      EXPECT_EQ(rxq().used_idx(), 1);
      EXPECT_FALSE(drv_->needs_reset());
    }
  }
}

// A bad chain after good ones: the frame's earlier chains are not published.
TEST_F(VirtioNetTest, MalformedChainInsideAMergedFrame) {
  start(false);
  post_rx(1, 64, false);
  rxq().set_desc(1, kBad, 64, 0);  // device-readable
  rxq().make_available(1);
  rxq().kick();
  EXPECT_TRUE(deliver(make_frame(100)));
  EXPECT_TRUE(drv_->needs_reset());
  EXPECT_EQ(rxq().used_idx(), 0);
  EXPECT_EQ(net().rx_dropped(), 1u);
}

// --- Reset, save and restore ------------------------------------------------

TEST_F(VirtioNetTest, ResetResumesAWaitingBackendAndForgetsFeatures) {
  start(true, kBaseFeatures | kGuestCsum);
  EXPECT_FALSE(deliver(concat(header(), make_frame(60))));
  EXPECT_EQ(log_->resumes, 0);
  drv_->wr(reg::kStatus, 0);
  EXPECT_EQ(log_->resumes, 1);
  EXPECT_FALSE(log_->offloads.back().csum);
  // Reset, the device drops what comes.
  EXPECT_TRUE(deliver(concat(header(), make_frame(60))));
  EXPECT_EQ(net().rx_dropped(), 1u);
  // Brought up again without GUEST_CSUM, the backend's flags are cleared.
  bring_up(kBaseFeatures);
  post_rx(1, 2048);
  EXPECT_EQ(log_->resumes, 1);  // nobody was waiting
  EXPECT_TRUE(deliver(concat(header(kDataValid), make_frame(60))));
  ASSERT_EQ(rxq().used_idx(), 1);
  EXPECT_EQ(drv_->peek<uint8_t>(rx_buffer(0)), 0);
  // A second reset with no backend waiting resumes nothing.
  drv_->wr(reg::kStatus, 0);
  EXPECT_EQ(log_->resumes, 1);
}

TEST_F(VirtioNetTest, SaveLoadRoundTrip) {
  start(false, kBaseFeatures, 16);
  transmit(concat(header(), make_frame(60, 1)));
  post_rx(2, 2048);
  EXPECT_TRUE(deliver(make_frame(70, 2)));
  StateWriter w;
  dev_->save(w);

  auto log2 = std::make_shared<BackendLog>();
  auto copy = std::make_unique<VirtioMmio>(
      ram_, [this](bool level) { irq_ = level; },
      std::make_unique<VirtioNet>(std::make_unique<FakeBackend>(log2, false), net::default_mac(0)));
  StateReader r(w.data());
  Result<void> loaded = copy->load(r);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  EXPECT_TRUE(r.at_end());

  drv_.reset();
  dev_ = std::move(copy);
  log_ = log2;
  drv_ = std::make_unique<Driver>(ram_, *dev_);
  EXPECT_EQ(drv_->rd(reg::kStatus) & status::kDriverOk, status::kDriverOk);
  drv_->adopt(VirtioNet::kRxQueue, 16, 2);
  drv_->adopt(VirtioNet::kTxQueue, 256, 1);
  // Both queues go on where they were: the second receive buffer is next.
  std::vector<uint8_t> frame = make_frame(80, 3);
  EXPECT_TRUE(deliver(frame));
  ASSERT_EQ(rxq().used_idx(), 2);
  EXPECT_EQ(rxq().used(1).id, 1u);
  EXPECT_EQ(drv_->peek_bytes(rx_buffer(1) + kHdr, 80), frame);
  transmit(concat(header(), make_frame(90, 4)));
  ASSERT_EQ(log_->sent.size(), 1u);
  EXPECT_EQ(log_->sent[0], make_frame(90, 4));
  EXPECT_EQ(txq().used_idx(), 2);
}

TEST_F(VirtioNetTest, LoadRefusesAnotherMacAddress) {
  start();
  StateWriter w;
  dev_->save(w);
  auto log2 = std::make_shared<BackendLog>();
  VirtioMmio copy(
      ram_, nullptr,
      std::make_unique<VirtioNet>(std::make_unique<FakeBackend>(log2, false), net::default_mac(1)));
  StateReader r(w.data());
  Result<void> loaded = copy.load(r);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message().find("MAC"), std::string::npos) << loaded.error().message();
  EXPECT_EQ(copy.device_status(), 0u);
}

// Restoring a state over a device whose backend waits for buffers: the
// restored ring may hold buffers the guest will not announce again.
TEST_F(VirtioNetTest, LoadResumesAWaitingBackend) {
  start();
  StateWriter w;
  dev_->save(w);
  EXPECT_FALSE(deliver(make_frame(60)));
  post_rx(1, 2048, /*kick=*/false);  // as in the restored guest's memory
  StateReader r(w.data());
  ASSERT_TRUE(dev_->load(r).ok());
  EXPECT_EQ(log_->resumes, 1);
  std::vector<uint8_t> frame = make_frame(60, 5);
  EXPECT_TRUE(deliver(frame));
  ASSERT_EQ(rxq().used_idx(), 1);
  EXPECT_EQ(drv_->peek_bytes(rx_buffer(0) + kHdr, 60), frame);
}

TEST_F(VirtioNetTest, DestroyingTheTransportStopsTheBackend) {
  make_device();
  std::shared_ptr<BackendLog> log = log_;
  drv_.reset();
  dev_.reset();
  EXPECT_GE(log->stops, 1);
}

}  // namespace
}  // namespace vessel::devices::virtio
